package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.micrometer.OutriggerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/**
 * When the adaptive limiter drops the state of the host idle the longest, listeners hear its
 * limit go back to the initial one, so the Micrometer gauge shows what {@code limit(host)}
 * says. The limiter and the client's transport against MockWebServer, every host name resolved
 * to the loopback address.
 */
class DroppedHostReportTest extends LimiterOverServerTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<String> changes = new CopyOnWriteArrayList<>();
  private final OutriggerMetrics metrics = OutriggerMetrics.of(registry);
  private final CallListener listener = new CallListener() {
    @Override
    public void adaptiveLimitChanged(String host, int from, int to) {
      changes.add(host.substring(0, host.indexOf(':')) + " " + from + "->" + to);
      metrics.adaptiveLimitChanged(host, from, to);
    }
  };
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);

  @Override
  List<CallInterceptor> policies() {
    return List.of(limiter);
  }

  @Override
  CallListener listener() {
    return listener;
  }

  private int call(String host, String path) {
    clock.advanceMillis(1); // each host's last use dated after the one before
    try (Response r = call(url(host, path), Duration.ofSeconds(10))) {
      return r.code();
    }
  }

  private double gauge(String host) {
    return registry.get("outrigger.inflight.limit")
        .tag("host", host + ":" + server.getPort()).gauge().value();
  }

  @Test
  void theHostWhoseStateIsDroppedIsReportedBackAtTheInitialLimit() {
    String api = "api.test";
    assertEquals(503, call(api, "/drop"));
    assertEquals(List.of("api.test 20->10"), changes);
    assertEquals(10, gauge(api));

    // 64 other hosts, each used once; when the 64th leaves, 65 are tracked and api, idle the
    // longest, loses its state.
    for (int i = 0; i < InFlightLimiter.IDLE_HOSTS_KEPT; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    assertEquals(InFlightLimiter.IDLE_HOSTS_KEPT, limiter.hostsTracked());
    String apiKey = api + ":" + server.getPort();
    assertEquals(20, limiter.limit(apiKey), "api starts over");
    assertEquals(List.of("api.test 20->10", "api.test 10->20"), changes);
    assertEquals(20, gauge(api), "the gauge shows the limit api has now");

    // A host whose limit never moved is dropped without a word: nothing changed for it.
    call("h" + InFlightLimiter.IDLE_HOSTS_KEPT + ".test", "/");
    assertEquals(2, changes.size(), changes::toString);
    assertThrows(io.micrometer.core.instrument.search.MeterNotFoundException.class,
        () -> gauge("h0.test"));
  }
}
