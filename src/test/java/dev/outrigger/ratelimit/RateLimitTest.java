package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallContext;
import dev.outrigger.RateLimit;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class RateLimitTest {

  @Test
  void perSecondRejectsRatesThatAreNotPositiveAndFiniteNamingTheRate() {
    for (double bad : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> RateLimit.perSecond(bad));
      assertTrue(e.getMessage().startsWith("rate must be"), e.getMessage());
      assertTrue(e.getMessage().endsWith("but was " + bad), e.getMessage());
    }
  }

  @Test
  void burstBelowOneIsRejectedNamingTheBurst() {
    IllegalArgumentException e = assertThrows(
        IllegalArgumentException.class, () -> RateLimit.perSecond(10).burst(0));
    assertEquals("burst must be at least 1, but was 0", e.getMessage());
  }

  @Test
  void perRejectsBadPermitsAndPeriodsNamingTheField() {
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> RateLimit.per(Double.NaN, Duration.ofMinutes(1))).getMessage()
        .startsWith("permits must be a positive finite number"));
    assertEquals("period must be positive, but was PT0S",
        assertThrows(IllegalArgumentException.class,
            () -> RateLimit.per(5, Duration.ZERO)).getMessage());
    assertEquals("period must be positive, but was PT-1S",
        assertThrows(IllegalArgumentException.class,
            () -> RateLimit.per(5, Duration.ofSeconds(-1))).getMessage());
  }

  /**
   * A period is held in nanoseconds: a longer one is refused, where it became 292 years and so a
   * faster rate than asked (1,000 per 1,000 years ran at 1,000 per 292 years).
   */
  @Test
  void aPeriodLongerThanNanosecondsHoldIsRejectedNotShortened() {
    String message = assertThrows(IllegalArgumentException.class,
        () -> RateLimit.per(1000, Duration.ofDays(365L * 1000))).getMessage();
    assertTrue(message.startsWith("period must be at most PT2562047H47M16.854775807S (about 292 "
        + "years), but was PT8760000H"), message);
    assertThrows(IllegalArgumentException.class,
        () -> RateLimit.per(1000, ChronoUnit.FOREVER.getDuration()));
    assertEquals(Duration.ofDays(365L * 200), RateLimit.per(1000, Duration.ofDays(365L * 200))
        .period());
  }

  @Test
  void ratesOutsideWhatTheBucketCanRepresentAreRejected() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RateLimit.perSecond(2e9))
        .getMessage().startsWith("rate must be at most 1e9"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RateLimit.perSecond(1e-10))
        .getMessage().startsWith("rate must be at least one permit per 50 years"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> RateLimit.per(1, Duration.ofDays(365)).burst(100)).getMessage()
        .startsWith("burst must take at most 50 years to refill"));
  }

  @Test
  void keyBoundAndPauseCapAreValidated() {
    assertEquals("maxKeys must be at least 1, but was 0", assertThrows(
        IllegalArgumentException.class, () -> RateLimit.perSecond(1).maxKeys(0)).getMessage());
    assertEquals("maxPause must be between 0 and 1 day, but was PT-1S", assertThrows(
        IllegalArgumentException.class,
        () -> RateLimit.perSecond(1).maxPause(Duration.ofSeconds(-1))).getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> RateLimit.perSecond(1).maxPause(Duration.ofDays(2)));
  }

  @Test
  void defaultBurstIsOnePeriodsWorthAndAtLeastOne() {
    assertEquals(100, RateLimit.perSecond(100).burst());
    assertEquals(4, RateLimit.perSecond(3.5).burst());
    assertEquals(1, RateLimit.perSecond(0.5).burst());
    assertEquals(500, RateLimit.per(500, Duration.ofMinutes(1)).burst());
    assertEquals(500.0 / 60, RateLimit.per(500, Duration.ofMinutes(1)).permitsPerSecond(), 1e-9);
  }

  @Test
  void withersReturnNewValuesAndLeaveTheOriginalAlone() {
    RateLimit base = RateLimit.perSecond(10);
    RateLimit burst = base.burst(3);
    assertEquals(10, base.burst());
    assertEquals(3, burst.burst());
    assertNotEquals(base, burst);
    assertEquals(RateLimit.perSecond(10).burst(3), burst);
    assertEquals(burst.hashCode(), RateLimit.perSecond(10).burst(3).hashCode());
    assertEquals(RateLimit.DEFAULT_MAX_KEYS, burst.maxKeys());
    assertEquals(Duration.ofSeconds(60), burst.maxPause());
    assertNull(burst.keyedBy());
    Function<CallContext, String> tenant = c -> "t";
    assertSame(tenant, burst.keyedBy(tenant).keyedBy());
  }

  @Test
  void combinedLimitsReportTheirTightestRateAndBurstAndEachBandwidth() {
    RateLimit perSecond = RateLimit.perSecond(10).burst(10);
    RateLimit perMinute = RateLimit.per(500, Duration.ofMinutes(1)).burst(50);
    RateLimit both = perSecond.and(perMinute).maxKeys(7);
    assertEquals(500.0 / 60, both.permitsPerSecond(), 1e-9);
    assertEquals(10, both.burst());
    assertEquals(List.of(perSecond, perMinute), both.bandwidths());
    assertEquals(7, both.maxKeys());
    assertEquals("RateLimit[10.0/s, burst 10; 500.0/PT1M, burst 50, maxKeys 7]", both.toString());
    assertEquals(List.of(perSecond), perSecond.maxKeys(3).bandwidths());
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> both.burst(3));
    assertTrue(e.getMessage().startsWith("burst applies to one bandwidth"), e.getMessage());
  }

  @Test
  void toStringOfASimpleLimitShowsRateAndBurst() {
    assertEquals("RateLimit[100.0/s, burst 20]", RateLimit.perSecond(100).burst(20).toString());
  }
}
