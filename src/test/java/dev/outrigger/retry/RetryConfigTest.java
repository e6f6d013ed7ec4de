package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class RetryConfigTest {
  private final Retry base = Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(2));

  @Test
  void contractUsageCompilesAndKeepsItsValues() {
    Retry r = Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(2))
        .maxAttempts(4).jitter(Jitter.FULL);
    assertEquals(Duration.ofMillis(50), r.initialDelay());
    assertEquals(Duration.ofSeconds(2), r.maxDelay());
    assertEquals(4, r.maxAttempts());
    assertEquals(Jitter.FULL, r.jitter());
  }

  @Test
  void defaultsAreThoseDocumented() {
    assertEquals(3, base.maxAttempts());
    assertEquals(2.0, base.multiplier());
    assertEquals(Jitter.FULL, base.jitter());
    assertEquals(Duration.ofSeconds(60), base.maxRetryAfter());
    assertTrue(base.budgetEnabled());
    assertEquals(0.2, base.budgetRatio());
    assertEquals(Duration.ofSeconds(10), base.budgetWindow());
    assertEquals(10, base.budgetMinRetriesPerSecond());
    assertFalse(base.retryWhenCircuitOpen());
    assertNull(base.random());
    assertNull(base.retryOnStatus());
    assertNull(base.retryOnResponse());
    assertNull(base.retryOnException());
  }

  @Test
  void noneSendsOnce() {
    assertEquals(1, Retry.none().maxAttempts());
    assertSame(Retry.none(), Retry.none());
    assertEquals("Retry[none]", Retry.none().toString());
  }

  @Test
  void withersReturnNewValuesAndLeaveTheOriginalAlone() {
    Retry changed = base.maxAttempts(5).multiplier(3).jitter(Jitter.EQUAL)
        .maxRetryAfter(Duration.ofSeconds(5)).budget(0.5, Duration.ofSeconds(30), 20)
        .retryWhenCircuitOpen(true);
    assertEquals(3, base.maxAttempts());
    assertEquals(2.0, base.multiplier());
    assertEquals(Jitter.FULL, base.jitter());
    assertEquals(Duration.ofSeconds(60), base.maxRetryAfter());
    assertEquals(0.2, base.budgetRatio());
    assertFalse(base.retryWhenCircuitOpen());

    assertEquals(5, changed.maxAttempts());
    assertEquals(3.0, changed.multiplier());
    assertEquals(Jitter.EQUAL, changed.jitter());
    assertEquals(Duration.ofSeconds(5), changed.maxRetryAfter());
    assertEquals(0.5, changed.budgetRatio());
    assertEquals(Duration.ofSeconds(30), changed.budgetWindow());
    assertEquals(20, changed.budgetMinRetriesPerSecond());
    assertTrue(changed.retryWhenCircuitOpen());
    assertFalse(changed.noBudget().budgetEnabled());
    assertTrue(changed.noBudget().budget(0.1, Duration.ofSeconds(1), 10).budgetEnabled());
  }

  @Test
  void equalValuesAreEqual() {
    assertEquals(base.maxAttempts(4), base.maxAttempts(4));
    assertEquals(base.maxAttempts(4).hashCode(), base.maxAttempts(4).hashCode());
    assertNotEquals(base.maxAttempts(4), base.maxAttempts(5));
    assertNotEquals(base, base.noBudget());
  }

  @Test
  void badValuesAreRejectedNamingTheSettingAndTheValue() {
    rejects(() -> Retry.exponential(Duration.ZERO, Duration.ofSeconds(1)),
        "initialDelay must be positive, but was PT0S");
    rejects(() -> Retry.exponential(Duration.ofSeconds(2), Duration.ofSeconds(1)),
        "maxDelay must be at least initialDelay (PT2S), but was PT1S");
    rejects(() -> base.maxAttempts(0), "maxAttempts must be at least 1, but was 0");
    rejects(() -> base.multiplier(0.5), "multiplier must be a finite number >= 1, but was 0.5");
    rejects(() -> base.multiplier(Double.NaN), "but was NaN");
    rejects(() -> base.multiplier(Double.POSITIVE_INFINITY), "but was Infinity");
    rejects(() -> base.maxRetryAfter(Duration.ofSeconds(-1)),
        "maxRetryAfter must not be negative, but was PT-1S");
    rejects(() -> base.budget(-0.1, Duration.ofSeconds(10), 10),
        "budget ratio must be a finite number >= 0, but was -0.1");
    rejects(() -> base.budget(Double.NaN, Duration.ofSeconds(10), 10), "but was NaN");
    rejects(() -> base.budget(0.2, Duration.ofMillis(999), 10),
        "budget window must be between 1 and 60 seconds, but was PT0.999S");
    rejects(() -> base.budget(0.2, Duration.ofSeconds(61), 10), "but was PT1M1S");
    rejects(() -> base.budget(0.2, Duration.ofSeconds(10), 9),
        "budget minRetriesPerSecond must be at least 10, but was 9");
  }

  @Test
  void aStatusRuleAndAResponseRuleAreNotSetTogether() {
    // One of the two decides: setting both silently dropped the status rule.
    IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
        () -> base.retryOnStatus(st -> st == 503).retryOnResponse(r -> true));
    assertTrue(both.getMessage().contains("test the status in retryOnResponse"),
        both.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> base.retryOnResponse(r -> true).retryOnStatus(st -> st == 503));
  }

  /**
   * Retry.defaults() is what a client given no retry policy uses, as CircuitBreaker.defaults()
   * is for breakers: changing one setting keeps the others, without restating 100 ms and 2 s.
   */
  @Test
  void defaultsAreThePolicyAClientUsesWhenGivenNone() {
    Retry d = Retry.defaults();
    assertEquals(Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(2)), d);
    assertEquals(3, d.maxAttempts());
    Retry five = d.maxAttempts(5);
    assertEquals(5, five.maxAttempts());
    assertEquals(Duration.ofMillis(100), five.initialDelay());
    assertEquals(Duration.ofSeconds(2), five.maxDelay());
    assertEquals(3, Retry.defaults().maxAttempts(), "the wither left the defaults alone");
    try (ApiClient plain = ApiClient.builder().baseUrl("http://localhost/").build()) {
      assertTrue(plain.describe().contains("  -> " + d + "\n"), plain.describe());
    }
  }

  @Test
  void nullsAreRejectedNamingTheArgument() {
    assertThrows(NullPointerException.class, () -> base.jitter(null));
    assertThrows(NullPointerException.class, () -> base.random(null));
    assertThrows(NullPointerException.class, () -> base.retryOnStatus(null));
    assertThrows(NullPointerException.class, () -> base.retryOnResponse(null));
    assertThrows(NullPointerException.class, () -> base.retryOnException(null));
    assertThrows(NullPointerException.class, () -> base.maxRetryAfter(null));
  }

  @Test
  void toStringShowsTheEffectiveSettings() {
    assertEquals("Retry[3 attempts, PT0.05S..PT2S x2.0, jitter FULL, Retry-After up to PT1M,"
        + " budget 0.2 of calls per PT10S + 10/s per host]", base.toString());
    String custom = base.noBudget().retryOnStatus(s -> s == 404).retryWhenCircuitOpen(true)
        .random(new Random(1)).toString();
    assertTrue(custom.contains("no budget"), custom);
    assertTrue(custom.contains("custom status rule"), custom);
    assertTrue(custom.contains("retries open circuits"), custom);
    assertTrue(custom.contains("random Random"), custom);
  }

  private static void rejects(Executable e, String message) {
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
    assertTrue(x.getMessage().contains(message), x.getMessage());
  }
}
