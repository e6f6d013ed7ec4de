package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.sun.net.httpserver.HttpServer;
import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A retry budget's ratio is "retries allowed per call": the larger, the fewer retries it refuses.
 * A ratio of 1e16 or more (Double.MAX_VALUE, say, for "as many as the calls want") overflowed
 * the budget's fixed-point sums and gave fewer retries than a ratio of 2.
 */
class HugeBudgetRatioTest {
  private final AtomicInteger requests = new AtomicInteger();
  private HttpServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.stop(0);
    }
  }

  @Test
  void aHugeRatioRefusesNoRetry() throws Exception {
    server = ClientTestSupport.jdkServer(x -> {
      requests.incrementAndGet();
      ClientTestSupport.bare(x, 503, null);
    });
    // The backoff sleeps on the fake clock: the floor of 10 retries a second barely refills.
    FakeClock clock = new FakeClock();
    try (ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(ClientTestSupport.url(server))
        .circuitBreaker(CircuitBreaker.none())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1)).maxAttempts(3)
            .budget(Double.MAX_VALUE, Duration.ofSeconds(1), 10))
        .build()) {
      for (int i = 0; i < 50; i++) {
        HttpStatusException e = assertThrows(HttpStatusException.class,
            () -> client.get("/x").execute(String.class));
        assertEquals(3, e.attempts(), "call " + i + ": " + e.getMessage());
      }
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(150, requests.get());
  }
}
