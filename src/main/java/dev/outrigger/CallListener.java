package dev.outrigger;

import java.time.Duration;

/**
 * Observes what the client does: calls, attempts, retries, rate-limit waits and breaker
 * transitions. Every method has an empty default, so implement only what you need. Methods are
 * called on the calling thread, outside any lock, and must be fast and must not throw (an
 * exception, or an {@link Error} such as an {@code AssertionError}, is logged and ignored, and
 * the other listeners still hear the event; of one listener's throws, the first is logged with
 * its stack trace, then at most one a minute, with how many went unlogged in between; a
 * {@link VirtualMachineError}, out of memory or a stack overflow, is thrown on to the caller).
 * An instance added to a client more than once (a derived client keeps its parent's listeners)
 * hears each event once. {@link #NONE} does nothing.
 */
public interface CallListener {

  /** Does nothing. */
  CallListener NONE = new CallListener() {};

  /**
   * A logical call is starting, before any policy runs and before its first attempt.
   *
   * @param call the call; {@link CallContext#attempt()} is 0
   */
  default void callStart(CallContext call) {}

  /**
   * The logical call ended.
   *
   * @param call the call; {@link CallContext#attemptsSent()} says how many attempts were sent
   * @param status the status of the answer the call ended with: the 2xx it returned (also when
   *     its body then failed to decode), the status its {@link HttpStatusException} names (after
   *     retries, the last attempt's), or that of a body refused as too large; -1 when it ended
   *     without an answer: a refused connect or another {@link TransportException}, an open
   *     breaker, a rate-limit refusal, a deadline that ran out (even after an earlier attempt's
   *     status, which is then in the exception's cause)
   * @param error null on success, otherwise what the caller receives
   * @param elapsed from the call's start to its end, waits and retries included
   */
  default void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {}

  /**
   * An attempt is about to be sent.
   *
   * @param call the call; {@link CallContext#attempt()} says which attempt, from 1
   */
  default void attemptStart(CallContext call) {}

  /**
   * An attempt ended.
   *
   * @param call the call; {@link CallContext#attempt()} says which attempt
   * @param status the HTTP status, or -1 when the attempt failed without one (a response whose
   *     body was refused as too large reports its status, with its
   *     {@code DeserializationException})
   * @param error null when a response arrived
   * @param elapsed from when the attempt went out, after the listeners' {@code attemptStart}, to
   *     its end (null when the client has no listener of its own)
   */
  default void attemptEnd(CallContext call, int status, Throwable error, Duration elapsed) {}

  /**
   * The retry policy will sleep {@code delay} and try again, because of {@code reason}.
   *
   * @param call the call; {@link CallContext#attempt()} is the attempt that failed
   * @param delay the wait before the next attempt: the backoff, or the server's
   *     {@code Retry-After}, or an open breaker's {@code retryAfter}
   * @param reason what failed, for logs: {@code "HTTP 503"}, {@code "HTTP 503, Retry-After 2s"},
   *     {@code "connect failure"}, {@code "circuit open (api.example.com:443)"}, or the
   *     exception's simple class name
   */
  default void retryScheduled(CallContext call, Duration delay, String reason) {}

  /**
   * The retry budget refused a retry for the call's host.
   *
   * @param call the call; it ends with its last failure
   */
  default void retryBudgetExhausted(CallContext call) {}

  /**
   * A rate limit made the call wait {@code waited} for a permit.
   *
   * @param call the call
   * @param key the key whose bucket gave the permit: the call's {@code host:port}, or what the
   *     limit's {@link RateLimit#keyedBy key function} returned
   * @param waited how long the attempt waited for it
   */
  default void rateLimitWaited(CallContext call, String key, Duration waited) {}

  /**
   * A rate limit refused the call: the wait ({@code wouldWait}) could not fit, or no wait could
   * ever do ({@code wouldWait} null: more permits than the burst). The client-side throttle's
   * refusals come here too, with the host as {@code key} and {@code wouldWait} null.
   *
   * @param call the call; it fails with {@link RateLimitedException}
   * @param key the key whose bucket refused, as for {@link #rateLimitWaited}
   * @param wouldWait how long the wait would have been; null when no wait would do (more
   *     permits than the burst, the throttle, a shared store that could not answer in time or
   *     fails fast)
   */
  default void rateLimitRejected(CallContext call, String key, Duration wouldWait) {}

