package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Server pauses against reconfiguration, cancellation and the overflow bucket: a pause is time,
 * not permits owed, so it ends when it ends whatever the key's rate does meanwhile; an abandoned
 * wait gives its permits back after a pause moved it; keys that shared the overflow bucket never
 * start fuller than it (single thread, hand-moved clock).
 */
class PauseAndReconfigureTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  // --- Server pause converted into token debt on reconfiguration ---

  @Test
  void aPauseKeepsItsEndWhenTheKeysRateIsLoweredDuringIt() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(10), clock.now);
    long t0 = clock.now;
    assertEquals(60 * S, l.pause("k", t0, 60 * S));   // Retry-After: 60
    l.reconfigure("k", RateLimit.perSecond(1).burst(1), t0);
    assertEquals(60 * S, l.pausedForNanos("k", t0));
    clock.now = t0 + 61 * S;                          // pause over, plus one new interval
    assertTrue(l.tryAcquire("k", 1, clock.now),
        "a 60 s pause must not block the key at 61 s (read as permits owed, it was a 599-permit "
            + "debt at 1/s)");
  }

  @Test
  void theAdaptiveCutOnThe429ThatPausedTheKeyStretchesThePause() {
    // What RateLimitInterceptor does for an adaptive limit on "429, Retry-After: 60":
    // pause(key, 60 s), then adapt(key, 70% of the rate).
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(10), clock.now);
    long t0 = clock.now;
    l.pause("k", t0, 60 * S);
    l.adapt("k", 7.0, t0);
    clock.now = t0 + 61 * S;
    assertTrue(l.tryAcquire("k", 1, clock.now),
        "blocked 1 s after a 60 s pause ended (it was, until ~85.7 s)");
  }

  @Test
  void raisingTheRateDuringAPauseDoesNotGrantBeforeThePauseEnds() {
    RealRateLimiter l = new RealRateLimiter(
        RateLimit.per(6, Duration.ofMinutes(1)).burst(1), clock.now);   // one per 10 s
    long t0 = clock.now;
    assertEquals(60 * S, l.pause("k", t0, 60 * S));
    l.reconfigure("k", RateLimit.perSecond(100).burst(1), t0);
    clock.now = t0 + 55 * S;
    assertTrue(l.pausedForNanos("k", clock.now) > 0, "the server's pause is still on");
    assertFalse(l.tryAcquire("k", 1, clock.now),
        "granted 5 s before the end of the server's 60 s pause");
  }

  // --- Permits given back by an abandoned wait ---

  @Test
  void aWaiterPushedPastItsLimitByAPauseGivesItsPermitBack() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    // Reserves the permit due at t0+1s (limit t0+2s); while it sleeps the server pauses 10 s.
    clock.onSleep = () -> l.pause("k", clock.now, 10 * S);
    long r = l.acquire("k", 1, 2 * S, clock);
    assertFalse(RealRateLimiter.acquired(r), "pushed past its limit: refused, as documented");
    // Nobody queued behind it, so its permit must be back: as if it had never asked, the key
    // is due its next permit one interval after the first one, pushed by the pause: t0+11s.
    clock.now = t0 + 11 * S;
    assertTrue(l.tryAcquire("k", 1, clock.now),
        "the refused waiter's permit must be given back");
  }

  @Test
  void aMultiBandWaiterPushedPastItsLimitByAPauseGivesItsPermitBack() throws Exception {
    // As above with two bandwidths. The per-second band's state (recorded at the wake) is
    // within its tau when the pause comes; the reservation in the other band moves it too, so
    // a cancel finds it (it did not: the permit was lost, the key blocked 10 s longer).
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(100)
        .and(RateLimit.per(1, Duration.ofSeconds(10)).burst(1)), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    // Reserves the permit due at t0+10s (limit t0+12s); while it sleeps, at t0+1s, the server
    // pauses 5 s, which pushes it to t0+15s, past its limit: refused, its permit given back.
    clock.onSleep = () -> {
      clock.now += S;
      l.pause("k", clock.now, 5 * S);
    };
    long r = l.acquire("k", 1, 12 * S, clock);
    assertFalse(RealRateLimiter.acquired(r));
    // As if it had never asked, the 10 s band is due its next permit at t0+15s (t0+10s without
    // the pause's shift); the per-second band holds at least one from the pause's end on.
    clock.now = t0 + 16 * S;
    assertTrue(l.tryAcquire("k", 1, clock.now),
        "the refused waiter's permit must be given back (the key is blocked until t0+25s)");
  }

  // --- Pause end ---

  @Test
  void anEmptyBucketHasOnePermitReadyWhenAPauseEnds() {
    // README: "When the pause ends, one permit is ready and the rest follow at the rate".
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(5), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 5, t0));
    l.pause("k", t0, 10 * S);
    clock.now = t0 + 10 * S;
    assertEquals(0, l.pausedForNanos("k", clock.now));
    assertTrue(l.tryAcquire("k", 1, clock.now),
        "no permit when the pause ended (it came one interval later)");
  }

  // --- Overflow bucket: "stricter, never looser" ---

  @Test
  void aKeyThatDrainedTheOverflowBucketCannotStartFullWhenTheRecordIsFull() {
    RealRateLimiter l = new RealRateLimiter(
        RateLimit.perSecond(1).burst(5).maxKeys(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("a", 1, t0));            // "a" fills the table
    for (int i = 0; i < 4096; i++) {
      assertFalse(l.tryAcquire("k" + i, 6, t0));     // touch the overflow, take nothing
    }
    assertTrue(l.tryAcquire("x", 5, t0));             // "x" drains the shared bucket
    clock.now = t0 + S;                               // "a" is full again: swept, room made
    int granted = 0;
    while (l.tryAcquire("x", 1, clock.now)) {
      granted++;
    }
    // Over [t0, t0+1s] key "x" may have at most burst + rate x 1 s = 6 permits.
    assertTrue(5 + granted <= 6, "x was granted " + (5 + granted) + " permits within 1 s");
  }
}
