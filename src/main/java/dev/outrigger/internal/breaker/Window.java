package dev.outrigger.internal.breaker;

import dev.outrigger.CircuitBreaker;

/**
 * The sliding window of one CLOSED period of a breaker: records call outcomes and tells the
 * counts. Lock-free; {@link #record} is O(1) (amortised O(1) for the time window, which expires
 * whole seconds at once).
 *
 * <p>An outcome is a small int: {@link #FAILED} and {@link #SLOW} bits, 0 for a fast success.
 * Both implementations keep exact totals beside their per-slot data so that reading the rates is
 * O(1): every change to a slot is followed by the same change to the totals, so once concurrent
 * recorders have finished, the totals equal the sum of the slots.
 */
abstract class Window {
  static final int FAILED = 1;
  static final int SLOW = 2;

  /** The counts now in a window, or of a half-open probe round. */
  record Counts(int calls, int failed, int slow) {
    static final Counts EMPTY = new Counts(0, 0, 0);

    double failureRate() {
      return calls == 0 ? 0 : (double) failed / calls;
    }

    double slowCallRate() {
      return calls == 0 ? 0 : (double) slow / calls;
    }
  }

  static Window create(CircuitBreaker config, long nowNanos) {
    return config.slidingWindowType() == CircuitBreaker.WindowType.COUNT_BASED
        ? new CountWindow(config.slidingWindowSize(), config.minimumNumberOfCalls())
        : new TimeWindow(config.slidingWindowSize(), config.minimumNumberOfCalls(), nowNanos);
  }

  /**
   * Records one call that ended at {@code nowNanos}.
   *
   * @param outcome {@link #FAILED} and/or {@link #SLOW} bits, 0 for a fast success
   * @return whether the rates may have reached a threshold, so the caller should evaluate them:
   *     after a failed or slow call, when the window reaches its minimum number of calls, and
   *     after older calls expired
   */
  abstract boolean record(int outcome, long nowNanos);

  /**
   * Whether {@link #record} of a fast success would neither read {@code nowNanos} nor ask for a
   * decision, so a caller may pass any time. Once true, true for good.
   */
  boolean recordsSuccessWithoutTime() {
    return false;
  }

  /** The counts now in the window. */
  abstract Counts counts(long nowNanos);

  /** Counts from totals that may be off by in-flight recorders for an instant, clamped. */
  static Counts counts(long calls, long failed, long slow) {
    int c = (int) Math.min(Integer.MAX_VALUE, Math.max(0, calls));
    return new Counts(
        c, (int) Math.max(0, Math.min(c, failed)), (int) Math.max(0, Math.min(c, slow)));
  }

  /** Failures in the high 32 bits, slow calls in the low 32 (both signed: see {@link #decode}). */
  static long weight(int outcome) {
    return ((long) (outcome & FAILED) << 32) + ((outcome & SLOW) >>> 1);
  }

  /**
   * Counts from a total of weights. Halves are decoded as signed values because a total can be
   * negative for an instant (a recorder subtracted an evicted failure before the recorder who
   * wrote it added it).
   */
  static Counts decode(long calls, long weights) {
    int slow = (int) weights;
    return counts(calls, (weights - slow) >> 32, slow);
  }
}
