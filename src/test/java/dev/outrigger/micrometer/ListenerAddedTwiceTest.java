package dev.outrigger.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Retry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * One listener instance listed twice on a client (a derived client keeps its parent's listeners,
 * and adding the same instance again is easy) hears each event once: a call is one call in the
 * metrics, not two.
 */
class ListenerAddedTwiceTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  private long sum(String name) {
    return registry.find(name).timers().stream().mapToLong(Timer::count).sum();
  }

  @Test
  void aDerivedClientGivenItsParentsMetricsAgainCountsEachCallAndRetryOnce() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    OutriggerMetrics metrics = OutriggerMetrics.of(registry);
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/v1").toString())
            .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(2))
            .addListener(metrics)
            .build();
        ApiClient derived = parent.newBuilder().addListener(metrics).build()) {
      assertEquals("ok", derived.get("/x").execute(String.class));

      assertEquals(1, sum("outrigger.calls"), "one call");
      assertEquals(2, sum("outrigger.attempts"), "two attempts");
      assertEquals(1, registry.find("outrigger.retries").counter().count(), "one retry");
      assertEquals(1, registry.find("outrigger.retry.backoff").timer().count());
      ClientTestSupport.assertNoLeaks(derived);
    }
  }

  @Test
  void aListenerAddedTwiceToOneBuilderHearsEachEventOnce() throws Exception {
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    AtomicInteger starts = new AtomicInteger();
    AtomicInteger ends = new AtomicInteger();
    CallListener counting = new CallListener() {
      @Override
      public void callStart(CallContext call) {
        starts.incrementAndGet();
      }

      @Override
      public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
        ends.incrementAndGet();
      }
    };
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .addListener(counting).addListener(counting).build()) {
      assertEquals("ok", client.get("/x").execute(String.class));
      assertEquals(1, starts.get());
      assertEquals(1, ends.get());
      ClientTestSupport.assertNoLeaks(client);
    }
  }
}
