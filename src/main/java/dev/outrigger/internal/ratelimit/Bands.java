package dev.outrigger.internal.ratelimit;

import dev.outrigger.RateLimit;
import java.util.List;

/**
 * A {@link RateLimit}'s bandwidths in the fixed-point time units a {@link TokenBucket} computes
 * in. Immutable.
 *
 * <p>A unit is {@code 2^-shift} nanoseconds, so that the interval between two permits keeps its
 * fraction even at very high rates (3e8 permits per second is 3.33 ns apart). The shift is the
 * largest (at most 10) for which every difference a bucket computes stays below 2^62 units: a
 * bucket's capacity in time plus the longest wait (30 days) plus the longest pause (1 day),
 * doubled for slack.
 * Times are only ever compared by subtraction, so the wrap of {@code nanoTime << shift} is
 * harmless.
 */
final class Bands {
  /** Waits longer than this are refused whatever the caller's timeout. */
  static final long MAX_WAIT_NANOS = 30L * 86_400 * 1_000_000_000L;
  /** The longest server pause any limit allows ({@link RateLimit#maxPause(java.time.Duration)}). */
  static final long MAX_PAUSE_NANOS = 86_400 * 1_000_000_000L;

  final RateLimit limit;
  final int shift;
  /** Units between two permits, per band. */
  final long[] interval;
  /** Units to refill a full bucket ({@code interval * burst}), per band. */
  final long[] tau;
  /** The most permits one acquire can take: the smallest burst. */
  final int maxPermits;
  /** Index of the band with the shortest interval. */
  final int finest;

  Bands(RateLimit limit) {
    this.limit = limit;
    List<RateLimit> bands = limit.bandwidths();
    int k = bands.size();
    double maxTauNanos = 0;
    for (RateLimit b : bands) {
      maxTauNanos = Math.max(maxTauNanos, intervalNanos(b) * b.burst());
    }
    double span = 2 * (maxTauNanos + MAX_WAIT_NANOS + MAX_PAUSE_NANOS) + 1;
    int bits = 64 - Long.numberOfLeadingZeros((long) Math.min(span, Long.MAX_VALUE));
    this.shift = Math.max(0, Math.min(10, 61 - bits));
    this.interval = new long[k];
    this.tau = new long[k];
    int min = Integer.MAX_VALUE;
    int fin = 0;
    for (int i = 0; i < k; i++) {
      RateLimit b = bands.get(i);
      // Rounded up: the limiter may be a hair slower than asked, never faster.
      interval[i] = Math.max(1, (long) Math.ceil(Math.scalb(intervalNanos(b), shift)));
      tau[i] = interval[i] * b.burst();
      min = Math.min(min, b.burst());
      if (interval[i] < interval[fin]) {
        fin = i;
      }
    }
    this.maxPermits = min;
    this.finest = fin;
  }

  private static double intervalNanos(RateLimit single) {
    return single.period().toNanos() / single.permits();
  }

  int size() {
    return interval.length;
  }

  /** Nanoseconds to units. */
  long units(long nanos) {
    return nanos << shift;
  }

  /** Units to nanoseconds, rounded up (a waiter never wakes early). */
  long nanosCeil(long units) {
    return (units + (1L << shift) - 1) >> shift;
  }
}
