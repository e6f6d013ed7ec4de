package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A waiter that gives up after its key's bucket was replaced while it waited (a change of rate:
 * an adaptive cut, a reconfiguration) gives its permits back to the bucket now in use, as if it
 * had never asked, and only if nobody reserved after it: the bucket never grants more than it
 * would have without the waiter (single thread, hand-moved clock).
 */
class RetiredReservationTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void anInterruptedWaiterWhoseBucketWasReconfiguredGivesItsPermitBackToTheNewOne() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    // The waiter books the permit due at t0+1s; while it sleeps the key goes to 2/s, and the
    // waiter is interrupted.
    clock.onSleep = () -> l.reconfigure("k", RateLimit.perSecond(2).burst(1), clock.now);
    clock.interruptOnSleep = true;
    assertThrows(InterruptedException.class, () -> l.acquire("k", 1, 10 * S, clock));
    // As if it had never asked: the empty bucket refills at 2/s from t0, so one permit at
    // t0+0.5s (with the permit kept booked, none before t0+1.5s), and not one more.
    assertTrue(l.tryAcquire("k", 1, t0 + 500 * MS), "the waiter's permit was not given back");
    assertFalse(l.tryAcquire("k", 1, t0 + 500 * MS));
    assertFalse(l.tryAcquire("k", 1, t0 + 1000 * MS - 1));
    assertTrue(l.tryAcquire("k", 1, t0 + 1000 * MS));
  }

  @Test
  void aWaiterPushedPastItsLimitByThe429ThatCutItsRateGivesItsPermitBack() {
    // What RateLimitInterceptor does on "429, Retry-After: 10" for an adaptive limit: pause the
    // key 10 s, then cut its rate to 70%, which replaces its bucket.
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    clock.onSleep = () -> {
      l.pause("k", clock.now, 10 * S);
      l.adapt("k", 0.7, clock.now);
    };
    long r;
    try {
      r = l.acquire("k", 1, 2 * S, clock);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    assertFalse(RealRateLimiter.acquired(r), "pushed past its limit: refused");
    // Given back as after a pause that moved it (PauseAndReconfigureTest): the permit after
    // the first, due at t0+1s, moved by the pause to t0+11s, is empty at the pause's end under
    // the cut rate, so one at t0+11.43s (1/0.7 s after t0+10s). Kept booked, none before
    // t0+12.86s.
    assertFalse(l.tryAcquire("k", 1, t0 + 11_428 * MS));
    assertTrue(l.tryAcquire("k", 1, t0 + 11_429 * MS),
        "the refused waiter's permit was not given back");
    assertFalse(l.tryAcquire("k", 1, t0 + 11_429 * MS));
  }

  @Test
  void aPermitGoesBackThroughSeveralReplacements() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    clock.onSleep = () -> {
      l.reconfigure("k", RateLimit.perSecond(2).burst(1), clock.now);
      l.reconfigure("k", RateLimit.perSecond(4).burst(1), clock.now);
    };
    clock.interruptOnSleep = true;
    assertThrows(InterruptedException.class, () -> l.acquire("k", 1, 10 * S, clock));
    // Never asked: empty at t0+0.5s under 2/s, the same empty bucket at 4/s: a permit at
    // t0+0.25s, the next at t0+0.5s.
    assertTrue(l.tryAcquire("k", 1, t0 + 250 * MS), "the waiter's permit was not given back");
    assertFalse(l.tryAcquire("k", 1, t0 + 500 * MS - 1));
    assertTrue(l.tryAcquire("k", 1, t0 + 500 * MS));
  }

  @Test
  void aPermitGoesBackToAReplacementWithSeveralBandwidths() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    clock.onSleep = () -> l.reconfigure("k", RateLimit.perSecond(2).burst(1)
        .and(RateLimit.per(100, Duration.ofMinutes(1)).burst(100)), clock.now);
    clock.interruptOnSleep = true;
    assertThrows(InterruptedException.class, () -> l.acquire("k", 1, 10 * S, clock));
    // The per-second band as above; the per-minute band is new, so full.
    assertTrue(l.tryAcquire("k", 1, t0 + 500 * MS), "the waiter's permit was not given back");
    assertFalse(l.tryAcquire("k", 1, t0 + 1000 * MS - 1));
  }

  @Test
  void aWaiterWithAnotherBookedBehindItInTheNewBucketGivesNothingBack() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    HookClock other = new HookClock();
    other.now = t0;
    clock.onSleep = () -> {
      l.reconfigure("k", RateLimit.perSecond(2).burst(1), clock.now);
      try {
        // Books behind the first waiter in the new bucket (at t0+1.5s), and is served then.
        assertTrue(RealRateLimiter.acquired(l.acquire("k", 1, 10 * S, other)));
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    };
    clock.interruptOnSleep = true;
    assertThrows(InterruptedException.class, () -> l.acquire("k", 1, 10 * S, clock));
    // Given back under the second waiter, the first one's permit would let a newcomer in at
    // t0+1.5s beside the second waiter's: both stay booked, so the next is at t0+2s.
    assertEquals(1_500 * MS, other.now - t0);
    assertFalse(l.tryAcquire("k", 1, t0 + 2_000 * MS - 1));
    assertTrue(l.tryAcquire("k", 1, t0 + 2_000 * MS));
  }

  @Test
  void theWaiterAheadMayGiveBackAfterTheOneBehindItDid() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    HookClock second = new HookClock();
    second.now = t0;
    second.interruptOnSleep = true;
    clock.onSleep = () -> {
      // The second waiter books behind the first (t0+2s), the key goes to 2/s, and the second
      // waiter gives up: its permit goes back to the new bucket.
      second.onSleep = () -> l.reconfigure("k", RateLimit.perSecond(2).burst(1), second.now);
      assertThrows(InterruptedException.class, () -> l.acquire("k", 1, 10 * S, second));
    };
    clock.interruptOnSleep = true;
    assertThrows(InterruptedException.class, () -> l.acquire("k", 1, 10 * S, clock));
    // Both gone, as if neither had asked: one permit at t0+0.5s.
    assertTrue(l.tryAcquire("k", 1, t0 + 500 * MS), "the permits were not given back");
    assertFalse(l.tryAcquire("k", 1, t0 + 1000 * MS - 1));
  }

  /**
   * The first waiter books at t0+1s and the second behind it at t0+2s, both in the first bucket;
   * the key then goes to 2/s (the second waiter's sleep does it) and the second is served. The
   * first gives up when {@code firstGivesUp}, else is served too. Returns the first time from t0,
   * in ms, a newcomer gets a permit.
   */
  private static long firstPermitAfterTwoWaiters(boolean firstGivesUp) throws Exception {
    HookClock first = new HookClock();
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), first.now);
    long t0 = first.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    HookClock second = new HookClock();
    second.now = t0;
    first.onSleep = () -> {
      second.onSleep = () -> l.reconfigure("k", RateLimit.perSecond(2).burst(1), second.now);
      try {
        assertTrue(RealRateLimiter.acquired(l.acquire("k", 1, 10 * S, second)));
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    };
    first.interruptOnSleep = firstGivesUp;
    if (firstGivesUp) {
      assertThrows(InterruptedException.class, () -> l.acquire("k", 1, 10 * S, first));
    } else {
      assertTrue(RealRateLimiter.acquired(l.acquire("k", 1, 10 * S, first)));
    }
    for (long ms = 0; ms <= 10_000; ms++) {
      if (l.tryAcquire("k", 1, t0 + ms * MS)) {
        return ms;
      }
    }
    throw new AssertionError("no permit within 10 s");
  }

  @Test
  void aWaiterWithAnotherBookedBehindItInTheOldBucketGivesNothingBack() throws Exception {
    // The second waiter booked after the first, in the bucket since retired, and is still
    // booked when the first gives up: giving the first one's permit back would wipe the
    // second's. The newcomer waits exactly as long as when the first waiter stayed and was
    // served.
    long stayed = firstPermitAfterTwoWaiters(false);
    assertEquals(stayed, firstPermitAfterTwoWaiters(true));
    assertTrue(stayed > 1_000, "both waiters' permits were booked: " + stayed + " ms");
  }
}
