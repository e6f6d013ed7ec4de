package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A 503's {@code Retry-After} too large for OkHttp's {@code int} is hidden from OkHttp (which
 * would throw on it); above OkHttp, predicates and messages see what the server sent, not
 * {@code Integer.MAX_VALUE}.
 */
class HugeRetryAfterTest {
  private static final String HUGE = "99999999999";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private static MockResponse unavailable() {
    return new MockResponse.Builder().code(503).addHeader("Retry-After", HUGE).body("busy")
        .build();
  }

  @Test
  void theStopMessageQuotesTheServersValue() throws Exception {
    server.enqueue(unavailable());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2))).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/x").deadline(Duration.ofSeconds(5)).execute(String.class));

      assertTrue(e.getMessage().contains("(Retry-After: " + HUGE + ")"), e.getMessage());
      assertFalse(e.getMessage().contains("2147483647"), e.getMessage());
      assertTrue(e.getMessage().contains("retry after more than "), e.getMessage());
      assertTrue(e.getMessage().contains("capped to 60s"), e.getMessage());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aRequestTimeoutWithAHugeRetryAfterIsAnAnswerNotANumberFormatException() throws Exception {
    // OkHttp reads a 408's Retry-After too, once an interceptor turns its own re-send back on
    // for the call (which it may, README: within one attempt).
    server.enqueue(new MockResponse.Builder().code(408).addHeader("Retry-After", HUGE)
        .body("too slow").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .addOkHttpInterceptor(chain ->
            chain.withRetryOnConnectionFailure(true).proceed(chain.request()))
        .build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(408, e.status());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void predicatesAndListenersSeeTheServersValue() throws Exception {
    server.enqueue(unavailable());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    List<String> seen = new CopyOnWriteArrayList<>();
    List<String> reasons = new CopyOnWriteArrayList<>();
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2))
            .maxRetryAfter(Duration.ofMillis(1))
            .retryOnResponse(r -> {
              seen.add(r.code() + " " + r.header("Retry-After"));
              return r.code() == 503;
            }))
        .addListener(new CallListener() {
          @Override
          public void retryScheduled(CallContext call, Duration delay, String reason) {
            reasons.add(reason);
          }
        })
        .build()) {
      assertEquals("ok", client.get("/x").execute(String.class));
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(List.of("503 " + HUGE, "200 null"), seen);
    assertEquals(1, reasons.size());
    assertFalse(reasons.get(0).contains("2147483647"), reasons.get(0));
    assertFalse(reasons.get(0).contains("forever"), reasons.get(0));
  }
}
