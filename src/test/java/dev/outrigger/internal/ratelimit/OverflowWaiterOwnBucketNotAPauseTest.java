package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import org.junit.jupiter.api.Test;

/**
 * Review of 6742624. A waiter booked in the shared overflow bucket takes the end of its key's
 * own pause as its "hold" (RealRateLimiter.acquire: hold = max(hold, own.pause.until())). But a
 * bucket built for the key starts with a PauseState whose until is the build time (startingLike:
 * new PauseState(max(overflow until, now))), not a pause. A waiter whose permit came due just
 * before the key got its own bucket, and whose thread woke a moment after (no pause anywhere),
 * reads hold (the build time) > wake (its due time), is taken for "late" and books again: its
 * permit is charged twice and it waits a whole extra interval. README (Listening to the server):
 * only a waiter "whose permit came due just before the pause" books again; here there is no
 * pause. Single thread, hand-moved clock: the waiter's first sleep runs what other threads do.
 */
class OverflowWaiterOwnBucketNotAPauseTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void aSharedBucketWaiterIsNotBookedAgainBecauseItsKeyGotABucketOfItsOwn() throws Exception {
    // One key of its own at most; 1/s, burst 1.
    RealRateLimiter l =
        new RealRateLimiter(RateLimit.perSecond(1).burst(1).maxKeys(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("a", 1, t0));   // "a" fills the table (full again at t0 + 1 s)
    assertTrue(l.tryAcquire("k", 1, t0));   // "k" shares the overflow bucket and empties it
    clock.onSleep = () -> {
      // The waiter of "k" is due at t0 + 1 s; its thread wakes 1 ms late (as a parked thread
      // may). Meanwhile, at t0 + 1.0005 s, another call of "k" finds room ("a" is swept, full
      // again) and builds "k" its own bucket, where the shared one stands (the waiter owed).
      clock.now += MS;
      assertFalse(l.tryAcquire("k", 1, t0 + S + MS / 2));
      assertEquals(1, l.keyCount());
    };
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    // No pause: it goes when its thread wakes, t0 + 1.001 s, with the permit it booked.
    assertEquals(1_001 * MS, w, "the waiter went at t0 + " + w / 1e9 + " s: booked again "
        + "(charged twice) although no pause came, only its key's own bucket");
    // And the permit after it is there at its time (1/s): t0 + 2 s.
    assertTrue(l.tryAcquire("k", 1, t0 + 2 * S), "the next permit was taken by the waiter");
  }
}
