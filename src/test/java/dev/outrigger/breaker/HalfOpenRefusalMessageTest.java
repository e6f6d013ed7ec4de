package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A call a half-open breaker refuses is told how many of its probes are still out: once one of
 * two has answered, one is in flight, not "all 2".
 */
class HalfOpenRefusalMessageTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  private final FakeClock time = new FakeClock();
  private final CountDownLatch release = new CountDownLatch(1);
  private final CountDownLatch slowArrived = new CountDownLatch(1);

  @Test
  void theRefusalCountsOnlyTheProbesStillOut() throws Exception {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        String path = request.getUrl().encodedPath();
        if (path.equals("/fail")) {
          return new MockResponse.Builder().code(503).body("down").build();
        }
        if (path.equals("/slow")) {
          slowArrived.countDown();
          release.await(10, TimeUnit.SECONDS);
        }
        return new MockResponse.Builder().body("ok").build();
      }
    });
    try (ApiClient c = ClientTestSupport.withClock(ApiClient.builder(), time)
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .deadline(Duration.ofSeconds(30))
        .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2)
            .waitInOpenState(Duration.ofSeconds(5)).permittedCallsInHalfOpen(2).build())
        .build()) {
      for (int i = 0; i < 2; i++) {
        assertThrows(HttpStatusException.class, () -> c.get("/fail").execute(String.class));
      }
      time.advanceMillis(5_001);
      assertEquals("ok", c.get("/fast").execute(String.class));   // probe 1 answered
      CompletableFuture<String> second =
          CompletableFuture.supplyAsync(() -> c.get("/slow").execute(String.class));
      assertTrue(slowArrived.await(10, TimeUnit.SECONDS), "probe 2 reached the server");

      try {
        CircuitOpenException e = assertThrows(CircuitOpenException.class,
            () -> c.get("/fast").execute(String.class));
        assertTrue(e.getMessage().contains("HALF_OPEN with 1 of its 2 probes in flight"),
            e.getMessage());
      } finally {
        release.countDown();
      }
      assertEquals("ok", second.get(10, TimeUnit.SECONDS));
    }
  }
}
