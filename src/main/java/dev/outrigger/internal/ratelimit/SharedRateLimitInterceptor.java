package dev.outrigger.internal.ratelimit;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.RateLimitedException;
import dev.outrigger.internal.Closing;
import dev.outrigger.internal.Durations;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.deadline.DeadlineInterceptor;
import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;
import okhttp3.Response;

/**
 * The rate-limit step of the chain when the limit's buckets live in a {@link RateLimitStore}
 * (shared by every client of the store) rather than in this client's memory. Same position and
 * contract as {@link RateLimitInterceptor}: once per attempt, one permit from the key's bucket
 * (the host, or the limit's key function), the wait bounded by the call's deadline (refused at
 * once with {@link RateLimitedException} when it cannot fit), and a server's request to slow down
 * ({@code Retry-After} on a 429, a 503 or a 403, a used-up quota with its reset) pauses the key
 * in the store, for every client sharing it.
 *
 * <p>Thread-safe; one instance serves every call of a client.
 */
public final class SharedRateLimitInterceptor implements CallInterceptor {
  private final RateLimit limit;
  private final RateLimitStore store;
  private final NanoClock clock;
  private final LongSupplier wallMillis;

  public SharedRateLimitInterceptor(RateLimit limit, RateLimitStore store, NanoClock clock) {
    this(limit, store, clock, System::currentTimeMillis);
  }

  /** @param wallMillis epoch milliseconds, for HTTP-date {@code Retry-After} values */
  public SharedRateLimitInterceptor(
      RateLimit limit, RateLimitStore store, NanoClock clock, LongSupplier wallMillis) {
    this.limit = Objects.requireNonNull(limit, "limit");
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.wallMillis = Objects.requireNonNull(wallMillis, "wallMillis");
  }

