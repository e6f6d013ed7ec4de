package dev.outrigger;

import java.util.Objects;

/**
 * An immutable token-bucket rate: {@code rate} permits per second refilled continuously, up to
 * {@code burst} stored. Each wither returns a new value.
 *
 * {@snippet :
 * RateLimit limit = RateLimit.perSecond(100).burst(20);
 * }
 *
 * <p>Defaults: the burst is {@code max(1, ceil(rate))} (one second's worth) until set.
 */
public final class RateLimit {
  private final double permitsPerSecond;
  private final int burst;

  private RateLimit(double permitsPerSecond, int burst) {
    this.permitsPerSecond = permitsPerSecond;
    this.burst = burst;
  }

  /**
   * {@code permits} per second, fractional allowed ({@code 0.5} is one every two seconds).
   *
   * @throws IllegalArgumentException if {@code permits} is not a positive finite number
   */
  public static RateLimit perSecond(double permits) {
    if (!(permits > 0) || Double.isInfinite(permits)) {
      throw new IllegalArgumentException(
          "rate must be a positive finite number of permits per second, but was " + permits);
    }
    return new RateLimit(permits, (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.ceil(permits))));
  }

  /**
   * The most permits stored, and so the largest burst.
   *
   * @throws IllegalArgumentException if {@code burst < 1}
   */
  public RateLimit burst(int burst) {
    if (burst < 1) {
      throw new IllegalArgumentException("burst must be at least 1, but was " + burst);
    }
    return new RateLimit(permitsPerSecond, burst);
  }

  public double permitsPerSecond() {
    return permitsPerSecond;
  }

  public int burst() {
    return burst;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RateLimit r
        && Double.compare(r.permitsPerSecond, permitsPerSecond) == 0
        && r.burst == burst;
  }

  @Override
  public int hashCode() {
    return Objects.hash(permitsPerSecond, burst);
  }

  @Override
  public String toString() {
    return "RateLimit[" + permitsPerSecond + "/s, burst " + burst + "]";
  }
}
