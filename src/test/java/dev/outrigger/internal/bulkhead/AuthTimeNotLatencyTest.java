package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.Auth;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.http.AuthInterceptors;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import java.time.Duration;
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
import org.junit.jupiter.api.Test;

/**
 * What runs between an attempt's slot and its send (here the {@link Auth} hook, fetching a
 * token) is not the host's latency. The adaptive limiter, the auth stamp and the client's
 * transport against MockWebServer, on a clock that moves only when the hook or the server moves
 * it: the server takes 20 ms of it per answer, the hook as long as the test says.
 */
class AuthTimeNotLatencyTest {
  private static final long MS = 1_000_000L;

  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder().build();
  /** How much of the clock the next token fetch takes. */
  private volatile long tokenNanos;
  private final Auth auth = refresh -> {
    clock.advance(tokenNanos);
    return "Bearer t0ken-value";
  };
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);
  private final PolicyChain chain = new PolicyChain(List.of(
      limiter,
      AuthInterceptors.stamp(auth, null),
      new Transport(okhttp, null, 1 << 20, null, false, false)));

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

  private Response call(String path, Duration deadline) {
    RealCallContext ctx = new RealCallContext("GET", server.url(path),
        Deadline.after(deadline, clock::nanoTime), true, clock, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    return chain.proceed(ctx, new Request.Builder().url(server.url(path)).build());
  }

  private String host() {
    return RealCallContext.hostKey(server.url("/"));
  }

  @Test
  void aTokenFetchedByTheAuthHookIsNotTimedAsTheHostsLatency() {
    tokenNanos = 10_000 * MS;
    try (Response r = call("/x", Duration.ofMinutes(1))) {
      assertEquals(200, r.code());
    }
    assertEquals(20 * MS, limiter.noLoadRttNanos(host()),
        "the host took 20 ms, the token fetch before it 10 s");
  }

  @Test
  void aDeadlineTheAuthHookSpentIsNotADropOfTheHost() {
    try (Response r = call("/x", Duration.ofMinutes(1))) {
      assertEquals(200, r.code());
    }
    assertEquals(20 * MS, limiter.noLoadRttNanos(host()));
    // The token fetch leaves 30 ms of the minute when the request goes out: less than twice the
    // host's 20 ms, so the deadline's cut is the caller's hurry, not the host's slowness.
    tokenNanos = 60_000 * MS - 30 * MS;
    assertThrows(DeadlineExceededException.class, () -> call("/hang", Duration.ofMinutes(1)));
    assertEquals(20, limiter.limit(host()), "the limit was cut");
  }
}
