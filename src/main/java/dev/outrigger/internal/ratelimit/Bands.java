package dev.outrigger.internal.ratelimit;

import dev.outrigger.RateLimit;
import java.util.List;

/**
 * A {@link RateLimit}'s bandwidths in the fixed-point time units a {@link TokenBucket} computes
 * in. Immutable.
 *
 * <p>A unit is {@code 2^-shift} nanoseconds, so that the interval between two permits keeps its
 * fraction at high rates (3e7 permits per second is 33.33 ns apart). Times are only ever compared
 * by subtraction, so the wrap of {@code nanoTime << shift} is harmless as long as two compared
 * times are less than 2^63 units apart. Two bounds follow:
 * <ul>
 *   <li>every difference a bucket computes must stay below 2^62 units: its capacity in time plus
 *       the longest wait (30 days) plus the longest pause (1 day), doubled for slack;
 *   <li>a bucket left idle is compared with a time far in its past: at most 4 bits of fraction
 *       keep that safe for 2^59 ns (18 years) of idleness; with 8 bits it would break after 417
 *       days, the bucket's full state suddenly reading as a debt.
 * </ul>
 * The shift is the largest that meets both (4, unless a bucket takes years to refill).
 */
final class Bands {
  /** Waits longer than this are refused whatever the caller's timeout. */
  static final long MAX_WAIT_NANOS = 30L * 86_400 * 1_000_000_000L;
  /** The longest server pause any limit allows ({@link RateLimit#maxPause(java.time.Duration)}). */
  static final long MAX_PAUSE_NANOS = 86_400 * 1_000_000_000L;
  /**
   * The longest a full bucket may take to refill, and so the longest interval between two
   * permits: {@link RateLimit} refuses anything slower (one permit per 50 years), computed as it
   * computes it.
   */
  static final double SLOWEST_INTERVAL_NANOS = 50 * 365.25 * 86_400 * 1e9;
  /** The slowest rate a {@link RateLimit} holds, in permits per second (about 6.3e-10). */
  static final double SLOWEST_PER_SECOND = 1e9 / SLOWEST_INTERVAL_NANOS;
  /** Fraction bits of a unit; more would make an idle bucket's time wrap within years. */
  static final int MAX_SHIFT = 4;

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
    this.shift = Math.max(0, Math.min(MAX_SHIFT, 61 - bits));
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

  /**
   * The furthest ahead of now band {@code i}'s state may stand, in units: a full bucket's refill
   * and the longest wait and pause. A debt carried over to a much slower rate is capped here,
   * which still refuses everyone new for longer than any waiter may wait; beyond it, the span
   * the shift is sized for would overflow.
   */
  long maxAhead(int i) {
    return tau[i] + units(MAX_WAIT_NANOS + MAX_PAUSE_NANOS);
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
