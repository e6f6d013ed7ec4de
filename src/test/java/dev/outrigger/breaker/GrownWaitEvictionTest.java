package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * README (Keys): a full table never drops "an open or half-open breaker opened or used within its
 * own open wait", and an open breaker unused for its whole wait may go, so a new key gets a kept
 * breaker. With {@code waitInOpenStateGrowth} that wait is the one grown for the opening, not
 * the growth's maximum: a breaker that opened for 500 ms and then sat unused for a second makes
 * room, and a new failing endpoint's breaker is kept and opens. (Measured against the maximum,
 * a minute here, the new key's breaker was not kept and never opened.) Over real sockets, on a
 * fake clock.
 */
class GrownWaitEvictionTest {
  private static final long MS = 1_000_000L;

  @StartStop private final MockWebServer server = new MockWebServer();
  private final FakeClock clock = new FakeClock();
  private final List<String> transitions = new CopyOnWriteArrayList<>();
  private ApiClient client;

  @AfterEach
  void tearDown() throws InterruptedException {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }

  @Test
  void anOpenBreakerUnusedForItsWholeFirstWaitMakesRoomThoughItsWaitCouldGrow() throws Exception {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(503).body("down").build();
      }
    });
    CircuitBreaker breaker = CircuitBreaker.builder()
        .keyedBy(ctx -> ctx.url().encodedPath())
        .slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(0.5)
        .waitInOpenState(Duration.ofMillis(500))
        .waitInOpenStateGrowth(2.0, Duration.ofMinutes(1))
        .permittedCallsInHalfOpen(1).maxBreakers(1).build();
    client = ClientTestSupport.withClock(ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none()).circuitBreaker(breaker)
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            transitions.add(key + " " + from + "->" + to);
          }
        }), clock).build();

    // /a opens for its first wait, 500 ms (the growth applies only after failed probes).
    assertThrows(HttpStatusException.class, () -> client.get("/a").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/a").execute(String.class));
    CircuitOpenException open =
        assertThrows(CircuitOpenException.class, () -> client.get("/a").execute(String.class));
    assertEquals(Duration.ofMillis(500), open.retryAfter());

    // Nobody calls /a for a second, twice its whole wait: it may go for a new key.
    clock.advance(1_000 * MS);
    assertThrows(HttpStatusException.class, () -> client.get("/b").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/b").execute(String.class));
    assertEquals(List.of("/v1/b"),
        client.breakers().stream().map(CircuitBreaker.Snapshot::key).toList(),
        "the table kept /a, unused for its whole 500 ms wait, and not /b");
    // /b failed twice: its breaker is open, and the next call is refused, not sent.
    assertThrows(CircuitOpenException.class, () -> client.get("/b").execute(String.class));
    assertEquals(4, server.getRequestCount());
    assertEquals(List.of("/v1/a CLOSED->OPEN", "/v1/a OPEN->CLOSED", "/v1/b CLOSED->OPEN"),
        transitions, "/a reported closed as it was dropped, then /b opened");
  }
}
