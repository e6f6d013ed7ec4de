package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/**
 * A 503's {@code Retry-After: 0} is hidden from OkHttp (which would re-send the request by
 * itself) as a date in 1970; above OkHttp, what the client's own code and the user's see is the
 * server's {@code 0} again.
 */
class RetryAfterZeroTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private static MockResponse unavailableRetryNow() {
    return new MockResponse.Builder().code(503).addHeader("Retry-After", "0").build();
  }

  @Test
  void interceptorsSeeTheServersZero() {
    server.enqueue(unavailableRetryNow());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    List<String> seen = new CopyOnWriteArrayList<>();
    try (ApiClient client = ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(2))
        .addAttemptInterceptor(chain -> {
          Response r = chain.proceed(chain.request());
          seen.add(r.code() + " " + r.header("Retry-After"));
          return r;
        })
        .build()) {
      assertEquals("ok", client.get("/x").execute(String.class));
    }
    assertEquals(List.of("503 0", "200 null"), seen);
    assertEquals(2, server.getRequestCount(), "one retry, the policy's, not OkHttp's");
  }
}
