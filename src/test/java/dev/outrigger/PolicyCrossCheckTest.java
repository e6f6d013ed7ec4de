package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** build() checks the policies against each other and warns about combinations that cannot work. */
@SuppressWarnings("try") // the clients are built for their build()-time warnings alone
class PolicyCrossCheckTest {
  @Test
  void warnsWhenRetryBackoffsAloneExceedTheDeadline() {
    try (LogCapture logs = new LogCapture();
        ApiClient c = ApiClient.builder().deadline(Duration.ofSeconds(1))
            .retry(Retry.exponential(Duration.ofSeconds(1), Duration.ofSeconds(4))
                .maxAttempts(4).jitter(Jitter.NONE))
            .build()) {
      assertTrue(logs.all().contains("WARN retry backoffs alone"), logs.all());
    }
  }

  @Test
  void aHugeMaxAttemptsIsJudgedWithoutAddingEveryWait() {
    // The check summed one wait per attempt: maxAttempts(Integer.MAX_VALUE) made build() add
    // two billion terms (~2 s a build here, 7 s for the three below). Capped waits are all the
    // same, so they are counted at once.
    assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
      // 2 ms x ~2^31 waits is ~50 days: within the year; half of that (EQUAL) within 30 days,
      // not within 20.
      assertFalse(warnsOfBackoffs(Duration.ofDays(365), Jitter.NONE));
      assertFalse(warnsOfBackoffs(Duration.ofDays(30), Jitter.EQUAL));
      assertTrue(warnsOfBackoffs(Duration.ofDays(20), Jitter.EQUAL));
    });
  }

  /** Whether build() warns of backoffs past {@code deadline}, with ~2^31 waits of 2 ms. */
  private static boolean warnsOfBackoffs(Duration deadline, Jitter jitter) {
    try (LogCapture logs = new LogCapture();
        ApiClient c = ApiClient.builder().deadline(deadline)
            .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2))
                .maxAttempts(Integer.MAX_VALUE).jitter(jitter))
            .build()) {
      return logs.all().contains("WARN retry backoffs alone");
    }
  }

  @Test
  void decorrelatedJitterIsJudgedByItsOwnSmallestWaits() {
    // Decorrelated waits are at least the initial delay each, whatever the multiplier: three
    // retries need at least 3 s, which fits in 5 s (an exponential sum, 1 + 2 + 4, would not).
    try (LogCapture logs = new LogCapture();
        ApiClient c = ApiClient.builder().deadline(Duration.ofSeconds(5))
            .retry(Retry.exponential(Duration.ofSeconds(1), Duration.ofSeconds(10))
                .maxAttempts(4).jitter(Jitter.DECORRELATED))
            .build()) {
      assertFalse(logs.all().contains("WARN retry backoffs alone"), logs.all());
    }
    try (LogCapture logs = new LogCapture();
        ApiClient c = ApiClient.builder().deadline(Duration.ofMillis(2500))
            .retry(Retry.exponential(Duration.ofSeconds(1), Duration.ofSeconds(10))
                .maxAttempts(4).jitter(Jitter.DECORRELATED))
            .build()) {
      assertTrue(logs.all().contains("WARN retry backoffs alone (at least 3000 ms for 4 attempts)"),
          logs.all());
    }
  }

  @Test
  void warnsWhenNoCallCanEverCountAsSlow() {
    try (LogCapture logs = new LogCapture();
        ApiClient c = ApiClient.builder().deadline(Duration.ofSeconds(2))
            .circuitBreaker(CircuitBreaker.builder().slowCallRateThreshold(0.5)
                .slowCallDuration(Duration.ofSeconds(5)).build())
            .build()) {
      assertTrue(logs.all().contains("slowCallDuration"), logs.all());
    }
  }

  @Test
  void theDefaultsRaiseNoWarning() {
    try (LogCapture logs = new LogCapture();
        ApiClient c = ApiClient.builder().build()) {
      assertFalse(logs.all().contains("WARN"), logs.all());
    }
  }
}
