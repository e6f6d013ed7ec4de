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
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * The set-up of the tests that run an adaptive {@link InFlightLimiter} (and what a subclass puts
 * after it) in front of the client's transport, against MockWebServer, on a {@link FakeClock}
 * the server moves by 20 ms per answer: {@code /hang} answers after 5 s of real time.
 */
abstract class LimiterOverServerTest {
  static final long MS = 1_000_000L;

  @StartStop final MockWebServer server = new MockWebServer();
  final FakeClock clock = new FakeClock();
  final OkHttpClient okhttp = ClientOkHttp.builder().build();
  private PolicyChain chain;

  /** The policies in front of the transport, the limiter first (made once, on first use). */
  abstract List<CallInterceptor> policies();

  @BeforeEach
  void serve() {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (request.getUrl().encodedPath().equals("/hang")) {
          return new MockResponse.Builder().headersDelay(5, TimeUnit.SECONDS).build();
        }
        clock.advance(20 * MS);
        return new MockResponse.Builder().code(200).build();
      }
    });
  }

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  Response call(String path, Duration deadline) {
    if (chain == null) {
      List<CallInterceptor> all = new ArrayList<>(policies());
      all.add(new Transport(okhttp, null, 1 << 20, null, false, false));
      chain = new PolicyChain(all);
    }
    RealCallContext ctx = new RealCallContext("GET", server.url(path),
        Deadline.after(deadline, clock::nanoTime), true, clock, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    return chain.proceed(ctx, new Request.Builder().url(server.url(path)).build());
  }

  String host() {
    return RealCallContext.hostKey(server.url("/"));
  }
}
