package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Retry;
import dev.outrigger.micrometer.OutriggerMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A derived client closed with a breaker forced open or disabled by hand leaves the key's state
 * gauge, shared with its parent, to the breakers still in use: nothing calls through a closed
 * client's breaker, and its state kept in the gauge would show the key refused (or unguarded)
 * for good while the parent's breaker is closed and working.
 */
class ClosedClientHandSetBreakerTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<String> transitions = new CopyOnWriteArrayList<>();
  private ApiClient parent;

  @AfterEach
  void tearDown() throws InterruptedException {
    if (parent != null) {
      ClientTestSupport.assertNoLeaks(parent);
      parent.close();
    }
  }

  private double state(String key) {
    Gauge g = registry.find("outrigger.breaker.state").tag("breaker", key).gauge();
    return g == null ? Double.NaN : g.value();
  }

  private void closeAChildWithItsBreaker(Consumer<CircuitBreaker.Handle> byHand, double set)
      throws Exception {
    server.enqueue(new MockResponse.Builder().body("ok").build());
    parent = ApiClient.builder().baseUrl(server.url("/v1").toString()).retry(Retry.none())
        .addListener(OutriggerMetrics.of(registry))
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            transitions.add(from + "->" + to);
          }
        })
        .build();
    String key = server.getHostName() + ":" + server.getPort();
    ApiClient child = parent.newBuilder().build();
    byHand.accept(child.breaker(key));
    assertEquals(set, state(key));

    child.close();
    assertEquals(0, state(key), "the parent's breaker, the one left in use, is closed");
    assertEquals(2, transitions.size(), "set by hand, then closed with its client: " + transitions);
    assertEquals("ok", parent.get("/x").execute(String.class));
  }

  @Test
  void aBreakerForcedOpenLeavesTheGaugeWithItsClosedClient() throws Exception {
    closeAChildWithItsBreaker(CircuitBreaker.Handle::forceOpen, 3);
  }

  @Test
  void aBreakerDisabledLeavesTheGaugeWithItsClosedClient() throws Exception {
    closeAChildWithItsBreaker(CircuitBreaker.Handle::disable, -1);
  }
}
