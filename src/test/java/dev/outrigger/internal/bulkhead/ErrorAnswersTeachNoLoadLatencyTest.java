package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
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
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
import org.junit.jupiter.api.Timeout;

/**
 * An error the host answers at once (a 404 of the caller's, a 502 from a gateway with no
 * backend) is not the host's latency without queueing. Taken as such, every real answer after
 * it looked queued and cut the limit, for up to two {@code rttWindow}s. The adaptive limiter
 * and the client's transport against MockWebServer, on a clock the server moves: an error
 * takes 1 ms, the real work 100 ms.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ErrorAnswersTeachNoLoadLatencyTest {
  private static final int ROUND = 20;

  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder().build();
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(ROUND), clock);
  private final PolicyChain chain = new PolicyChain(
      List.of(limiter, new Transport(okhttp, null, 1 << 20, null, false, false)));
  private volatile CyclicBarrier round = round();

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  private void serve() {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        String path = request.getUrl().encodedPath();
        if (!path.equals("/work")) {
          clock.advanceMillis(1);
          return new MockResponse.Builder().code(Integer.parseInt(path.substring(1))).build();
        }
        // A round of concurrent attempts, all answered after 100 ms of the clock (see round()).
        try {
          round.await(30, TimeUnit.SECONDS);
        } catch (BrokenBarrierException | TimeoutException e) {
          throw new AssertionError("the round's attempts did not all arrive", e);
        }
        return new MockResponse.Builder().code(200).build();
      }
    });
  }

  private int call(String path) {
    HttpUrl url = server.url(path);
    RealCallContext ctx = new RealCallContext("GET", url,
        Deadline.after(Duration.ofMinutes(10), clock::nanoTime), true, clock, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    try (Response r = chain.proceed(ctx, new Request.Builder().url(url).build())) {
      return r.code();
    }
  }

  /**
   * The meeting of a round's {@link #ROUND} attempts at the server: the last to arrive moves the
   * clock by 100 ms before any of them is let go. (Moved by the first to leave, the others could
   * answer before it had: on a loaded machine one read 0 ms, and the floor was 1 ns.)
   */
  private CyclicBarrier round() {
    return new CyclicBarrier(ROUND, () -> clock.advanceMillis(100));
  }

  /** {@link #ROUND} attempts at once, each answered in 100 ms: no queueing at the host. */
  private void roundOfWork() throws InterruptedException {
    round = round();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < ROUND; i++) {
      threads.add(Thread.ofVirtual().start(() -> assertEquals(200, call("/work"))));
    }
    for (Thread t : threads) {
      t.join();
    }
  }

  private String host() {
    return RealCallContext.hostKey(server.url("/"));
  }

  @Test
  void aFastNotFoundTeachesNothingAndTheWorkAfterItIsNotTakenForQueueing() throws Exception {
    serve();
    assertEquals(404, call("/404"));
    assertEquals(ROUND, limiter.limit(host()));

    roundOfWork();
    // Unqueued answers with the slots more than half used: the limit grows (it fell to 15,
    // every 100 ms answer read as 99% queue against the 404's 1 ms).
    assertTrue(limiter.limit(host()) > ROUND, "limit " + limiter.limit(host()));
    assertEquals(100_000_000L, limiter.noLoadRttNanos(host()));
  }

  @Test
  void aFastNotModifiedTeachesNoNoLoadLatency() throws Exception {
    // A conditional GET's 304 comes at once, the body not made: timed, but no floor.
    serve();
    assertEquals(304, call("/304"));

    roundOfWork();
    assertTrue(limiter.limit(host()) > ROUND, "limit " + limiter.limit(host()));
    assertEquals(100_000_000L, limiter.noLoadRttNanos(host()));
  }

  @Test
  void aGatewaysFastErrorsDuringAnOutageDoNotHoldTheLimitDownAfterIt() throws Exception {
    serve();
    for (int i = 0; i < 5; i++) {
      assertEquals(502, call("/502"));
    }
    assertEquals(-1, limiter.noLoadRttNanos(host()), "a 502 in 1 ms is not the host's latency");

    roundOfWork();
    roundOfWork();
    assertEquals(100_000_000L, limiter.noLoadRttNanos(host()));
    assertTrue(limiter.limit(host()) > ROUND, "limit " + limiter.limit(host()));
  }
}
