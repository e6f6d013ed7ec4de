package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The fallback bucket, on explicit time: the same answers as the Redis script would give. */
class LocalBucketTest {
  private static final long MS = 1_000_000L;
  private static final long T0 = 1_000_000_000_000L;

  @Test
  void startsEmptyAndRefillsAtItsShareOfTheRate() {
    // Half of 10/s with burst 4: 5/s (200 ms apart), burst 2.
    LocalBucket b = new LocalBucket(RateLimit.perSecond(10).burst(4), 0.5, T0);

    assertEquals(-200 * MS, b.reserve(T0, 1, 0));
    assertEquals(0, b.reserve(T0 + 200 * MS, 1, 0));
    assertEquals(0, b.reserve(T0 + 600 * MS, 1, 0));
    assertEquals(0, b.reserve(T0 + 600 * MS, 1, 0));
    assertEquals(-200 * MS, b.reserve(T0 + 600 * MS, 1, 0), "burst 2 used up");
  }

  @Test
  void reservesInLineWhenTheWaitFitsAndTakesNothingWhenItDoesNot() {
    LocalBucket b = new LocalBucket(RateLimit.perSecond(10).burst(1), 1, T0);

    assertEquals(100 * MS, b.reserve(T0, 1, 150 * MS));
    assertEquals(200 * MS, b.reserve(T0, 1, 250 * MS), "second in line");
    assertEquals(-300 * MS, b.reserve(T0, 1, 250 * MS), "refused, nothing taken");
    assertEquals(300 * MS, b.reserve(T0, 1, 300 * MS), "still third in line");
    assertEquals(RateLimitStore.NEVER, b.reserve(T0, 2, Long.MAX_VALUE));
  }

  @Test
  void theSlowestBandwidthDecides() {
    // 100/s burst 10 and 2 per second: after the empty start, 2/s rules.
    RateLimit limit = RateLimit.perSecond(100).burst(10).and(RateLimit.perSecond(2).burst(2));
    LocalBucket b = new LocalBucket(limit, 1, T0);

    assertEquals(1000 * MS, b.reserve(T0, 2, Long.MAX_VALUE));
    assertEquals(1500 * MS, b.reserve(T0, 1, Long.MAX_VALUE));
  }

  @Test
  void aPauseHoldsEverythingBackThenGrantsOnePermit() {
    LocalBucket b = new LocalBucket(RateLimit.perSecond(10).burst(5), 1, T0);
    long later = T0 + Duration.ofSeconds(10).toNanos();

    assertEquals(2000 * MS, b.pause(later, 2000 * MS));
    assertEquals(0, b.pause(later, 1000 * MS), "an earlier end moves nothing");

    assertEquals(-2000 * MS, b.reserve(later, 1, 0));
    long end = later + 2000 * MS;
    assertEquals(0, b.reserve(end, 1, 0));
    assertEquals(-100 * MS, b.reserve(end, 1, 0));
  }

  /**
   * Callers in line when a pause comes (RateLimitStore#heldFor): those due before it ends are
   * held until then and book again; one due after it goes at its time. The first bookings of
   * the held ones lapse inside the pause: pushed back with it, they would be charged twice, a
   * permit of the rate lost for each, after every pause that holds callers.
   */
  @Test
  void callersAPauseHoldsAreChargedOnceWhenTheyBookAgain() {
    // 10/s, burst 1, empty at T0: three callers in line, due at T0 + 100, 200 and 300 ms.
    LocalBucket b = new LocalBucket(RateLimit.perSecond(10).burst(1), 1, T0);
    for (int i = 1; i <= 3; i++) {
      assertEquals(i * 100 * MS, b.reserve(T0, 1, Long.MAX_VALUE));
    }
    // A 429 with Retry-After: 0.2 at T0 + 50 ms: the first two are held until T0 + 250 ms.
    assertEquals(200 * MS, b.pause(T0 + 50 * MS, 200 * MS));
    assertEquals(150 * MS, b.heldFor(T0 + 100 * MS, T0 + 100 * MS));
    assertEquals(50 * MS, b.heldFor(T0 + 200 * MS, T0 + 200 * MS));
    assertEquals(-1, b.heldFor(T0 + 300 * MS, T0 + 300 * MS), "due after the pause ends");

    // They book again at its end, behind the third (which goes at T0 + 300 ms), at the rate,
    // and a new caller comes after them: four calls from T0 + 300 ms, 100 ms apart.
    long end = T0 + 250 * MS;
    assertEquals(150 * MS, b.reserve(end, 1, Long.MAX_VALUE), "charged twice");
    assertEquals(250 * MS, b.reserve(end, 1, Long.MAX_VALUE), "charged twice");
    assertEquals(350 * MS, b.reserve(end, 1, Long.MAX_VALUE), "a new caller");
  }

