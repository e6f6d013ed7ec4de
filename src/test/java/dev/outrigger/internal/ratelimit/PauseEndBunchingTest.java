package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import org.junit.jupiter.api.Test;

/**
 * Waiters held until a server pause ends (b9385a0) must not all go at its end. README (Listening
 * to the server): calls already waiting "keep their order and are pushed back by as much as the
 * pause grew", and "when it ends, one permit is ready ... and the rest follow at the configured
 * rate, so there is no thundering herd"; and (Rate limiting) over any interval T a key is granted
 * at most burst + rate * T permits. With burst 1, two calls may never go at the same instant.
 * Single thread, hand-moved clocks: each waiter's first sleep runs what follows.
 */
class PauseEndBunchingTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void twoWaitersDueJustBeforeAPauseDoNotBothGoWithTheStoredPermitAtItsEnd() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    HookClock second = new HookClock();
    second.now = t0;
    long[] secondWent = {0};
    long until = t0 + 2_250 * MS;
    clock.onSleep = () -> {
      // The first waiter is due at t0 + 100 ms, the second at t0 + 200 ms; both threads are late,
      // and at t0 + 250 ms a 429 with Retry-After: 2 pauses the key until t0 + 2.25 s.
      second.onSleep = () -> assertEquals(2 * S, l.pause("k", t0 + 250 * MS, 2 * S));
      try {
        long w = l.acquire("k", 1, 10 * S, second);
        assertTrue(RealRateLimiter.acquired(w), "the second waiter was refused: " + w);
        secondWent[0] = t0 + w;
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    };
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "the first waiter was refused: " + w);
    long firstWent = t0 + w;
    assertTrue(firstWent - until >= 0 && secondWent[0] - until >= 0,
        "a waiter went inside the pause");
    int atTheEnd = (firstWent == until ? 1 : 0) + (secondWent[0] == until ? 1 : 0)
        + (l.tryAcquire("k", 1, until) ? 1 : 0);
    assertEquals(1, atTheEnd, "calls granted at the pause's end with a burst of 1 (first waiter at"
        + " t0 + " + (firstWent - t0) / MS + " ms, second at t0 + " + (secondWent[0] - t0) / MS
        + " ms)");
    assertTrue(Math.abs(secondWent[0] - firstWent) >= 100 * MS,
        "the two waiters went together, not 100 ms apart at 10/s with a burst of 1");
  }

  @Test
  void twoOverflowWaitersHeldByTheirKeysOwnPauseArePushedBackByItNotBunchedAtItsEnd()
      throws Exception {
    long t0 = clock.now;
    RealRateLimiter l = OverflowWaiters.tableFullOverflowEmpty(1, t0);
    HookClock second = new HookClock();
    second.now = t0;
    long[] secondWent = {0};
    clock.onSleep = () -> {
      // The first waiter of "k" is due at t0 + 1 s in the shared bucket, the second at t0 + 2 s.
      second.onSleep = () -> {
        // At t0 + 1 s "k" gets a bucket of its own (where the shared one stands: both waiters
        // owed), and a 429 with Retry-After: 10 pauses it until t0 + 11 s: the pause grew 10 s.
        l.tryAcquire("k", 1, t0 + S);
        assertEquals(1, l.keyCount());
        assertEquals(10 * S, l.pause("k", t0 + S, 10 * S));
      };
      try {
        long w = l.acquire("k", 1, 30 * S, second);
        assertTrue(RealRateLimiter.acquired(w), "the second waiter was refused: " + w);
        secondWent[0] = t0 + w;
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    };
    long w = l.acquire("k", 1, 30 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "the first waiter was refused: " + w);
    long firstWent = t0 + w;
    assertTrue(firstWent - (t0 + 11 * S) >= 0, "the first waiter went inside the pause");
    // Pushed back by the pause's 10 s: t0 + 11 s and t0 + 12 s, as the key's own bucket has them.
    assertTrue(secondWent[0] - (t0 + 12 * S) >= 0, "the second waiter went at t0 + "
        + (secondWent[0] - t0) / 1e9 + " s, with the first (t0 + " + (firstWent - t0) / 1e9
        + " s), not pushed back by the pause's growth to t0 + 12 s");
  }
}
