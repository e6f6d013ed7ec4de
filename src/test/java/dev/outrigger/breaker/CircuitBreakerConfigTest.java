package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitBreaker.WindowType;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.TransportException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class CircuitBreakerConfigTest {

  private static void rejects(String expected, Executable setter) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, setter);
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @Test
  void theDefaultsNeedTwentyCallsAndOpenAtHalf() {
    CircuitBreaker d = CircuitBreaker.defaults();
    assertEquals(WindowType.COUNT_BASED, d.slidingWindowType());
    assertEquals(100, d.slidingWindowSize());
    assertEquals(20, d.minimumNumberOfCalls());
    assertEquals(0.5, d.failureRateThreshold());
    assertEquals(1.0, d.slowCallRateThreshold());
    assertEquals(Duration.ofSeconds(60), d.slowCallDuration());
    assertEquals(Duration.ofSeconds(5), d.waitInOpenState());
    assertEquals(Duration.ofSeconds(5), d.maxWaitInOpenState());
    assertEquals(3, d.permittedCallsInHalfOpen());
    assertEquals(1_000, d.maxBreakers());
    assertTrue(d.enabled());
    assertFalse(CircuitBreaker.none().enabled());
  }

  @Test
  void theDefaultFailuresAreTransportErrorsDeadlineCutsAnd5xx() {
    CircuitBreaker d = CircuitBreaker.defaults();
    for (TransportException.Kind kind : TransportException.Kind.values()) {
      boolean failure = d.failureException().test(new TransportException("x", null, 1, kind));
      assertEquals(kind != TransportException.Kind.CANCELLED, failure, kind.name());
    }
    assertTrue(d.failureException().test(new DeadlineExceededException("x", null, 1)));
    assertFalse(d.failureException().test(new IllegalStateException()));
    assertTrue(d.failureStatus().test(500));
    assertTrue(d.failureStatus().test(503));
    assertTrue(d.failureStatus().test(599));
    assertFalse(d.failureStatus().test(429));
    assertFalse(d.failureStatus().test(404));
    assertFalse(d.failureStatus().test(200));
  }

  @Test
  void everySetterNamesItsSettingAndTheBadValue() {
    CircuitBreaker.Builder b = CircuitBreaker.builder();
    rejects("slidingWindowSize must be between 1 and 1000000, but was 0",
        () -> b.slidingWindowSize(0));
    rejects("minimumNumberOfCalls must be at least 1, but was -3",
        () -> b.minimumNumberOfCalls(-3));
    // Resilience4j takes percentages: the message says this one is a fraction.
    rejects("failureRateThreshold must be greater than 0 and at most 1 (a fraction: 0.5 for "
        + "50%), but was 50.0", () -> b.failureRateThreshold(50));
    rejects("failureRateThreshold must be greater than 0 and at most 1 (a fraction: 0.5 for "
        + "50%), but was NaN", () -> b.failureRateThreshold(Double.NaN));
    rejects("slowCallRateThreshold must be greater than 0 and at most 1 (a fraction: 0.8 for "
        + "80%), but was 80.0", () -> b.slowCallRateThreshold(80));
    rejects("slowCallDuration must be positive, but was PT0S",
        () -> b.slowCallDuration(Duration.ZERO));
    rejects("waitInOpenState must be positive, but was PT-1S",
        () -> b.waitInOpenState(Duration.ofSeconds(-1)));
    rejects("waitInOpenStateGrowth multiplier must be a finite number >= 1, but was 0.5",
        () -> b.waitInOpenStateGrowth(0.5, Duration.ofSeconds(10)));
    rejects("permittedCallsInHalfOpen must be between 1 and 100000, but was 0",
        () -> b.permittedCallsInHalfOpen(0));
    rejects("maxBreakers must be at least 1, but was 0", () -> b.maxBreakers(0));
  }

  @Test
  void buildChecksTheSettingsTogetherWhateverTheirOrder() {
    rejects("minimumNumberOfCalls (30) must not exceed slidingWindowSize (10)",
        () -> CircuitBreaker.builder().minimumNumberOfCalls(30).slidingWindowSize(10).build());
    rejects("minimumNumberOfCalls (30) must not exceed slidingWindowSize (10)",
        () -> CircuitBreaker.builder().slidingWindowSize(10).minimumNumberOfCalls(30).build());
    // Only the window set: the message says the other number is the default, and what to do.
    rejects("minimumNumberOfCalls (20, the default) must not exceed slidingWindowSize (10): "
            + "the breaker could never open; set minimumNumberOfCalls(n) to at most 10",
        () -> CircuitBreaker.builder().slidingWindowSize(10).build());
    // A time window counts seconds: it may need more calls than it has seconds.
    CircuitBreaker time = CircuitBreaker.builder().minimumNumberOfCalls(30).slidingWindowSize(10)
        .slidingWindowType(WindowType.TIME_BASED).build();
    assertEquals(30, time.minimumNumberOfCalls());
    rejects("a TIME_BASED slidingWindowSize must be at most 3600 seconds, but was 3601",
        () -> CircuitBreaker.builder().slidingWindowType(WindowType.TIME_BASED)
            .slidingWindowSize(3601).build());
    rejects("waitInOpenStateGrowth max (PT2S) must be at least waitInOpenState (PT5S): raise",
        () -> CircuitBreaker.builder().waitInOpenStateGrowth(2, Duration.ofSeconds(2)).build());
    assertEquals(Duration.ofSeconds(20), CircuitBreaker.builder()
        .waitInOpenStateGrowth(2, Duration.ofSeconds(20)).waitInOpenState(Duration.ofSeconds(1))
        .build().maxWaitInOpenState());
  }

  @Test
  void growthOfOneIsAConstantWaitWhateverItsMax() {
    // The max is never reached at multiplier 1, so a max below the 5 s default is no error.
    CircuitBreaker constant = CircuitBreaker.builder()
        .waitInOpenStateGrowth(1.0, Duration.ofSeconds(1)).build();
    assertEquals(1.0, constant.waitInOpenStateMultiplier());
    assertEquals(Duration.ofSeconds(5), constant.maxWaitInOpenState());
    assertEquals(CircuitBreaker.defaults(), constant);
  }

  @Test
  void newBuilderDerivesAVariantAndLeavesTheOriginalAlone() {
    CircuitBreaker a = CircuitBreaker.builder().slidingWindowSize(40).minimumNumberOfCalls(10)
        .waitInOpenStateGrowth(3, Duration.ofMinutes(2)).build();
    CircuitBreaker b = a.newBuilder().failureRateThreshold(0.25).build();
    assertEquals(0.5, a.failureRateThreshold());
    assertEquals(0.25, b.failureRateThreshold());
    assertEquals(40, b.slidingWindowSize());
    assertEquals(3.0, b.waitInOpenStateMultiplier());
    assertEquals(Duration.ofMinutes(2), b.maxWaitInOpenState());
  }

  @Test
  void toStringDescribesTheEffectiveSettings() {
    assertEquals("CircuitBreaker[window 100 calls, min 20, failure rate >= 0.5 (5xx, transport "
        + "failures and deadline-cut attempts), slow rate >= 1.0 over PT1M, open PT5S, "
        + "half-open probes 3, per host, max 1000 breakers]", CircuitBreaker.defaults().toString());
    assertEquals("CircuitBreaker[none]", CircuitBreaker.none().toString());
    // A key function of the user's is named as such, not by its lambda's class name.
    assertTrue(CircuitBreaker.builder().keyedBy(ctx -> ctx.host() + ctx.url().encodedPath())
        .build().toString().endsWith(", custom key, max 1000 breakers]"));
  }

  @Test
  void toStringNamesTheUsersFailureRulesAsSuchNotByTheirLambdaClass() {
    String s = CircuitBreaker.builder().failureStatus(status -> status == 503)
        .failureException(t -> t instanceof java.io.IOException).build().toString();
    assertTrue(s.contains("failure rate >= 0.5 (custom status rule, custom exception rule)"), s);
    assertFalse(s.contains("Lambda"), s);
  }

  @Test
  void configsWithTheSameSettingsAreEqualAsRetryAndRateLimitAre() {
    assertEquals(CircuitBreaker.defaults(), CircuitBreaker.defaults());
    assertEquals(CircuitBreaker.defaults().hashCode(), CircuitBreaker.defaults().hashCode());
    CircuitBreaker tuned = CircuitBreaker.builder().slidingWindowSize(20).minimumNumberOfCalls(10)
        .failureRateThreshold(0.5).waitInOpenState(Duration.ofSeconds(5)).build();
    assertEquals(tuned, CircuitBreaker.builder().slidingWindowSize(20).minimumNumberOfCalls(10)
        .failureRateThreshold(0.5).waitInOpenState(Duration.ofSeconds(5)).build());
    assertFalse(tuned.equals(CircuitBreaker.defaults()));
    assertFalse(tuned.equals(CircuitBreaker.builder().slidingWindowSize(20)
        .minimumNumberOfCalls(10).failureRateThreshold(0.6)
        .waitInOpenState(Duration.ofSeconds(5)).build()), "one setting differs");
    assertFalse(CircuitBreaker.none().equals(CircuitBreaker.defaults()));
  }
}
