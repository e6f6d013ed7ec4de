package dev.outrigger.internal.ratelimit;

import dev.outrigger.internal.NanoClock;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * A {@link NanoClock} over a user's {@code LongSupplier} of nanoseconds, which may not follow
 * real time (a test's fake clock): sleeping parks in slices of at most 10 ms and re-reads the
 * supplier after each, so a sleeper notices time moved by hand within a slice.
 */
final class SuppliedClock implements NanoClock {
  static final long SLICE_NANOS = 10_000_000L;

  private final LongSupplier nanos;

  SuppliedClock(LongSupplier nanos) {
    this.nanos = nanos;
  }

  @Override
  public long nanoTime() {
    return nanos.getAsLong();
  }

  @Override
  public void sleepNanos(long n) throws InterruptedException {
    long end = nanos.getAsLong() + n;
    for (long left = n; left > 0; left = end - nanos.getAsLong()) {
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
      LockSupport.parkNanos(Math.min(left, SLICE_NANOS));
    }
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
  }

  @Override
  public String toString() {
    return "SuppliedClock[" + nanos + "]";
  }
}