  /**
   * A circuit breaker refused the call.
   *
   * @param call the call; it fails with {@link CircuitOpenException}, nothing sent
   * @param key the refusing breaker's key (by default the call's {@code host:port})
   */
  default void breakerRejected(CallContext call, String key) {}

  /**
   * The breaker for {@code key} moved from one state to another. A breaker's transitions arrive
   * one at a time, in the order they happened: one made while an earlier one is still being
   * reported is reported by the thread reporting that one, right after it. A move to CLOSED is
   * not always a recovery: an open or half-open breaker is also closed when the client's table
   * of breakers drops it, and one open, half-open, forced open or disabled when the client is
   * closed (the INFO log line gives the reason).
   *
   * @param key the breaker's key (by default a {@code host:port})
   * @param from the state it left
   * @param to the state it is in now
   */
  default void breakerTransition(String key, CircuitBreaker.State from, CircuitBreaker.State to) {}

  /**
   * The call waited {@code waited} for an in-flight slot to its host.
   *
   * @param call the call; its host is {@link CallContext#host()}
   * @param waited how long the attempt waited for the slot
   */
  default void inFlightWaited(CallContext call, Duration waited) {}

  /**
   * The adaptive in-flight limit for {@code host} moved from {@code from} to {@code to} (see
   * {@link AdaptiveLimit}). Called on the thread whose attempt caused the change. When the
   * client drops the state of a host idle the longest (beyond 64 idle hosts), its limit is the
   * initial one again: that is reported too, {@code to} being the initial limit, on the thread
   * whose call dropped it. One host's changes arrive one at a time, in order, each {@code from}
   * the last report's {@code to}: one made while an earlier one is still being reported is
   * reported by the thread reporting that one, right after it (several made meanwhile arrive as
   * one), so the last report carries the host's limit in place, with one exception: a thread
   * makes at most four reports in a row, and a change it leaves is reported at the end of the
   * host's next attempt, or, if none comes, when the host's state is dropped; until then the
   * last report shows the limit before that change.
   *
   * @param host the host, as {@code host:port}
   * @param from the limit before, in attempts in flight
   * @param to the limit now
   */
  default void adaptiveLimitChanged(String host, int from, int to) {}

  /**
   * The client-side throttle for {@code host} now rejects attempts with {@code probability}
   * (0 to 1), computed from the {@code requests} and {@code accepts} of its window. Called when
   * the probability moves by at least 0.01, or to or from 0.
   *
   * @param host the host, as {@code host:port}
   * @param probability the chance, from 0 to 1, that its next attempt is refused locally
   * @param requests the attempts to it in the window, refused ones included
   * @param accepts those of them it did not reject (no 429, no 503, no 403 with
   *     {@code Retry-After}, no transport failure)
   */
  default void throttleProbability(String host, double probability, long requests, long accepts) {}

  /**
   * The server asked to slow down ({@code Retry-After} on a 429, a 503 or a 403, or a
   * rate-limit quota used up until its reset) in its response to {@code call}: the rate limit
   * grants nothing to {@code key} for {@code pause} (already cut to
   * {@link RateLimit#maxPause()}).
   *
   * @param call the call whose answer asked for it
   * @param key the paused key, as for {@link #rateLimitWaited}
   * @param pause how long the key gets no permit
   */
  default void rateLimitPaused(CallContext call, String key, Duration pause) {}

  /**
   * An adaptive rate limit ({@link RateLimit#adaptive()}) moved {@code key}'s rate to
   * {@code permitsPerSecond}: down after a throttling answer to {@code call}, or back up.
   *
   * @param call the call whose answer moved it
   * @param key the key, as for {@link #rateLimitWaited}
   * @param permitsPerSecond the key's rate now
   */
  default void rateLimitAdapted(CallContext call, String key, double permitsPerSecond) {}
}