  @Override
  public Response intercept(Chain chain) {
    RealCallContext ctx = (RealCallContext) chain.context();
    String key = keyOf(ctx);
    long left = ctx.deadline().remainingNanos();
    if (left <= 0) {
      // Nothing left to use a permit with: no question to the store (it would wait for Redis,
      // up to its timeout, to take a permit nobody can use).
      throw DeadlineInterceptor.exceeded(ctx, null, "before attempt " + ctx.attempt()
          + " (before asking the shared rate limit)");
    }
    CallListener listener = ctx.listener();
    long r;
    // When the wait began, and how long it had lasted when the call last booked: a pause told
    // while it waited can hold it, and it then books again (see below).
    long waitStart = 0;
    long before = 0;
    // Whether a wait began: one cut short by an interrupt (or close()), in a sleep or in a
    // question to the store after it, is a wait all the same, reported for as long as it lasted.
    boolean waiting = false;
    // The wait of the booking being slept for: given back to the store when cut short.
    long booked = 0;
    try {
      for (;;) {
        // As the local limit: a wait taking all the time left is refused at once, and so is one
        // longer than any rate-limit wait may be (30 days), whatever the deadline.
        r = store.reserve(key, limit, 1,
            Math.min(Math.max(0, left - 1), RealRateLimiter.MAX_WAIT_NANOS));
        long leftNow = r != 0 ? ctx.deadline().remainingNanos() : left;
        if (r < 0) {
          // A refusal says what was left after the round trip, as the store measured it.
          left = leftNow;
        } else if (r > leftNow) {
          // The store's round trip ate the time the wait needed: the permit goes back to the
          // store if it can take it, and the refusal says what was left after the round trip,
          // which the wait did not fit.
          store.giveBack(key, limit, 1, r);
          left = leftNow;
          r = -r;
        } else if (r > 0) {
          // Only the sleeps: a store's own I/O is never interrupted by close().
          long sleep = clock.nanoTime();
          if (!waiting) {
            waitStart = sleep;
            waiting = true;
          }
          booked = r;
          Closing.sleep(ctx, clock, r, "a shared rate-limit permit");
          booked = 0;
          long woke = clock.nanoTime();
          // Another client of the store may have paused the key meanwhile: one round trip,
          // paid only by a call that waited. Held, it waits until the pause ends, then books
          // again, in line (as a waiter of the local limit does).
          long hold = store.heldFor(key, limit, Math.max(0, woke - sleep - r),
              ctx.deadline().remainingNanos());
          if (hold >= 0) {
            left = ctx.deadline().remainingNanos();
            if (hold >= left) {
              // Pushed past the deadline: refused, having waited.
              before = Math.max(1, clock.nanoTime() - waitStart);
              r = -hold;
              break;
            }
            Closing.sleep(ctx, clock, hold, "a shared rate-limit permit");
            left = ctx.deadline().remainingNanos();
            before = Math.max(1, clock.nanoTime() - waitStart);
            continue;
          }
        }
        break;
      }
    } catch (RateLimitedException e) {
      if (before > 0) {
        Duration waited = Duration.ofNanos(before);
        RateLimitInterceptor.safely(() -> listener.rateLimitWaited(ctx, key, waited));
      }
      // The store refuses (fail-fast).
      RateLimitInterceptor.safely(() -> listener.rateLimitRejected(ctx, key, e.wouldWait()));
      throw e;
    } catch (InterruptedException e) {
      if (booked > 0) {
        // Cut short in its sleep, the call will not use the permit (the store does not block).
        store.giveBack(key, limit, 1, booked);
      }
      if (waiting) {
        waited(ctx, key, waitStart);
      }
      throw Failures.cancelled(ctx, e);
    }
    if (r < 0) {
      if (before > 0) {
        // Booked again after a pause held it, and refused: a wait all the same, then the
        // refusal, which counts the whole wait against the time there was for it.
        Duration waited = Duration.ofNanos(before);
        RateLimitInterceptor.safely(() -> listener.rateLimitWaited(ctx, key, waited));
        r = r == RateLimitStore.NEVER ? r : r - before;
        left += before;
      }
      Duration wouldWait = r == RateLimitStore.NEVER ? null : Duration.ofNanos(-r);
      RateLimitInterceptor.safely(() -> listener.rateLimitRejected(ctx, key, wouldWait));
      // Refused for the cap on every wait (a wait that fits in the time left, just read again,
      // as the store measured it after its round trip), or for the deadline.
      String why = r != RateLimitStore.NEVER && -r < left
          ? "be longer than the longest wait a rate limit allows (30 days)"
          : "not fit in the " + Durations.text(Math.max(0, left)) + " left before the deadline";
      throw new RateLimitedException(ctx.describe() + " was refused by the shared rate limit "
          + limit + " of " + keyName(key) + ": the wait for a permit ("
          + (wouldWait == null ? "no wait would do" : Durations.text(-r)) + ") would " + why,
          wouldWait, ctx.attemptsSent());
    }
    if (r + before > 0) {
      Duration waited = Duration.ofNanos(r + before);
      RateLimitInterceptor.safely(() -> listener.rateLimitWaited(ctx, key, waited));
    }
    Response response = chain.proceed(chain.request());
    try {
      pauseIfAsked(ctx, key, response);
    } catch (RuntimeException | Error e) {
      // Nothing after this step would close it.
      response.close();
      throw e;
    }
    return response;
  }

  /** Reports a wait cut short by an interrupt (or close()), as long as it lasted. */
  private void waited(RealCallContext ctx, String key, long waitStart) {
    Duration waited = Duration.ofNanos(Math.max(0, clock.nanoTime() - waitStart));
    RateLimitInterceptor.safely(() -> ctx.listener().rateLimitWaited(ctx, key, waited));
  }

  private void pauseIfAsked(CallContext ctx, String key, Response response) {
    Duration pause = RateLimitInterceptor.serverPause(limit, response, wallMillis);
    if (pause == null) {
      return;
    }
    // A store asking its backend waits no longer than the call has left.
    if (store.pause(key, limit, pause.toNanos(), ctx.deadline().remainingNanos()) > 0) {
      RateLimitInterceptor.safely(
          () -> ((RealCallContext) ctx).listener().rateLimitPaused(ctx, key, pause));
    }
  }

  private String keyOf(CallContext ctx) {
    return RateLimitInterceptor.keyOf(limit, ctx);
  }

  private String keyName(String key) {
    return RateLimitInterceptor.keyName(limit, key);
  }

  @Override
  public String toString() {
    return "RateLimiter[" + limit + ", keyed by "
        + (limit.keyedBy() == null ? "host" : "function") + ", shared through " + store + "]";
  }
}
