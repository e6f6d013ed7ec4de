package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A request sent again from outside the retry policy (after an auth refresh, by a call
 * interceptor) gets the retries any request gets; attempts keep their call-wide numbers.
 */
class SecondPassRetryTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private static MockResponse status(int code) {
    return new MockResponse.Builder().code(code).body("s" + code).build();
  }

  private final List<Integer> attempts = new CopyOnWriteArrayList<>();
  private final CallListener numbering = new CallListener() {
    @Override
    public void attemptStart(CallContext ctx) {
      attempts.add(ctx.attempt());
    }
  };

  private ApiClient.Builder client() {
    return ApiClient.builder().baseUrl(server.url("/").toString())
        .circuitBreaker(CircuitBreaker.none())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(2))
        .addListener(numbering);
  }

  @Test
  void theRequestRefreshedAfterA401IsRetriedLikeAnyOther() {
    server.enqueue(status(401));
    server.enqueue(status(503));
    server.enqueue(status(200));
    try (dev.outrigger.LogCapture log = new dev.outrigger.LogCapture();
        ApiClient c = client().auth(refresh -> refresh ? "Bearer new" : "Bearer old").build()) {
      ApiResponse<String> r = c.get("/x").send(String.class);
      assertEquals("s200", r.body());
      assertEquals(3, r.attempts());
      org.junit.jupiter.api.Assertions.assertTrue(
          log.all().contains("attempt 2 (1 of 2 in this pass) failed (HTTP 503)"), log.all());
    }
    assertEquals(List.of(1, 2, 3), attempts);
    assertEquals(3, server.getRequestCount());
  }

  @Test
  void aCallInterceptorThatProceedsAgainGivesThatPassItsRetries() {
    server.enqueue(status(200));
    server.enqueue(status(503));
    server.enqueue(status(200));
    try (ApiClient c = client()
        .addCallInterceptor(chain -> {
          chain.proceed(chain.request()).close(); // look first, then send for real
          return chain.proceed(chain.request());
        })
        .build()) {
      ApiResponse<String> r = c.get("/x").send(String.class);
      assertEquals("s200", r.body());
      assertEquals(3, r.attempts());
    }
    assertEquals(List.of(1, 2, 3), attempts);
  }
}