  /** Settled: holding nothing a bucket made empty then would not, so it may be dropped. */
  @Test
  void isSettledWithNoPauseAheadAndNoCallInLinePastEmpty() {
    LocalBucket b = new LocalBucket(RateLimit.perSecond(10).burst(2), 1, T0);
    assertTrue(b.settled(T0), "empty, as made");

    assertEquals(100 * MS, b.reserve(T0, 1, Long.MAX_VALUE));
    assertFalse(b.settled(T0), "a call in line");
    assertTrue(b.settled(T0 + 100 * MS), "its turn came");

    assertEquals(500 * MS, b.pause(T0 + 100 * MS, 500 * MS));
    assertFalse(b.settled(T0 + 599 * MS), "a pause ahead");
    assertTrue(b.settled(T0 + 600 * MS), "the pause ended, one permit stored");
  }

  @Test
  void emptyingLeavesNoPermitStoredAndKeepsThePauseAndTheCallsInLine() {
    LocalBucket b = new LocalBucket(RateLimit.perSecond(10).burst(5), 1, T0);
    long full = T0 + 1000 * MS;
    b.empty(full);
    assertEquals(-100 * MS, b.reserve(full, 1, 0), "as a bucket made empty then");

    assertEquals(300 * MS, b.reserve(full, 3, Long.MAX_VALUE));
    b.empty(full);
    assertEquals(400 * MS, b.reserve(full, 1, Long.MAX_VALUE), "behind the calls in line");
    assertEquals(1000 * MS, b.pause(full, 1000 * MS));
    b.empty(full + 500 * MS);
    assertEquals(-500 * MS, b.reserve(full + 500 * MS, 1, 0), "until the pause ends");
  }

  /**
   * RateLimit accepts a permit per 50 years at most; the fallback's share makes it rarer (one
   * per 400 years for a tenth), past what a long of nanoseconds holds (292 years). The interval
   * was saturated and its sums wrapped: once a caller without a deadline had queued for the one
   * permit, the next call was granted at once.
   */
  @Test
  void aPermitRarerThanNanosecondsHoldAfterTheShareIsNeverGrantedEarly() {
    long second = 1000 * MS;
    RateLimit oncePer40Years = RateLimit.per(1, Duration.ofDays(40 * 365));

    LocalBucket queued = new LocalBucket(oncePer40Years, 0.1, T0);
    for (int i = 1; i <= 10; i++) {
      long r = queued.reserve(T0 + i * second, 1, Long.MAX_VALUE);
      assertTrue(r < 0 || r > Duration.ofDays(40 * 365).toNanos(),
          "call " + i + " without a deadline: " + r);
    }
    assertTrue(queued.reserve(T0 + 20 * second, 1, 0) < 0, "granted after the queue");

    // No share: forty years per permit fit, but ten callers queued without a deadline summed
    // to more than 292 years of nanoseconds.
    LocalBucket whole = new LocalBucket(oncePer40Years, 1, T0);
    for (int i = 1; i <= 10; i++) {
      long r = whole.reserve(T0 + i * second, 1, Long.MAX_VALUE);
      assertTrue(r < 0 || r >= Duration.ofDays(40 * 365).toNanos() - i * second,
          "call " + i + " without a deadline: " + r);
    }
    assertTrue(whole.reserve(T0 + 20 * second, 1, 0) < 0, "granted after the queue");
  }
}
