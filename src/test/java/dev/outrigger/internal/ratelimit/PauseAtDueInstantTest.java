package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import org.junit.jupiter.api.Test;

/**
 * Review of 6742624: the 'late' test (hold - wake > 0) at its boundary. A waiter whose permit is
 * due at the very instant a pause begins is not "reserved" for shiftForPause (its state is not
 * beyond an empty bucket: s - now == tau), so the pause keeps its permit in the past and leaves
 * one ready at its end; but shifted by the pause's growth the waiter wakes exactly at the end
 * (wake == hold), so it is not taken for late either and goes then, with the stored permit.
 * README (Listening to the server): "when it ends, one permit is ready ... so there is no
 * thundering herd"; with burst 1 two calls may never go at the same instant. (One nanosecond
 * earlier it would be late and book again: see PauseEndBunchingTest.)
 */
class PauseAtDueInstantTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void aWaiterDueWhenAPauseBeginsDoesNotGoWithTheStoredPermitAtItsEnd() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    long until = t0 + 100 * MS + 2 * S;
    clock.onSleep = () -> {
      // The waiter is due at t0 + 100 ms; at that instant, before its thread runs, a 429 with
      // Retry-After: 2 pauses the key until t0 + 2.1 s.
      assertEquals(2 * S, l.pause("k", t0 + 100 * MS, 2 * S));
    };
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    long went = t0 + w;
    assertTrue(went - until >= 0, "the waiter went inside the pause");
    int atTheEnd = (went == until ? 1 : 0) + (l.tryAcquire("k", 1, until) ? 1 : 0);
    assertEquals(1, atTheEnd, "calls granted at the pause's end with a burst of 1 (the waiter"
        + " at t0 + " + (went - t0) / MS + " ms, and a newcomer)");
  }
}
