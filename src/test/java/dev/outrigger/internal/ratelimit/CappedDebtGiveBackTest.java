package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A waiter that gives up after its key was lowered to a much slower rate, with another waiter
 * booked behind it. README (Changing limits while running): it gives its permits back "if
 * nobody booked after it", and "nobody new is served before a waiter that booked under the old
 * rate". The debt both waiters leave is capped in the new bucket (Bands.maxAhead); the state the
 * first one led to is capped to the same value, so the new bucket seems to hold exactly what the
 * first waiter left, and its permits go back under the second. Single thread, hand-moved clocks.
 */
class CappedDebtGiveBackTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void aWaiterAheadOfAnotherGivesNothingBackAfterTheKeyIsLoweredToAVerySlowRate()
      throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(100).burst(100), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 50, t0));          // 50 of 100 left
    HookClock second = new HookClock();
    second.now = t0;
    long[] secondWent = {0};
    clock.onSleep = () -> {
      // Behind the first waiter (which books 100, due at t0 + 0.5 s), the second books 50,
      // due at t0 + 1 s. While it waits the operator lowers the key to one permit a day: 150
      // permits owed at that rate (capped alike for both states).
      second.onSleep = () ->
          l.reconfigure("k", RateLimit.per(1, Duration.ofDays(1)).burst(1), second.now);
      try {
        long w = l.acquire("k", 50, 10 * S, second);
        assertTrue(RealRateLimiter.acquired(w), "the second waiter was refused: " + w);
        secondWent[0] = second.now;
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    };
    clock.interruptOnSleep = true;
    // The first waiter gives up (interrupted) after the change, the second having booked.
    assertThrows(InterruptedException.class, () -> l.acquire("k", 100, 10 * S, clock));
    assertEquals(t0 + S, secondWent[0]);

    // The second waiter's 50 permits are still owed (days at one a day): nobody new is served
    // before it, nor just after it.
    assertFalse(l.tryAcquire("k", 1, t0 + 500 * MS),
        "a newcomer was served before the waiter booked behind the one that gave up");
    assertFalse(l.tryAcquire("k", 1, t0 + 2 * S),
        "the first waiter's permits went back although another had booked after it");
  }
}
