package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bucket's arithmetic on one thread, with a clock moved by hand. */
class TokenBucketTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final FakeClock clock = new FakeClock();

  private RealRateLimiter limiter(RateLimit limit) {
    return new RealRateLimiter(limit, clock.nanoTime());
  }

  private boolean take(RealRateLimiter l, int n) {
    return l.tryAcquire(null, n, clock.nanoTime());
  }

  @Test
  void aNewBucketIsFullAndGrantsExactlyItsBurst() {
    RealRateLimiter l = limiter(RateLimit.perSecond(10).burst(3));
    assertEquals(3, l.available(null, clock.nanoTime()));
    assertTrue(take(l, 1));
    assertTrue(take(l, 2));
    assertFalse(take(l, 1));
    assertEquals(0, l.available(null, clock.nanoTime()));
  }

  @Test
  void permitsRefillContinuouslyAtTheRate() {
    RealRateLimiter l = limiter(RateLimit.perSecond(10).burst(3));
    assertTrue(take(l, 3));
    clock.advance(100 * MS - 1);
    assertFalse(take(l, 1));
    clock.advance(1);
    assertTrue(take(l, 1));
    assertFalse(take(l, 1));
    clock.advance(250 * MS);
    assertTrue(take(l, 2));
    assertFalse(take(l, 1));
  }

  @Test
  void refillStopsAtTheBurst() {
    RealRateLimiter l = limiter(RateLimit.perSecond(10).burst(3));
    assertTrue(take(l, 3));
    clock.advance(10 * S);
    assertEquals(3, l.available(null, clock.nanoTime()));
    assertFalse(take(l, 4));
    assertTrue(take(l, 3));
  }

  @Test
  void aFractionalRateGrantsOnePermitEveryTwoSecondsAtHalfAPermitPerSecond() {
    RealRateLimiter l = limiter(RateLimit.perSecond(0.5));
    assertTrue(take(l, 1));
    clock.advance(2 * S - 1);
    assertFalse(take(l, 1));
    clock.advance(1);
    assertTrue(take(l, 1));
  }

  @Test
  void aFractionalIntervalKeepsItsFractionOverManyPermits() {
    // 3 per second is 333,333,333.3 ns apart: 3,000 permits take 1,000 s, no more, no less.
    RealRateLimiter l = limiter(RateLimit.perSecond(3).burst(3000));
    assertTrue(take(l, 3000));
    clock.advance(1000 * S - 10 * MS);
    assertEquals(2999, l.available(null, clock.nanoTime()));
    clock.advance(20 * MS);
    assertEquals(3000, l.available(null, clock.nanoTime()));
  }

  @Test
  void tryAcquireThatFailsChangesNothing() {
    RealRateLimiter l = limiter(RateLimit.perSecond(10).burst(5));
    assertTrue(take(l, 3));
    assertFalse(take(l, 3));
    assertFalse(take(l, 6));
    assertEquals(2, l.available(null, clock.nanoTime()));
    assertTrue(take(l, 2));
  }

  @Test
  void severalBandwidthsGrantOnlyWhenEveryOneHasThePermitsAndTakeThemFromAll() {
    RateLimit limit = RateLimit.perSecond(10).burst(5)
        .and(RateLimit.per(6, Duration.ofMinutes(1)).burst(6));
    RealRateLimiter l = limiter(limit);
    assertTrue(take(l, 5));
    assertFalse(take(l, 1));
    clock.advance(S);
    // The per-second bandwidth is full again (5), the per-minute one has 1.1 left.
    assertEquals(1, l.available(null, clock.nanoTime()));
    assertFalse(take(l, 2));
    // The refused call took nothing from the per-second bandwidth either.
    assertTrue(take(l, 1));
    assertFalse(take(l, 1));
    clock.advance(9 * S);
    assertTrue(take(l, 1));
    assertFalse(take(l, 1));
  }

  @Test
  void withSeveralBandwidthsAWaitLastsUntilTheSlowestHasThePermits()
      throws InterruptedException {
    RateLimit limit = RateLimit.perSecond(10).burst(5)
        .and(RateLimit.per(6, Duration.ofMinutes(1)).burst(6));
    RealRateLimiter l = limiter(limit);
    assertTrue(take(l, 5));
    // Per second: empty, 100 ms to the next; per minute: one left. The wait is 100 ms.
    assertEquals(100 * MS, l.acquire(null, 1, 60 * S, clock));
    // Now the per-minute bandwidth is empty: its next permit is 10 s after the first grant.
    assertEquals(10 * S - 100 * MS, l.acquire(null, 1, 60 * S, clock));
    // Refused when the timeout is shorter, and nothing is taken from either bandwidth.
    assertEquals(-10 * S, l.acquire(null, 1, S, clock));
    assertEquals(List.of(100 * MS, 10 * S - 100 * MS), clock.sleeps());
    clock.advance(10 * S);
    assertTrue(take(l, 1));
  }

  @Test
  void underSaturationTheBucketGrantsExactlyBurstPlusRateTimesTime() {
    RealRateLimiter l = limiter(RateLimit.perSecond(1000).burst(10));
    long end = clock.nanoTime() + 5 * S;
    int granted = 0;
    while (clock.nanoTime() - end <= 0) {
      while (take(l, 1)) {
        granted++;
      }
      clock.advance(25_000);
    }
    assertEquals(10 + 5000, granted);
  }

  @Test
  void aWaitIsTheExactTimeUntilThePermitsHaveRefilled() throws InterruptedException {
    RealRateLimiter l = limiter(RateLimit.perSecond(10).burst(2));
    assertTrue(take(l, 2));
    assertEquals(100 * MS, l.acquire(null, 1, S, clock));
    assertEquals(200 * MS, l.acquire(null, 2, S, clock));
    assertEquals(List.of(100 * MS, 200 * MS), clock.sleeps());
  }

  @Test
  void aWaitBeyondTheLimitFailsAtOnceAndConsumesNothing() throws InterruptedException {
    RealRateLimiter l = limiter(RateLimit.perSecond(1).burst(1));
    assertTrue(take(l, 1));
    assertEquals(-S, l.acquire(null, 1, 500 * MS, clock));
    assertEquals(List.of(), clock.sleeps());
    assertEquals(0, l.available(null, clock.nanoTime()));
    assertEquals(S, l.acquire(null, 1, S, clock));
  }

  @Test
  void moreThanTheBurstCanNeverBeAcquired() throws InterruptedException {
    RealRateLimiter l = limiter(RateLimit.perSecond(10).burst(3));
    assertTrue(RealRateLimiter.never(l.acquire(null, 4, 10 * S, clock)));
    assertFalse(take(l, 4));
    assertEquals(3, l.available(null, clock.nanoTime()));
  }

  @Test
  void aZeroWaitLimitGrantsOnlyWhatIsAvailableNow() throws InterruptedException {
    RealRateLimiter l = limiter(RateLimit.perSecond(10).burst(1));
    assertEquals(0, l.acquire(null, 1, 0, clock));
    assertEquals(-100 * MS, l.acquire(null, 1, 0, clock));
    assertEquals(-100 * MS, l.acquire(null, 1, -5, clock));
  }

  @Test
  void highRatesKeepTheirPrecision() {
    // 3e7 per second is 33.33 ns per permit: 30,000 in a millisecond. Whole nanoseconds would
    // round the interval to 34 ns and grant 29,411.
    RealRateLimiter l = limiter(RateLimit.perSecond(3e7).burst(1_000_000));
    assertTrue(take(l, 1_000_000));
    clock.advance(MS);
    long granted = l.available(null, clock.nanoTime());
    assertTrue(granted <= 30_000 && granted >= 29_950, "granted " + granted);
  }

  @Test
  void aBucketIdleForYearsIsStillFull() {
    // Regression: with 8 bits of sub-nanosecond fraction, 417 idle days wrapped the comparison
    // of the bucket's time with now, and a full bucket read as owing permits.
    RealRateLimiter l = limiter(RateLimit.perSecond(10).burst(3));
    assertTrue(take(l, 1));
    for (int days = 50; days <= 10 * 365; days += 50) {
      clock.advance(Duration.ofDays(50).toNanos());
      assertEquals(3, l.available(null, clock.nanoTime()), "after " + days + " idle days");
    }
    assertTrue(take(l, 3));
    assertFalse(take(l, 1));
  }

  @Test
  void slowLimitsSpanningDaysWork() {
    RealRateLimiter l = limiter(RateLimit.per(100, Duration.ofDays(30)));
    assertTrue(take(l, 100));
    assertFalse(take(l, 1));
    clock.advance(Duration.ofDays(30).toNanos() / 100);
    assertTrue(take(l, 1));
    assertFalse(take(l, 1));
  }
}
