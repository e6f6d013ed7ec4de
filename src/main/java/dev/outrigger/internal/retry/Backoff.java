package dev.outrigger.internal.retry;

import dev.outrigger.Jitter;
import java.util.random.RandomGenerator;

/**
 * The delay before a retry, as a pure function of the retry number, the previous delay and a
 * random source (Brooker's formulas, see {@link Jitter}). Immutable and thread-safe; all times
 * in nanoseconds.
 */
public final class Backoff {
  private final long baseNanos;
  private final long capNanos;
  private final double multiplier;
  private final Jitter jitter;

  /**
   * @param baseNanos the first delay before jitter, {@code >= 0}
   * @param capNanos the largest delay, {@code >= baseNanos}
   * @param multiplier growth per retry, {@code >= 1}
   * @param jitter the randomisation
   */
  public Backoff(long baseNanos, long capNanos, double multiplier, Jitter jitter) {
    if (baseNanos < 0 || capNanos < baseNanos || !(multiplier >= 1)) {
      throw new IllegalArgumentException("bad backoff: base " + baseNanos + " ns, cap "
          + capNanos + " ns, multiplier " + multiplier);
    }
    this.baseNanos = baseNanos;
    this.capNanos = capNanos;
    this.multiplier = multiplier;
    this.jitter = jitter;
  }

  /** {@code min(cap, base * multiplier^(retry-1))}, without jitter, for {@code retry >= 1}. */
  public long exponential(int retry) {
    double d = baseNanos * Math.pow(multiplier, Math.max(0, retry - 1));
    // Doubles saturate to infinity rather than wrapping, so the comparison is safe.
    return d >= capNanos ? capNanos : (long) d;
  }

  /**
   * The delay before retry number {@code retry} (1 for the first retry).
   *
   * @param previousNanos the delay used before the previous retry, or 0 before the first
   *     (only {@link Jitter#DECORRELATED} reads it)
   */
  public long next(int retry, long previousNanos, RandomGenerator random) {
    switch (jitter) {
      case NONE:
        return exponential(retry);
      case FULL:
        return uniform(random, 0, exponential(retry));
      case EQUAL: {
        long exp = exponential(retry);
        long half = exp / 2;
        // exp - half (not half) keeps the top of the range at exp for odd values.
        return half + uniform(random, 0, exp - half);
      }
      case DECORRELATED: {
        long previous = previousNanos <= 0 ? baseNanos : previousNanos;
        long high = previous > Long.MAX_VALUE / 3 ? Long.MAX_VALUE : previous * 3;
        return Math.min(capNanos, uniform(random, baseNanos, Math.max(baseNanos, high)));
      }
      default:
        throw new AssertionError(jitter);
    }
  }

  public Jitter jitter() {
    return jitter;
  }

  /** Uniform in {@code [low, high]}, both inclusive. */
  private static long uniform(RandomGenerator random, long low, long high) {
    if (high <= low) {
      return low;
    }
    if (high == Long.MAX_VALUE) {
      return random.nextLong(low, high);
    }
    return random.nextLong(low, high + 1);
  }

  @Override
  public String toString() {
    return "Backoff[" + baseNanos + ".." + capNanos + " ns x" + multiplier + ", " + jitter + "]";
  }
}
