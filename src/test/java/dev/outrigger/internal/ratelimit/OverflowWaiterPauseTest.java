package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import org.junit.jupiter.api.Test;

/**
 * A call of a key waiting in the shared overflow bucket when the key gets a bucket of its own
 * and the server then pauses the key. README (Listening to the server): the pause stops the
 * whole client sending to that key, and calls already waiting are pushed back. Single thread,
 * hand-moved clock: the waiter's first sleep runs the other calls.
 */
class OverflowWaiterPauseTest {
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void aWaiterOfAKeyInTheOverflowBucketIsHeldByAPauseOfTheKeysOwnBucket() throws Exception {
    // One key of its own at most; 1/s, burst 5.
    RealRateLimiter l =
        new RealRateLimiter(RateLimit.perSecond(1).burst(5).maxKeys(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("a", 1, t0));          // "a" fills the table (full again at t0 + 1 s)
    assertTrue(l.tryAcquire("k", 5, t0));          // "k" shares the overflow bucket and empties it
    long[] pausedUntil = {0};
    clock.onSleep = () -> {
      // At t0 + 1 s a new call of "k" finds room ("a" refilled and is swept) and builds "k" a
      // bucket of its own, where the shared one stands: behind the waiter, so it is refused.
      clock.now = t0 + S;
      assertFalse(l.tryAcquire("k", 1, clock.now));
      assertEquals(1, l.keyCount());
      // Its answer is a 429 with Retry-After: 10: the key is paused until t0 + 11 s.
      assertEquals(10 * S, l.pause("k", clock.now, 10 * S));
      pausedUntil[0] = clock.now + 10 * S;
    };
    // A call of "k" books the next 5 permits of the shared bucket (due at t0 + 5 s).
    long waited = l.acquire("k", 5, 30 * S, clock);
    assertTrue(RealRateLimiter.acquired(waited), "the waiter was refused: " + waited);
    long wentAt = t0 + waited;
    assertFalse(l.tryAcquire("k", 1, wentAt), "the key is paused for everyone else");
    assertTrue(wentAt - pausedUntil[0] >= 0, "a call of \"k\" went at t0 + "
        + (wentAt - t0) / 1e9 + " s, inside the server's pause of the key (until t0 + 11 s)");
  }
}
