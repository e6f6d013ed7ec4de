package dev.outrigger;

import java.time.Duration;

/**
 * A circuit breaker refused the call without sending it: the breaker for {@link #breaker()} is
 * open (or forced open, or its half-open probes are all taken). {@link #retryAfter()} says when
 * an open breaker will let a probe through; a half-open breaker cannot know (see there).
 */
public class CircuitOpenException extends ApiException {
  private static final long serialVersionUID = 1L;

  /** The key of the breaker that refused. */
  private final String breaker;
  /** How long until the breaker admits a probe. */
  private final Duration retryAfter;

  /**
   * Creates the exception for a call a breaker refused.
   *
   * @param message what was refused and why (method, redacted URL)
   * @param breaker the key of the breaker that refused
   * @param retryAfter how long until the breaker admits a probe; {@link Duration#ZERO} if now
   * @param attempts attempts sent to the network before this refusal
   */
  public CircuitOpenException(String message, String breaker, Duration retryAfter, int attempts) {
    super(message, null, attempts);
    this.breaker = breaker;
    this.retryAfter = retryAfter;
  }

  /** The key of the breaker that refused (by default the target host and port). */
  public String breaker() {
    return breaker;
  }

  /**
   * How long until the breaker admits a probe: for an OPEN breaker, the rest of its open wait.
   * {@link Duration#ZERO} when it may admit a call now, and also for a refusal by a HALF_OPEN
   * breaker whose probes are all out: they decide when they answer, which the breaker cannot
   * foresee (at once if they succeed and it closes; a new, perhaps longer, open wait after the
   * last answer if they fail), so zero is the only sound bound. Back off by your own delay then,
   * as {@link Retry#retryWhenCircuitOpen} does (it waits at least its backoff). A breaker forced
   * open by hand gives {@code Long.MAX_VALUE} nanoseconds: no probe until it is reset.
   */
  public Duration retryAfter() {
    return retryAfter;
  }
}
