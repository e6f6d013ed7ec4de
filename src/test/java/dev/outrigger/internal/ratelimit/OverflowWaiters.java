package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;

/**
 * Setup shared by the tests of a call of key "k" waiting in the shared overflow bucket when "k"
 * gets a bucket of its own.
 */
final class OverflowWaiters {
  private OverflowWaiters() {}

  /**
   * A limiter of 1/s with a burst of {@code burst} and one key of its own at most, at {@code t0}:
   * "a" fills the table (full again at t0 + 1 s), and "k" shares the overflow bucket and empties
   * it.
   */
  static RealRateLimiter tableFullOverflowEmpty(int burst, long t0) {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(burst).maxKeys(1), t0);
    assertTrue(l.tryAcquire("a", 1, t0));
    assertTrue(l.tryAcquire("k", burst, t0));
    return l;
  }

  /**
   * At {@code at} another call of "k" finds room ("a" is swept) and builds "k" a bucket of its
   * own, where the shared one stands: behind the waiter, so that call is refused.
   */
  static void kGetsItsOwnBucket(RealRateLimiter l, long at) {
    assertFalse(l.tryAcquire("k", 1, at));
    assertEquals(1, l.keyCount());
  }
}
