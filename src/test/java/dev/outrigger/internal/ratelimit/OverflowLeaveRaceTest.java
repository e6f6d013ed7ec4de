package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import org.junit.jupiter.api.Test;

/**
 * Two first uses of a key leaving the overflow bucket race to create its bucket: the one that
 * loses the race must not publish a full bucket. The hook runs the second use between the first
 * one's building of the key's bucket and its publishing, as another thread could.
 *
 * <p>1/s, burst 2, one key. At t0 "a" takes 1 from its own bucket (full again at t0 + 1 s) and
 * "k", beyond the bound, empties the shared bucket at t0 + 0.9 s. At t0 + 1.1 s "k"'s next use
 * sweeps "a" away and gets a bucket of its own, which starts where the shared one stands: empty.
 */
class OverflowLeaveRaceTest {
  private static final long MS = 1_000_000L;

  @Test
  void aKeyLeavingTheOverflowBucketStartsWhereItStandsWhenTwoUsesRaceToCreateItsBucket() {
    long t0 = 1_000 * MS;
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(2).maxKeys(1), t0);
    assertTrue(l.tryAcquire("a", 1, t0));
    assertTrue(l.tryAcquire("k", 2, t0 + 900 * MS)); // the shared bucket, emptied
    long t1 = t0 + 1_100 * MS;
    boolean[] racer = {false};
    l.beforeInsert = () -> {
      l.beforeInsert = null;
      // Another thread's first use of "k", while this one builds its bucket.
      racer[0] = l.tryAcquire("k", 1, t1);
    };
    boolean first = l.tryAcquire("k", 1, t1);
    assertFalse(racer[0], "the racing use found a full bucket");
    assertFalse(first, "the first use found a full bucket");
    assertEquals(0, l.available("k", t1));
  }
}
