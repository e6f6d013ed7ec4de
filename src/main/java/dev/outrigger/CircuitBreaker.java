package dev.outrigger;

import java.time.Duration;
import java.util.Objects;

/**
 * An immutable circuit-breaker configuration. The client keeps one breaker per target host with
 * this configuration: after at least {@code minimumNumberOfCalls} in the sliding window, a
 * failure rate at or above {@code failureRateThreshold} opens it; an open breaker refuses calls
 * with {@link CircuitOpenException} for {@code waitInOpenState}, then lets exactly
 * {@code permittedCallsInHalfOpen} probes through and decides from their outcomes.
 *
 * {@snippet :
 * CircuitBreaker cb = CircuitBreaker.builder()
 *     .slidingWindowSize(20).minimumNumberOfCalls(10).failureRateThreshold(0.5)
 *     .waitInOpenState(Duration.ofSeconds(5)).permittedCallsInHalfOpen(2).build();
 * }
 *
 * <p>Defaults: a count window of 100 calls, 20 calls minimum, threshold 0.5, 5 s open, 3 probes.
 */
public final class CircuitBreaker {

  /** A breaker's state. */
  public enum State {
    CLOSED,
    OPEN,
    HALF_OPEN,
    FORCED_OPEN,
    DISABLED
  }

  private final int slidingWindowSize;
  private final int minimumNumberOfCalls;
  private final double failureRateThreshold;
  private final Duration waitInOpenState;
  private final int permittedCallsInHalfOpen;

  private CircuitBreaker(Builder b) {
    this.slidingWindowSize = b.slidingWindowSize;
    this.minimumNumberOfCalls = b.minimumNumberOfCalls;
    this.failureRateThreshold = b.failureRateThreshold;
    this.waitInOpenState = b.waitInOpenState;
    this.permittedCallsInHalfOpen = b.permittedCallsInHalfOpen;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The defaults listed above. */
  public static CircuitBreaker defaults() {
    return builder().build();
  }

  public Builder newBuilder() {
    Builder b = new Builder();
    b.slidingWindowSize = slidingWindowSize;
    b.minimumNumberOfCalls = minimumNumberOfCalls;
    b.failureRateThreshold = failureRateThreshold;
    b.waitInOpenState = waitInOpenState;
    b.permittedCallsInHalfOpen = permittedCallsInHalfOpen;
    return b;
  }

  public int slidingWindowSize() {
    return slidingWindowSize;
  }

  public int minimumNumberOfCalls() {
    return minimumNumberOfCalls;
  }

  public double failureRateThreshold() {
    return failureRateThreshold;
  }

  public Duration waitInOpenState() {
    return waitInOpenState;
  }

  public int permittedCallsInHalfOpen() {
    return permittedCallsInHalfOpen;
  }

  @Override
  public String toString() {
    return "CircuitBreaker[window " + slidingWindowSize + " calls, min " + minimumNumberOfCalls
        + ", failure rate >= " + failureRateThreshold + ", open " + waitInOpenState
        + ", half-open probes " + permittedCallsInHalfOpen + "]";
  }

  /** Builds a {@link CircuitBreaker}; each setter checks its argument, {@link #build()} the rest. */
  public static final class Builder {
    private int slidingWindowSize = 100;
    private int minimumNumberOfCalls = 20;
    private double failureRateThreshold = 0.5;
    private Duration waitInOpenState = Duration.ofSeconds(5);
    private int permittedCallsInHalfOpen = 3;

    private Builder() {}

    /**
     * How many of the most recent calls the failure rate is computed over (default 100).
     *
     * @throws IllegalArgumentException if {@code size < 1}
     */
    public Builder slidingWindowSize(int size) {
      if (size < 1) {
        throw new IllegalArgumentException("slidingWindowSize must be at least 1, but was " + size);
      }
      this.slidingWindowSize = size;
      return this;
    }

    /**
     * How many calls the window must hold before the breaker may open (default 20).
     *
     * @throws IllegalArgumentException if {@code calls < 1}
     */
    public Builder minimumNumberOfCalls(int calls) {
      if (calls < 1) {
        throw new IllegalArgumentException("minimumNumberOfCalls must be at least 1, but was " + calls);
      }
      this.minimumNumberOfCalls = calls;
      return this;
    }

    /**
     * The failure rate, in {@code (0, 1]}, at or above which the breaker opens (default 0.5).
     *
     * @throws IllegalArgumentException if outside {@code (0, 1]} or NaN
     */
    public Builder failureRateThreshold(double rate) {
      if (!(rate > 0 && rate <= 1)) {
        throw new IllegalArgumentException(
            "failureRateThreshold must be greater than 0 and at most 1, but was " + rate);
      }
      this.failureRateThreshold = rate;
      return this;
    }

    /**
     * How long the breaker stays open before it lets probes through (default 5 s).
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder waitInOpenState(Duration wait) {
      Objects.requireNonNull(wait, "waitInOpenState");
      if (wait.isNegative() || wait.isZero()) {
        throw new IllegalArgumentException("waitInOpenState must be positive, but was " + wait);
      }
      this.waitInOpenState = wait;
      return this;
    }

    /**
     * How many probe calls the half-open breaker admits (default 3).
     *
     * @throws IllegalArgumentException if {@code calls < 1}
     */
    public Builder permittedCallsInHalfOpen(int calls) {
      if (calls < 1) {
        throw new IllegalArgumentException(
            "permittedCallsInHalfOpen must be at least 1, but was " + calls);
      }
      this.permittedCallsInHalfOpen = calls;
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code minimumNumberOfCalls} exceeds
     *     {@code slidingWindowSize} (the breaker could never open)
     */
    public CircuitBreaker build() {
      if (minimumNumberOfCalls > slidingWindowSize) {
        throw new IllegalArgumentException("minimumNumberOfCalls (" + minimumNumberOfCalls
            + ") must not exceed slidingWindowSize (" + slidingWindowSize
            + "): the breaker could never open");
      }
      return new CircuitBreaker(this);
    }
  }
}
