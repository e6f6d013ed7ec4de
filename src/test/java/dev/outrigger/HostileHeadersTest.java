package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.time.LocalDate;
import java.time.format.TextStyle;
import java.util.Locale;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * Whatever a server puts in its hints (Retry-After, a quota's reset), a call ends as the
 * documented exception or succeeds: a value no clock can hold is garbage or cut to the cap,
 * never an {@link ArithmeticException}.
 */
class HostileHeadersTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  /** An asctime HTTP-date in year 300,000,000: it parses, but no epoch millisecond holds it. */
  private static String farAsctime() {
    String day = LocalDate.of(300_000_000, 11, 6).getDayOfWeek()
        .getDisplayName(TextStyle.SHORT, Locale.US);
    return day + " Nov  6 08:49:37 +300000000";
  }

  private ApiClient client(ApiClient.Builder b) {
    return b.baseUrl(server.url("/").toString()).build();
  }

  @Test
  void aRetryAfterBeyondNanosecondsOnA429EndsAsItsStatus() {
    // 11 digits of seconds: more than Duration.toNanos() can hold.
    server.enqueue(new MockResponse.Builder().code(429)
        .addHeader("Retry-After", "99999999999").build());
    try (ApiClient client = client(ApiClient.builder())) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(429, e.status());
      assertEquals(1, e.attempts(), "the wait cannot fit in the deadline: not retried");
    }
  }

  @Test
  void aRetryAfterDateBeyondEpochMillisecondsIsIgnored() {
    for (int i = 0; i < 3; i++) {
      server.enqueue(new MockResponse.Builder().code(503)
          .addHeader("Retry-After", farAsctime()).build());
    }
    try (ApiClient client = client(ApiClient.builder()
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(3)))) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(503, e.status());
      assertEquals(3, e.attempts(), "garbage asks nothing: the backoff's own waits");
    }
  }

  @Test
  void aQuotaResetBeyondEpochMillisecondsLeavesASuccessfulCallAlone() {
    server.enqueue(new MockResponse.Builder().body("ok")
        .addHeader("X-RateLimit-Remaining", "0")
        .addHeader("X-RateLimit-Reset", farAsctime()).build());
    server.enqueue(new MockResponse.Builder().body("again").build());
    try (ApiClient client = client(ApiClient.builder().rateLimit(RateLimit.perSecond(100)))) {
      assertEquals("ok", client.get("/x").execute(String.class));
      assertEquals("again", client.get("/x").execute(String.class),
          "garbage pauses nothing");
    }
  }
}
