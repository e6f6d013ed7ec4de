package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import org.junit.jupiter.api.Test;

/**
 * Review of a9d3369, which makes a waiter due at the very instant a pause begins book again at
 * its end (PauseAtDueInstantTest), so that it does not go at once with the permit the pause
 * leaves ready. The rule reads only the pause of the bucket the waiter booked in (res.pause):
 * a waiter booked in the shared overflow bucket, held by its key's own bucket's pause
 * (RealRateLimiter.acquire: wake += own shift, hold = own until), is due at the instant that
 * pause begins, wakes exactly at its end (wake == hold), is not taken for late (the overflow
 * bucket's shift never moved) and goes then, with the permit the pause leaves ready: two calls
 * at one instant with a burst of 1. Single thread, hand-moved clock.
 */
class OverflowWaiterDueAtOwnPauseStartTest {
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void aSharedBucketWaiterDueWhenItsKeysOwnPauseBeginsDoesNotGoWithTheStoredPermit()
      throws Exception {
    RealRateLimiter l =
        new RealRateLimiter(RateLimit.perSecond(1).burst(1).maxKeys(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("a", 1, t0));   // "a" fills the table (full again at t0 + 1 s)
    assertTrue(l.tryAcquire("k", 1, t0));   // "k" shares the overflow bucket and empties it
    long until = t0 + 3 * S;
    clock.onSleep = () -> {
      // The waiter of "k" is due at t0 + 1 s. At that instant, before its thread runs, another
      // call of "k" finds room ("a" is swept) and builds "k" its own bucket, and a 429 with
      // Retry-After: 2 pauses "k" until t0 + 3 s.
      assertFalse(l.tryAcquire("k", 1, t0 + S));
      assertEquals(1, l.keyCount());
      assertEquals(2 * S, l.pause("k", t0 + S, 2 * S));
    };
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    long went = t0 + w;
    assertTrue(went - until >= 0, "the waiter went inside the pause");
    int atTheEnd = (went == until ? 1 : 0) + (l.tryAcquire("k", 1, until) ? 1 : 0);
    assertEquals(1, atTheEnd, "calls granted at the pause's end with a burst of 1 (the waiter"
        + " at t0 + " + w / 1e6 + " ms, and a newcomer)");
  }
}
