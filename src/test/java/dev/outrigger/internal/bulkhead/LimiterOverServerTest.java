package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.CallInterceptor;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
import org.junit.jupiter.api.BeforeEach;

/**
 * The set-up of the tests that run an {@link InFlightLimiter} (and what a subclass puts
 * after it) in front of the client's transport, against MockWebServer, on a {@link FakeClock}
 * the server moves by 20 ms per answer: {@code /hang} answers after 5 s of real time,
 * {@code /drop} with 503, anything else with 200 (unless a test sets a dispatcher of its own).
 * Every host name resolves to the loopback address, so a test may call the server under as many
 * names ({@link #url(String, String)}) as it needs hosts.
 */
abstract class LimiterOverServerTest {
  static final long MS = 1_000_000L;

  @StartStop final MockWebServer server = new MockWebServer();
  final FakeClock clock = new FakeClock();
  final OkHttpClient okhttp = ClientOkHttp.builder()
      .dns(host -> List.of(InetAddress.getLoopbackAddress()))
      .build();
  private PolicyChain chain;

  /** The policies in front of the transport, the limiter first (made once, on first use). */
  abstract List<CallInterceptor> policies();

  /** The listener each call reports to. */
  CallListener listener() {
    return CallListener.NONE;
  }

  @BeforeEach
  void serve() {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (request.getUrl().encodedPath().equals("/hang")) {
          return new MockResponse.Builder().headersDelay(5, TimeUnit.SECONDS).build();
        }
        clock.advance(20 * MS);
        return new MockResponse.Builder()
            .code(request.getUrl().encodedPath().equals("/drop") ? 503 : 200).build();
      }
    });
  }

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  Response call(String path, Duration deadline) {
    return call(server.url(path), deadline);
  }

  /** One attempt to {@code url} with {@code deadline} from now, through the policies. */
  Response call(HttpUrl url, Duration deadline) {
    if (chain == null) {
      List<CallInterceptor> all = new ArrayList<>(policies());
      all.add(new Transport(okhttp, null, 1 << 20, null, false, false));
      chain = new PolicyChain(all);
    }
    RealCallContext ctx = new RealCallContext("GET", url,
        Deadline.after(deadline, clock::nanoTime), true, clock, listener(),
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    return chain.proceed(ctx, new Request.Builder().url(url).build());
  }

  /** {@code path} on the server, reached as {@code host}. */
  HttpUrl url(String host, String path) {
    return new HttpUrl.Builder().scheme("http").host(host).port(server.getPort())
        .encodedPath(path).build();
  }

  String host() {
    return RealCallContext.hostKey(server.url("/"));
  }
}
