package dev.outrigger.internal.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
 * A host the throttle forgets (its window empty, past {@link ThrottleInterceptor#MAX_IDLE_HOSTS}
 * hosts) has its probability of 0 reported, as a host kept would at its next attempt: the last
 * report, and a gauge fed by it, must not keep the probability the host had before it went
 * quiet. Many host names, which a test resolver sends to one MockWebServer.
 */
class ThrottleForgottenHostTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock time = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder()
      .dns(host -> List.of(InetAddress.getLoopbackAddress()))
      .build();
  /** The last probability reported for each host. */
  private final Map<String, Double> lastReported = new ConcurrentHashMap<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void throttleProbability(String host, double p, long requests, long accepts) {
      lastReported.put(host, p);
    }
  };

  @AfterEach
  void releaseConnections() {
    okhttp.dispatcher().executorService().shutdown();
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  private HttpUrl url(String host) {
    return new HttpUrl.Builder().scheme("http").host(host).port(server.getPort())
        .addPathSegment("x").build();
  }

  private int call(PolicyChain chain, String host) {
    RealCallContext ctx = new RealCallContext("GET", url(host),
        Deadline.after(Duration.ofSeconds(30), time::nanoTime), true, time, listener,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    try (Response r = chain.proceed(ctx, new Request.Builder().url(url(host)).build())) {
      return r.code();
    }
  }

  @Test
  void aForgottenHostsLastReportIsZero() {
    // Never refuses locally (nextDouble just under 1): every attempt reaches the server.
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), time, () -> -1L);
    PolicyChain chain = new PolicyChain(
        List.of(t, new Transport(okhttp, null, 1 << 20, null, false, false)));
    boolean[] busy = {true};
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        boolean refuse = busy[0] && request.getHeaders().get("Host").startsWith("busy.test");
        return new MockResponse.Builder().code(refuse ? 503 : 200).body("b").build();
      }
    });
    String busyHost = "busy.test:" + server.getPort();
    for (int i = 0; i < 3; i++) {
      assertEquals(503, call(chain, "busy.test"));
    }
    // Reported before the third attempt: 2 refused of 2, (2 - 0) / 3.
    assertEquals(2.0 / 3, lastReported.get(busyHost), 1e-9);

    // A window later busy.test's window is empty; more hosts than the table keeps arrive, and
    // the throttle forgets it.
    time.advance(Duration.ofMinutes(2).toNanos() + 1);
    for (int i = 0; i < ThrottleInterceptor.MAX_IDLE_HOSTS + 10; i++) {
      call(chain, "h" + i + ".test");
    }
    assertEquals(0.0, t.probability(busyHost));

    busy[0] = false;
    assertEquals(200, call(chain, "busy.test"));
    assertEquals(0.0, lastReported.get(busyHost), 1e-9,
        "the last report for busy.test is its probability before it was forgotten");
  }
}
