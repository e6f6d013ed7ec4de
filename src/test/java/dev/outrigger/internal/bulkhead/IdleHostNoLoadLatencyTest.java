package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
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
 * A host idle for two {@code rttWindow}s has no no-load latency any more: the one it had is no
 * reason to take a deadline's cut for its fault. The adaptive limiter and the client's transport
 * against MockWebServer, on a clock the server moves by 20 ms per answer and the test by hand.
 */
class IdleHostNoLoadLatencyTest {
  private static final long MS = 1_000_000L;

  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder().build();
  private final InFlightLimiter limiter = new InFlightLimiter(AdaptiveLimit.vegas().min(2)
      .initial(20).backoffRatio(0.5).rttWindow(Duration.ofSeconds(30)), clock);
  private final PolicyChain chain = new PolicyChain(List.of(
      limiter,
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

  @Test
  void aDeadlinesCutAfterTwoIdleWindowsIsNoDropOnTheLatencyOfBefore() {
    String host = RealCallContext.hostKey(server.url("/"));
    try (Response r = call("/x", Duration.ofMinutes(1))) {
      assertEquals(200, r.code());
    }
    assertEquals(20 * MS, limiter.noLoadRttNanos(host));
    // Two windows and more without a call: the 20 ms are no longer "recent".
    clock.advance(61_000 * MS);
    // 100 ms is five times the old 20 ms, but nothing says what the host needs now.
    assertThrows(DeadlineExceededException.class, () -> call("/hang", Duration.ofMillis(100)));
    assertEquals(20, limiter.limit(host), "the limit was cut");
    assertEquals(-1, limiter.noLoadRttNanos(host));
  }

  @Test
  void aDeadlinesCutWithinTheWindowsIsStillADrop() {
    String host = RealCallContext.hostKey(server.url("/"));
    try (Response r = call("/x", Duration.ofMinutes(1))) {
      assertEquals(200, r.code());
    }
    clock.advance(40_000 * MS); // one window on: the 20 ms are still the previous window's
    assertThrows(DeadlineExceededException.class, () -> call("/hang", Duration.ofMillis(100)));
    assertEquals(10, limiter.limit(host));
  }
}
