package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import org.junit.jupiter.api.Test;

/**
 * A waiter whose permit came due just before a server pause, but whose thread had not yet run
 * when the pause came (a late wake-up), is one of the calls already waiting that the pause holds
 * back (README, Listening to the server: "During a pause nothing is granted to that key"): it
 * goes when the pause ends, not inside it. (Pushed back from its due time by the pause's growth,
 * it went inside the pause by as much as it was late.) Its permit was taken before the pause:
 * it goes with the permit a pause leaves ready at its end, as a call that found the bucket then
 * would. Single thread, hand-moved clock: the waiter's first sleep runs the pause.
 */
class OverdueWaiterPauseTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void aWaiterDueBeforeAPauseButNotYetWokenDoesNotGoInsideThePause() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    long[] pause = new long[2];
    boolean[] grantedInPause = new boolean[1];
    clock.onSleep = () -> {
      // The waiter's permit is due at t0 + 100 ms; its thread is late, and at t0 + 150 ms a
      // 429 with Retry-After: 2 pauses the key until t0 + 2.15 s.
      clock.now = t0 + 150 * MS;
      assertEquals(2 * S, l.pause("k", clock.now, 2 * S));
      pause[0] = clock.now;
      pause[1] = clock.now + 2 * S;
      grantedInPause[0] = l.tryAcquire("k", 1, clock.now + S);
    };
    long waited = l.acquire("k", 1, 5 * S, clock);
    assertTrue(RealRateLimiter.acquired(waited), "refused: " + waited);
    long wentAt = t0 + waited;
    assertTrue(wentAt - pause[1] >= 0, "the waiter went at t0 + " + (wentAt - t0) / 1e6
        + " ms, inside the pause (t0 + 150 ms to t0 + 2150 ms)");
    assertFalse(grantedInPause[0], "the key is paused for any other call");
  }
}
