package dev.outrigger.internal.ratelimit;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.RateLimiter;
import dev.outrigger.TransportException;
import dev.outrigger.internal.Durations;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.KeepsClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.RetryAfter;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.function.Function;
import java.util.function.LongSupplier;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rate-limit step of the chain, run once per attempt (it sits inside the retry policy and
 * the circuit breaker): every attempt that goes on to the network takes one permit from its
 * key's bucket, retries included, and an attempt the breaker refuses takes none.
 *
 * <p>The wait for a permit counts against the call's deadline: when it cannot fit in what is
 * left, the attempt fails at once with {@link RateLimitedException} (saying how long the wait
 * would have been), consuming nothing. After the attempt, the response's rate-limit headers
 * ({@code Retry-After} on a 429, a 503 or a 403, as GitHub's secondary rate limits send it;
 * {@code RateLimit-Remaining: 0} or
 * {@code X-RateLimit-Remaining: 0} with a reset) pause the key's bucket until the server's time,
 * cut to {@link RateLimit#maxPause()}, so the whole client stops sending to it.
 *
 * <p>Thread-safe; one instance serves every call of a client. {@link #limiter()} is the live
 * limiter, for reconfiguring it at run time.
 */
public final class RateLimitInterceptor implements CallInterceptor, KeepsClock {
  private static final Logger log = LoggerFactory.getLogger(RateLimitInterceptor.class);

  private final RealRateLimiter engine;
  private final NanoClock clock;
  private final LongSupplier wallMillis;
  private final RateLimiter limiter;
  private final CubicRate cubic;

  public RateLimitInterceptor(RateLimit limit, NanoClock clock) {
    this(limit, clock, System::currentTimeMillis);
  }

  /**
   * @param wallMillis wall-clock epoch milliseconds, for {@code Retry-After} HTTP-dates and
   *     epoch-second reset headers
   */
  public RateLimitInterceptor(RateLimit limit, NanoClock clock, LongSupplier wallMillis) {
    this.engine = new RealRateLimiter(limit, clock.nanoTime());
    this.clock = clock;
    this.wallMillis = wallMillis;
    this.limiter = RateLimiterAccess.wrap(engine, clock);
    // The key bound as it is now: reconfigure(limit) may change it.
    this.cubic = limit.isAdaptive() ? new CubicRate(() -> engine.limit().maxKeys(),
        key -> engine.ceiling(key).permitsPerSecond()) : null;
  }

  /**
   * The live limiter behind this interceptor: reconfigure it ({@link RateLimiter#reconfigure})
   * while the client runs, pause a key, or look at a key's permits.
   */
  public RateLimiter limiter() {
    return limiter;
  }

  /** The engine behind {@link #limiter()}, for tests. */
  RealRateLimiter engine() {
    return engine;
  }

  @Override
  public Response intercept(Chain chain) {
    CallContext ctx = chain.context();
    RateLimit limit = engine.limit();
    String key = keyOf(limit, ctx);
    long now = RealCallContext.recentNanos(ctx, clock);
    long left = RealCallContext.remainingNanos(ctx, clock, now);
    long r;
    CallListener listener = listenerOf(ctx);
    try {
      // A wait that would take all the time left ends in the deadline's failure after it:
      // refused at once instead, as a backoff that does not fit is (hence left - 1).
      r = engine.acquire(key, 1, Math.max(0, left - 1), clock, now, ctx);
    } catch (InterruptedException e) {
      // A wait cut short (the caller's interrupt, or close()) is a wait all the same.
      RealCallContext.staleClock(ctx);
      Duration waited = Duration.ofNanos(Math.max(0, clock.nanoTime() - now));
      safely(() -> listener.rateLimitWaited(ctx, key, waited));
      throw cancelled(ctx, e);
    } catch (RealRateLimiter.PushedPastLimit e) {
      // A server pause pushed the wait past the deadline after it began: the time already
      // waited is a wait all the same, then the refusal.
      RealCallContext.staleClock(ctx);
      Duration waited = Duration.ofNanos(e.waitedNanos);
      safely(() -> listener.rateLimitWaited(ctx, key, waited));
      r = -e.wouldWaitNanos;
    }
    if (!RealRateLimiter.acquired(r)) {
      Duration wouldWait = RealRateLimiter.never(r) ? null : Duration.ofNanos(-r);
      safely(() -> listener.rateLimitRejected(ctx, key, wouldWait));
      // A wait that fits in the deadline was refused for the cap on every wait.
      String why = -r < left ? "be longer than the longest wait a rate limit allows (30 days)"
          : "not fit in the " + Durations.text(Math.max(0, left)) + " left before the deadline";
      throw new RateLimitedException(describe(ctx) + " was refused by the rate limit "
          + limitOf(key) + " of " + keyName(limit, key) + ": the wait for a permit ("
          + Durations.text(-r) + ") would " + why, wouldWait, ctx.attemptsSent());
    }
    if (r > 0) {
      RealCallContext.staleClock(ctx);
      Duration waited = Duration.ofNanos(r);
      safely(() -> listener.rateLimitWaited(ctx, key, waited));
    }
    Response response = chain.proceed(chain.request());
    try {
      listenToServer(ctx, key, limit, response, listener);
      if (cubic != null) {
        adapt(ctx, key, limit, response, listener);
      }
    } catch (RuntimeException | Error e) {
      // Nothing after this step would close it.
      response.close();
      throw e;
    }
    return response;
  }

  /**
   * Moves the key's rate down on a throttling answer (a 429, a 503, or a 403 with
   * {@code Retry-After}) and back up, CUBIC-like, otherwise, under the key's ceiling: the
   * limiter's limit or an operator's override of the key, as they are now.
   */
  private void adapt(
      CallContext ctx, String key, RateLimit limit, Response response, CallListener listener) {
    int code = response.code();
    boolean throttling = Failures.asksToSlowDown(response);
    if (!throttling && (code >= 500 || !cubic.adapting(key))) {
      // Nothing to move: not a throttle, and the key is not adapting (or the answer says
      // nothing of the rate).
      return;
    }
    long now = clock.nanoTime();
    double ceiling = engine.ceiling(key).permitsPerSecond();
    // A key that went quiet while recovering and leaves a full table to make room follows its
    // ceiling again. Not reported: a listener's report names this call, not that key's.
    double moved = throttling ? cubic.throttled(key, now, ceiling, k -> follow(k, now))
        : cubic.accepted(key, now, ceiling);
    if (Double.isNaN(moved)) {
      return;
    }
    double r = follow(key, now);
    // What the key follows now: its adapted rate, capped by its ceiling as it is now.
    double ceilingNow = engine.ceiling(key).permitsPerSecond();
    double rate = Double.isNaN(r) ? ceilingNow : Math.min(r, ceilingNow);
    if (log.isDebugEnabled()) {
      log.debug("{}: adaptive rate of {} now {}/s (ceiling {}/s)", describe(ctx),
          keyName(limit, key), String.format(java.util.Locale.ROOT, "%.2f", rate), ceiling);
    }
    safely(() -> listener.rateLimitAdapted(ctx, key, rate));
  }

  /**
   * Gives {@code key}'s bucket the rate its adaptation is at now, and returns it (NaN: not
   * adapting, so the key follows its ceiling, whatever it is now).
   */
  private double follow(String key, long now) {
    // Another answer may move the rate between our reading and our write: write what the
    // state says until it holds still, so the last write is always the latest state's.
    for (;;) {
      double r = cubic.rate(key);
      engine.adapt(key, r, now);
      if (Double.compare(cubic.rate(key), r) == 0) {
        return r;
      }
    }
  }

  /** Pauses the key when the response asks to slow down. */
  private void listenToServer(
      CallContext ctx, String key, RateLimit limit, Response response, CallListener listener) {
    Duration pause = serverPause(limit, response, wallMillis);
    if (pause == null) {
      return;
    }
    long grew = engine.pause(key, clock.nanoTime(), pause.toNanos());
    if (grew > 0) {
      if (log.isDebugEnabled()) {
        log.debug("{} asked to slow down: no requests to {} for {}",
            describe(ctx), keyName(limit, key), pause);
      }
      safely(() -> listener.rateLimitPaused(ctx, key, pause));
    }
  }

  /**
   * How long the response asks the key to pause ({@code Retry-After} on 429/503/403, or a
   * used-up quota's reset, whichever is later), cut to {@code limit.maxPause()}; null when it asks
   * nothing or pauses are off. Shared with {@link SharedRateLimitInterceptor}.
   */
  static Duration serverPause(RateLimit limit, Response response, LongSupplier wallMillis) {
    Duration max = limit.maxPause();
    if (max.isZero()) {
      return null;
    }
    Duration ask = null;
    int code = response.code();
    // GitHub's secondary rate limits answer 403 with Retry-After and ask for nothing before it;
    // a 403 without it reads null here, a refusal that pauses nothing.
    if (code == 429 || code == 503 || code == 403) {
      ask = RetryAfter.retryAfter(response, wallMillis);
    }
    Duration reset = RetryAfter.quotaReset(response, wallMillis);
    if (reset != null && (ask == null || reset.compareTo(ask) > 0)) {
      ask = reset;
    }
    if (ask == null || ask.isNegative() || ask.isZero()) {
      return null;
    }
    return ask.compareTo(max) > 0 ? max : ask;
  }

  /** The key of {@code ctx}: the user's key function's, else (and if it says null) the host. */
  static String keyOf(RateLimit limit, CallContext ctx) {
    Function<CallContext, String> f = limit.keyedBy();
    if (f == null) {
      return ctx.host();
    }
    String k = f.apply(ctx);
    // The user's key function may have taken any time (see KeepsClock).
    RealCallContext.staleClock(ctx);
    return k == null ? ctx.host() : k;
  }

  private RateLimit limitOf(String key) {
    return engine.limit(key);
  }

  /** A custom key may be a secret (an API token): only the default host key is named. */
  static String keyName(RateLimit limit, String key) {
    return limit.keyedBy() == null ? key : "its key";
  }

  private static CallListener listenerOf(CallContext ctx) {
    return ctx instanceof RealCallContext rc ? rc.listener() : CallListener.NONE;
  }

  private static String describe(CallContext ctx) {
    return ctx instanceof RealCallContext rc ? rc.describe() : ctx.method() + " " + ctx.host();
  }

  private static TransportException cancelled(CallContext ctx, InterruptedException e) {
    if (ctx instanceof RealCallContext rc) {
      return Failures.cancelled(rc, e);
    }
    Thread.currentThread().interrupt();
    InterruptedIOException cause = new InterruptedIOException("interrupted");
    cause.initCause(e);
    return new TransportException(describe(ctx) + " was interrupted", cause,
        ctx.attemptsSent(), TransportException.Kind.CANCELLED);
  }

  /**
   * Tells a listener something, logging what it throws (a listener must not break the call);
   * the shared step's as well.
   */
  static void safely(Runnable notification) {
    try {
      notification.run();
    } catch (RuntimeException e) {
      log.warn("CallListener threw; ignored", e);
    }
  }

  @Override
  public String toString() {
    RateLimit limit = engine.limit();
    return "RateLimiter[" + limit + ", keyed by " + (limit.keyedBy() == null ? "host" : "function")
        + ", at most " + limit.maxKeys() + " keys, server pauses up to " + limit.maxPause() + "]";
  }
}
