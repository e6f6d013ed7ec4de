package dev.outrigger;

import java.time.Duration;
import java.util.Objects;

/**
 * An immutable retry policy: exponential backoff with jitter. Each wither returns a new value.
 *
 * {@snippet :
 * Retry retry = Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(2))
 *     .maxAttempts(4).jitter(Jitter.FULL);
 * }
 *
 * <p>Defaults: 3 attempts, multiplier 2, {@link Jitter#FULL}. {@link #none()} sends every call
 * once.
 */
public final class Retry {
  private static final Retry NONE =
      new Retry(Duration.ZERO, Duration.ZERO, 1, 2.0, Jitter.NONE);

  private final Duration initialDelay;
  private final Duration maxDelay;
  private final int maxAttempts;
  private final double multiplier;
  private final Jitter jitter;

  private Retry(
      Duration initialDelay, Duration maxDelay, int maxAttempts, double multiplier, Jitter jitter) {
    this.initialDelay = initialDelay;
    this.maxDelay = maxDelay;
    this.maxAttempts = maxAttempts;
    this.multiplier = multiplier;
    this.jitter = jitter;
  }

  /**
   * Backoff that starts at {@code initialDelay} and grows by the multiplier up to
   * {@code maxDelay}.
   *
   * @throws IllegalArgumentException if {@code initialDelay} is not positive or {@code maxDelay}
   *     is smaller than it
   */
  public static Retry exponential(Duration initialDelay, Duration maxDelay) {
    Objects.requireNonNull(initialDelay, "initialDelay");
    Objects.requireNonNull(maxDelay, "maxDelay");
    if (initialDelay.isNegative() || initialDelay.isZero()) {
      throw new IllegalArgumentException("initialDelay must be positive, but was " + initialDelay);
    }
    if (maxDelay.compareTo(initialDelay) < 0) {
      throw new IllegalArgumentException(
          "maxDelay must be at least initialDelay (" + initialDelay + "), but was " + maxDelay);
    }
    return new Retry(initialDelay, maxDelay, 3, 2.0, Jitter.FULL);
  }

  /** No retries: every call is sent once. */
  public static Retry none() {
    return NONE;
  }

  /**
   * The most attempts per call, the first included (default 3).
   *
   * @throws IllegalArgumentException if {@code maxAttempts < 1}
   */
  public Retry maxAttempts(int maxAttempts) {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1, but was " + maxAttempts);
    }
    return new Retry(initialDelay, maxDelay, maxAttempts, multiplier, jitter);
  }

  /**
   * How much each delay grows over the previous one (default 2).
   *
   * @throws IllegalArgumentException if {@code multiplier} is below 1, NaN or infinite
   */
  public Retry multiplier(double multiplier) {
    if (!(multiplier >= 1) || Double.isInfinite(multiplier)) {
      throw new IllegalArgumentException(
          "multiplier must be a finite number >= 1, but was " + multiplier);
    }
    return new Retry(initialDelay, maxDelay, maxAttempts, multiplier, jitter);
  }

  /** How delays are randomised (default {@link Jitter#FULL}). */
  public Retry jitter(Jitter jitter) {
    Objects.requireNonNull(jitter, "jitter");
    return new Retry(initialDelay, maxDelay, maxAttempts, multiplier, jitter);
  }

  public Duration initialDelay() {
    return initialDelay;
  }

  public Duration maxDelay() {
    return maxDelay;
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  public double multiplier() {
    return multiplier;
  }

  public Jitter jitter() {
    return jitter;
  }

  @Override
  public String toString() {
    if (maxAttempts == 1) {
      return "Retry[none]";
    }
    return "Retry[" + maxAttempts + " attempts, " + initialDelay + ".." + maxDelay + " x"
        + multiplier + ", jitter " + jitter + "]";
  }
}
