package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import dev.outrigger.micrometer.OutriggerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * When the adaptive limiter drops the state of the host idle the longest, listeners hear its
 * limit go back to the initial one, so the Micrometer gauge shows what {@code limit(host)}
 * says. The limiter and the client's transport against MockWebServer, every host name resolved
 * to the loopback address.
 */
class DroppedHostReportTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder()
      .dns(host -> List.of(InetAddress.getLoopbackAddress()))
      .build();
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
  private final PolicyChain chain = new PolicyChain(
      List.of(limiter, new Transport(okhttp, null, 1 << 20, null, false, false)));

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  private HttpUrl url(String host, String path) {
    return new HttpUrl.Builder().scheme("http").host(host).port(server.getPort())
        .encodedPath(path).build();
  }

  private int call(String host, String path) {
    clock.advanceMillis(1); // each host's last use dated after the one before
    HttpUrl url = url(host, path);
    RealCallContext ctx = new RealCallContext("GET", url,
        Deadline.after(Duration.ofSeconds(10), clock::nanoTime), true, clock, listener,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    try (Response r = chain.proceed(ctx, new Request.Builder().url(url).build())) {
      return r.code();
    }
  }

  private double gauge(String host) {
    return registry.get("outrigger.inflight.limit")
        .tag("host", host + ":" + server.getPort()).gauge().value();
  }

  @Test
  void theHostWhoseStateIsDroppedIsReportedBackAtTheInitialLimit() {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder()
            .code(request.getUrl().encodedPath().equals("/drop") ? 503 : 200).build();
      }
    });
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
