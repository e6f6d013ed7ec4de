package dev.outrigger.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * One {@link OutriggerMetrics} shared by two clients (a derived client keeps its parent's
 * listeners) whose breakers have the same key: the state gauge must not show the key closed
 * while one of them refuses calls.
 */
class SharedBreakerGaugeTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private ApiClient parent;
  private ApiClient derived;

  @AfterEach
  void tearDown() throws InterruptedException {
    for (ApiClient c : new ApiClient[] {derived, parent}) {
      if (c != null) {
        ClientTestSupport.assertNoLeaks(c);
        c.close();
      }
    }
  }

  private double state(String key) {
    Gauge g = registry.find("outrigger.breaker.state").tag("breaker", key).gauge();
    return g == null ? Double.NaN : g.value();
  }

  /**
   * {@link #parent}: a client of a server that answers 503 to everything, whose breaker opens
   * after two calls, reporting to one {@link OutriggerMetrics} on {@link #registry}.
   */
  private void parentOfADownServer() {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(503).body("down").build();
      }
    });
    parent = ApiClient.builder().baseUrl(server.url("/v1").toString()).retry(Retry.none())
        .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2)
            .build())
        .addListener(OutriggerMetrics.of(registry)).build();
  }

  @Test
  void aDerivedClientsClosedBreakerDoesNotHideItsParentsOpenOne() {
    parentOfADownServer();
    derived = parent.newBuilder().build();
    String key = server.getHostName() + ":" + server.getPort();

    for (int i = 0; i < 2; i++) {
      assertThrows(HttpStatusException.class, () -> parent.get("/x").execute(String.class));
    }
    assertEquals(CircuitBreaker.State.OPEN, parent.breaker(key).snapshot().state());
    assertEquals(2, state(key));

    // The derived client's own breaker of the key goes through a maintenance window.
    derived.breaker(key).forceOpen();
    assertEquals(3, state(key));
    derived.breaker(key).reset();
    assertEquals(CircuitBreaker.State.OPEN, parent.breaker(key).snapshot().state());
    assertEquals(2, state(key), "the parent's breaker still refuses every call to the key");

    parent.breaker(key).reset();
    assertEquals(0, state(key));
  }

  @Test
  void aDerivedClientClosedWithItsBreakerOpenLeavesTheGaugeToItsParent() throws Exception {
    parentOfADownServer();
    ApiClient child = parent.newBuilder().build();
    String key = server.getHostName() + ":" + server.getPort();
    for (int i = 0; i < 2; i++) {
      assertThrows(HttpStatusException.class, () -> child.get("/x").execute(String.class));
    }
    assertEquals(2, state(key), "the derived client's breaker is open");

    ClientTestSupport.assertNoLeaks(child);
    child.close();
    assertEquals(0, state(key), "closed with its client: the parent's breaker is closed");
    assertEquals(CircuitBreaker.State.CLOSED, parent.breaker(key).snapshot().state());
  }
}
