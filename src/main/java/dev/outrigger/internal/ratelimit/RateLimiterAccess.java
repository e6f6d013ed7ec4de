package dev.outrigger.internal.ratelimit;

import dev.outrigger.RateLimiter;
import dev.outrigger.internal.NanoClock;
import java.util.function.LongSupplier;

/**
 * Lets the internals build a {@link RateLimiter} around an engine they own (the client's, so
 * that users can reconfigure it at run time) without a public constructor. {@code RateLimiter}
 * registers the accessor in its static initializer, like {@code ExceptionAccess}.
 */
public final class RateLimiterAccess {
  /** Implemented by {@code RateLimiter}. */
  public interface Accessor {
    RateLimiter wrap(RealRateLimiter engine, NanoClock clock);

    RealRateLimiter engine(RateLimiter limiter);
  }

  private static volatile Accessor accessor;

  private RateLimiterAccess() {}

  public static void register(Accessor a) {
    accessor = a;
  }

  /** A public limiter over {@code engine} that reads time and waits with {@code clock}. */
  public static RateLimiter wrap(RealRateLimiter engine, NanoClock clock) {
    return accessor().wrap(engine, clock);
  }

  public static RealRateLimiter engine(RateLimiter limiter) {
    return accessor().engine(limiter);
  }

  /** The clock a {@code RateLimiter} built on a user's nanosecond supplier waits with. */
  public static NanoClock clockOf(LongSupplier nanos) {
    return new SuppliedClock(nanos);
  }

  private static Accessor accessor() {
    Accessor a = accessor;
    if (a == null) {
      try {
        // Runs RateLimiter's static initializer, which registers the accessor.
        Class.forName(RateLimiter.class.getName(), true, RateLimiter.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new AssertionError(e);
      }
      a = accessor;
    }
    return a;
  }
}
