package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * {@code Retry-After} is {@code 1*DIGIT} (RFC 9110 10.2.3): leading zeros are allowed and mean
 * nothing. Thirteen digits or more were read as "longer than anything" before the zeros were
 * dropped, so {@code 00000000000002} (2 s) became a wait of {@code maxRetryAfter} or a call
 * stopped at once for a deadline it fitted in.
 */
class RetryAfterLeadingZerosTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void leadingZerosDoNotLengthenTheServersWait() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503)
        .addHeader("Retry-After", "00000000000002").build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    FakeClock clock = new FakeClock();
    try (ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .retry(Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(1))
            .jitter(Jitter.NONE))
        .build()) {
      assertEquals("ok", client.get("/x").deadline(Duration.ofSeconds(10)).execute(String.class));
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(List.of(Duration.ofSeconds(2).toNanos()), clock.sleeps());
    assertEquals(2, server.getRequestCount());
  }
}
