package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
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
import org.junit.jupiter.api.Test;

/**
 * A breaker handle of a closed client takes nothing over by hand: forcing open, disabling or
 * resetting throws {@link IllegalStateException}, as a call on the closed client does, and
 * leaves the breaker, its listeners and the shared state gauge as {@code close()} left them.
 * Before, a handle revived a breaker {@code close()} had taken out of use: a transition was
 * reported, and the gauge showed the key forced open on a client that sends nothing.
 */
class ClosedClientBreakerHandleTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<String> transitions = new CopyOnWriteArrayList<>();

  private double gauge(String key) {
    Gauge g = registry.find("outrigger.breaker.state").tag("breaker", key).gauge();
    return g == null ? Double.NaN : g.value();
  }

  private ApiClient client() {
    return ApiClient.builder().baseUrl(server.url("/v1").toString()).retry(Retry.none())
        .addListener(OutriggerMetrics.of(registry))
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            transitions.add(key + " " + from + "->" + to);
          }
        })
        .build();
  }

  private void refusedAfterClose(Consumer<CircuitBreaker.Handle> byHand) {
    server.enqueue(new MockResponse.Builder().body("ok").build());
    ApiClient client = client();
    String used = server.getHostName() + ":" + server.getPort();
    assertEquals("ok", client.get("/x").execute(String.class));
    client.breaker(used).forceOpen();
    client.close();
    List<String> atClose = List.copyOf(transitions);
    double gaugeAtClose = gauge(used);

    for (String key : List.of(used, "never.used:443")) {
      CircuitBreaker.Handle handle = client.breaker(key);
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> byHand.accept(handle));
      assertTrue(e.getMessage().contains("ApiClient is closed"), e.getMessage());
      assertTrue(e.getMessage().contains(key), e.getMessage());
      assertEquals(CircuitBreaker.State.CLOSED, handle.snapshot().state(), key);
    }
    assertEquals(atClose, transitions, "no transition after close()");
    assertEquals(gaugeAtClose, gauge(used), 0.0, "the gauge as close() left it");
    assertEquals(0, gauge(used), 0.0, "closed with its client");
  }

  @Test
  void aClosedClientsBreakerCannotBeForcedOpen() {
    refusedAfterClose(CircuitBreaker.Handle::forceOpen);
  }

  @Test
  void aClosedClientsBreakerCannotBeDisabled() {
    refusedAfterClose(CircuitBreaker.Handle::disable);
  }

  @Test
  void aClosedClientsBreakerCannotBeReset() {
    refusedAfterClose(CircuitBreaker.Handle::reset);
  }

  /**
   * With circuit breaking off ({@link CircuitBreaker#none()}), a closed client's handle refuses
   * the same three, with the same message as a client with breakers. Before, {@code reset()}
   * returned silently there while the other two said circuit breaking is off.
   */
  @Test
  void aClosedClientWithoutBreakersRefusesTheSameAndSaysItIsClosed() {
    ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .circuitBreaker(CircuitBreaker.none()).build();
    CircuitBreaker.Handle handle = client.breaker("api.example.com:443");
    handle.reset();
    client.close();
    List<Consumer<CircuitBreaker.Handle>> byHand = List.of(CircuitBreaker.Handle::forceOpen,
        CircuitBreaker.Handle::disable, CircuitBreaker.Handle::reset);
    List<String> what = List.of("forced open", "disabled", "reset");
    for (int i = 0; i < byHand.size(); i++) {
      Consumer<CircuitBreaker.Handle> op = byHand.get(i);
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> op.accept(handle));
      assertEquals("this ApiClient is closed: its circuit breaker api.example.com:443 cannot be "
          + what.get(i), e.getMessage());
    }
    assertEquals(CircuitBreaker.State.DISABLED, handle.snapshot().state());
  }
}
