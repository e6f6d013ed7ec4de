package dev.outrigger.internal.breaker;

import static dev.outrigger.CircuitBreaker.State.CLOSED;
import static dev.outrigger.CircuitBreaker.State.DISABLED;
import static dev.outrigger.CircuitBreaker.State.FORCED_OPEN;
import static dev.outrigger.CircuitBreaker.State.OPEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallInterceptor;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.Deadline;
import dev.outrigger.LogCapture;
import dev.outrigger.RateLimitedException;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
 * The breaker in a real chain (Outrigger's {@link PolicyChain} and {@link Transport} over OkHttp)
 * against real servers, time on a {@link FakeClock}.
 */
class BreakerChainTest {
  private static final long S = 1_000_000_000L;

  /** Answers every request with {@link #status}, after {@link #gate} opens if one is set. */
  static final class Answer extends Dispatcher {
    volatile int status = 200;
    volatile CountDownLatch gate;

    @Override
    public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
      CountDownLatch g = gate;
      if (g != null) {
        g.await(30, TimeUnit.SECONDS);
      }
      return new MockResponse.Builder().code(status).body("status " + status).build();
    }
  }

  @StartStop private final MockWebServer failing = new MockWebServer();
  @StartStop private final MockWebServer healthy = new MockWebServer();
  private final Answer failingAnswer = new Answer();
  private final Answer healthyAnswer = new Answer();
  private final FakeClock clock = new FakeClock();
  private final RecordingListener listener = new RecordingListener();
  private final OkHttpClient okhttp = ClientOkHttp.builder()
      .build();
  private BreakerInterceptor breaker;
  private PolicyChain chain;

  private static CircuitBreaker.Builder config() {
    return CircuitBreaker.builder().slidingWindowSize(10).minimumNumberOfCalls(4)
        .failureRateThreshold(0.5).waitInOpenState(Duration.ofSeconds(5))
        .permittedCallsInHalfOpen(2);
  }

  /** A chain: begin attempt, breaker, {@code inner}, transport. */
  private void build(CircuitBreaker config, Duration attemptTimeout, CallInterceptor... inner) {
    failing.setDispatcher(failingAnswer);
    healthy.setDispatcher(healthyAnswer);
    failingAnswer.status = 500;
    breaker = new BreakerInterceptor(config, clock, listener);
    List<CallInterceptor> list = new ArrayList<>();
    list.add(c -> {
      ((RealCallContext) c.context()).beginAttempt();
      return c.proceed(c.request());
    });
    list.add(breaker);
    list.addAll(List.of(inner));
    list.add(new Transport(okhttp, attemptTimeout, 1 << 20, null, false, false));
    chain = new PolicyChain(list);
  }

  private void build(CircuitBreaker config, CallInterceptor... inner) {
    build(config, null, inner);
  }

  private static String key(MockWebServer server) {
    return RealCallContext.hostKey(server.url("/"));
  }

  private int send(HttpUrl url) {
    RealCallContext ctx = new RealCallContext("GET", url, Deadline.after(Duration.ofSeconds(30)),
        true, clock, listener, new Redactor(Set.of(), Set.of()));
    try (Response r = chain.proceed(ctx, new Request.Builder().url(url).build())) {
      return r.code();
    }
  }

  private int send(MockWebServer server) {
    return send(server.url("/x"));
  }

  private CircuitBreaker.State state(MockWebServer server) {
    return breaker.breaker(key(server)).snapshot().state();
  }

  @AfterEach
  void noConnectionLeft() {
    // Every response was closed: evicting idle connections must leave none.
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  @Test
  void aFailingHostOpensWhileAnotherHostStaysClosed() {
    build(config().build());
    for (int i = 0; i < 4; i++) {
      assertEquals(500, send(failing));
      assertEquals(200, send(healthy));
    }
    assertEquals(OPEN, state(failing));
    assertEquals(CLOSED, state(healthy));
    assertEquals(List.of(key(failing) + " CLOSED->OPEN"), listener.transitions());

    CircuitOpenException e = assertThrows(CircuitOpenException.class, () -> send(failing));
    assertEquals(key(failing), e.breaker());
    assertEquals(200, send(healthy));
    assertEquals(4, failing.getRequestCount());
    assertEquals(5, healthy.getRequestCount());
  }

  @Test
  void anOpenBreakerRefusesAtOnceWithoutReachingTheInnerPoliciesOrTheNetwork() {
    AtomicInteger innerCalls = new AtomicInteger();
    build(config().build(), c -> {
      innerCalls.incrementAndGet();
      return c.proceed(c.request());
    });
    for (int i = 0; i < 4; i++) {
      send(failing);
    }
    clock.advance(2 * S);

    CircuitOpenException e = assertThrows(CircuitOpenException.class, () -> send(failing));
    assertEquals(0, e.attempts());
    assertEquals(Duration.ofSeconds(3), e.retryAfter());
    assertTrue(e.getMessage().contains("circuit breaker " + key(failing) + " is OPEN"),
        e.getMessage());
    assertTrue(e.getMessage().contains("GET " + failing.url("/x")), e.getMessage());
    assertTrue(e.getMessage().contains("next probe in 3.000 s"), e.getMessage());
    assertEquals(4, innerCalls.get());
    assertEquals(4, failing.getRequestCount());
    assertEquals(1, listener.rejections());
  }

  /**
   * The refusal of a call the OPEN state refused read the breaker's state again to describe it:
   * if another call had half-opened it meanwhile and taken its probes, the call was told "is
   * HALF_OPEN with all 2 probes in flight" and to retry at once, though no probe was out when
   * it asked and the open wait had 3 s to go on its clock. It describes the refusing state now.
   */
  @Test
  void aRefusalDescribesTheStateThatRefusedNotOneTheBreakerMovedToSince() {
    build(config().build());
    for (int i = 0; i < 4; i++) {
      send(failing);
    }
    clock.advance(2 * S);
    breaker.beforeRefusal = b -> {
      breaker.beforeRefusal = null;
      // Other calls, at 6 s on their clock, half-open the breaker and take both probes.
      assertTrue(b.acquire(6 * S) != null && b.acquire(6 * S) != null);
    };

    CircuitOpenException e = assertThrows(CircuitOpenException.class, () -> send(failing));
    assertTrue(e.getMessage().contains("circuit breaker " + key(failing) + " is OPEN"),
        e.getMessage());
    assertTrue(e.getMessage().contains("next probe in 3.000 s"), e.getMessage());
    assertEquals(Duration.ofSeconds(3), e.retryAfter());
    assertEquals(List.of(key(failing) + " CLOSED->OPEN", key(failing) + " OPEN->HALF_OPEN"),
        listener.transitions());
  }

  @Test
  void recoveryClosesTheBreakerAfterTheProbesSucceed() {
    build(config().build());
    for (int i = 0; i < 4; i++) {
      send(failing);
    }
    failingAnswer.status = 200;
    clock.advance(5 * S);

    assertEquals(200, send(failing));
    assertEquals(200, send(failing));
    assertEquals(CLOSED, state(failing));
    assertEquals(200, send(failing));
    assertEquals(7, failing.getRequestCount());
    assertEquals(List.of(key(failing) + " CLOSED->OPEN", key(failing) + " OPEN->HALF_OPEN",
        key(failing) + " HALF_OPEN->CLOSED"), listener.transitions());
  }

  @Test
  void failingProbesReopenTheBreakerForALongerWait() {
    build(config().waitInOpenStateGrowth(3, Duration.ofSeconds(60)).build());
    for (int i = 0; i < 4; i++) {
      send(failing);
    }
    clock.advance(5 * S);
    send(failing);
    send(failing);
    assertEquals(OPEN, state(failing));
    assertEquals(Duration.ofSeconds(15), breaker.breaker(key(failing)).snapshot().retryAfter());
    assertEquals(6, failing.getRequestCount());
  }

  /**
   * A call that found every probe answered, before the thread of the last had moved the breaker
   * on, was refused as "HALF_OPEN with all 2 probes in flight" (and a retryAfter of zero) though
   * none was out. The probes' verdict is now installed by whichever of the two gets there first:
   * here they succeeded, so the call goes through the closed breaker, reported closed once.
   */
  @Test
  void aCallThatFindsTheProbesAllAnsweredBeforeTheBreakerMovedGoesByTheirVerdict() {
    BreakerStateMachine b = openedAndFound();
    failingAnswer.status = 200;
    clock.advance(3 * S);
    assertEquals(200, send(failing)); // the first probe

    int[] third = new int[1];
    b.probesAnswered = () -> {
      b.probesAnswered = null;
      // The second probe answered, its outcome added; its thread has not installed the verdict.
      third[0] = send(failing);
    };
    assertEquals(200, send(failing)); // the second probe
    assertEquals(200, third[0], "the call was refused for probes no longer out");
    assertEquals(CLOSED, state(failing));
    assertEquals(List.of(key(failing) + " CLOSED->OPEN", key(failing) + " OPEN->HALF_OPEN",
        key(failing) + " HALF_OPEN->CLOSED"), listener.transitions());
    assertEquals(1, listener.rejections(), "only the call refused while open");
  }

  /** As above, the probes failing: the call is refused by the OPEN state they led to. */
  @Test
  void aCallThatFindsTheProbesAllFailedBeforeTheBreakerMovedIsRefusedAsOpen() {
    BreakerStateMachine b = openedAndFound();
    clock.advance(3 * S);
    assertEquals(500, send(failing));

    CircuitOpenException[] refused = new CircuitOpenException[1];
    b.probesAnswered = () -> {
      b.probesAnswered = null;
      refused[0] = assertThrows(CircuitOpenException.class, () -> send(failing));
    };
    assertEquals(500, send(failing));
    assertTrue(refused[0].getMessage().contains("circuit breaker " + key(failing) + " is OPEN"),
        refused[0].getMessage());
    assertTrue(refused[0].getMessage().contains("next probe in 5.000 s"),
        refused[0].getMessage());
    assertEquals(Duration.ofSeconds(5), refused[0].retryAfter());
    assertEquals(OPEN, state(failing));
    assertEquals(List.of(key(failing) + " CLOSED->OPEN", key(failing) + " OPEN->HALF_OPEN",
        key(failing) + " HALF_OPEN->OPEN"), listener.transitions());
    assertEquals(6, failing.getRequestCount());
  }

  /**
   * The failing host's breaker, opened at 0 by four failures, found by a call refused at 2 s
   * ({@link BreakerInterceptor#beforeRefusal}).
   */
  private BreakerStateMachine openedAndFound() {
    build(config().build());
    for (int i = 0; i < 4; i++) {
      send(failing);
    }
    clock.advance(2 * S);
    BreakerStateMachine[] found = new BreakerStateMachine[1];
    breaker.beforeRefusal = b -> {
      breaker.beforeRefusal = null;
      found[0] = b;
    };
    assertThrows(CircuitOpenException.class, () -> send(failing));
    return found[0];
  }

  @Test
  void atTheHalfOpenMomentExactlyThePermittedProbesReachTheServer() throws Exception {
    build(config().permittedCallsInHalfOpen(3).build());
    for (int i = 0; i < 4; i++) {
      send(failing);
    }
    clock.advance(5 * S);
    failingAnswer.status = 200;
    CountDownLatch release = new CountDownLatch(1);
    failingAnswer.gate = release; // probes wait at the server until every other call is refused

    int threads = 300;
    CountDownLatch start = new CountDownLatch(1);
    AtomicInteger refused = new AtomicInteger();
    AtomicInteger answered = new AtomicInteger();
    List<Throwable> unexpected = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> started = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      started.add(Thread.ofVirtual().start(() -> {
        try {
          start.await();
          send(failing);
          answered.incrementAndGet();
        } catch (CircuitOpenException e) {
          refused.incrementAndGet();
        } catch (Throwable t) {
          unexpected.add(t);
        }
      }));
    }
    start.countDown();
    long giveUp = System.nanoTime() + 20 * S;
    // Wait until every other call is refused and the probes are held at the server (or too many
    // requests came through).
    while ((refused.get() + unexpected.size() < threads - 3 || failing.getRequestCount() < 4 + 3)
        && failing.getRequestCount() <= 4 + 3 && System.nanoTime() < giveUp) {
      Thread.onSpinWait();
      Thread.yield();
    }
    try {
      assertEquals(4 + 3, failing.getRequestCount(), "requests that reached the server");
      assertEquals(threads - 3, refused.get(), "refused calls");
      assertEquals(0, unexpected.size(), () -> "unexpected failures, first: " + unexpected.get(0));
    } finally {
      release.countDown();
      for (Thread t : started) {
        t.join();
      }
    }
    assertEquals(3, answered.get());
    assertEquals(4 + 3, failing.getRequestCount());
    assertEquals(CLOSED, state(failing));
  }

  @Test
  void clientErrorsIncluding429CountAsSuccesses() {
    build(config().build());
    int[] statuses = {400, 404, 429, 429, 409, 422, 429, 401};
    for (int status : statuses) {
      failingAnswer.status = status;
      assertEquals(status, send(failing));
    }
    CircuitBreaker.Snapshot s = breaker.breaker(key(failing)).snapshot();
    assertEquals(CLOSED, s.state());
    assertEquals(8, s.calls());
    assertEquals(0, s.failedCalls());
  }

  @Test
  void connectionFailuresOpenTheBreaker() throws IOException {
    build(config().build());
    HttpUrl dead;
    try (ServerSocket s = new ServerSocket(0)) {
      dead = HttpUrl.get("http://127.0.0.1:" + s.getLocalPort() + "/x");
    }
    for (int i = 0; i < 4; i++) {
      TransportException e = assertThrows(TransportException.class, () -> send(dead));
      assertEquals(TransportException.Kind.CONNECT, e.kind());
    }
    assertThrows(CircuitOpenException.class, () -> send(dead));
  }

  @Test
  void attemptTimeoutsOpenTheBreaker() {
    build(config().build(), Duration.ofMillis(50));
    failingAnswer.gate = new CountDownLatch(1); // never answers
    try {
      for (int i = 0; i < 4; i++) {
        TransportException e = assertThrows(TransportException.class, () -> send(failing));
        assertEquals(TransportException.Kind.TIMEOUT, e.kind());
      }
      assertEquals(OPEN, state(failing));
    } finally {
      failingAnswer.gate.countDown();
    }
  }

  @Test
  void attemptsThatNeverReachedTheNetworkAreNotCounted() {
    build(config().build(), c -> {
      throw new RateLimitedException("no permit", Duration.ofSeconds(1), 0);
    });
    for (int i = 0; i < 10; i++) {
      assertThrows(RateLimitedException.class, () -> send(failing));
    }
    assertEquals(0, breaker.breaker(key(failing)).snapshot().calls());
    assertEquals(0, failing.getRequestCount());
  }

  @Test
  void callsCancelledByTheirCallerAreNotCounted() throws Exception {
    build(config().minimumNumberOfCalls(1).build());
    failingAnswer.gate = new CountDownLatch(1);
    try {
      AtomicInteger cancelled = new AtomicInteger();
      Thread caller = Thread.ofVirtual().start(() -> {
        try {
          send(failing);
        } catch (TransportException e) {
          if (e.kind() == TransportException.Kind.CANCELLED) {
            cancelled.incrementAndGet();
          }
        }
      });
      failing.takeRequest(); // the call is in flight
      caller.interrupt();
      caller.join();
      assertEquals(1, cancelled.get());
      assertEquals(0, breaker.breaker(key(failing)).snapshot().calls());
    } finally {
      failingAnswer.gate.countDown();
    }
  }

  @Test
  void userPredicatesReplaceTheDefaultClassification() {
    build(config().failureStatus(status -> status == 404).build());
    for (int i = 0; i < 4; i++) {
      send(failing); // 500: a success for this breaker
    }
    assertEquals(CLOSED, state(failing));
    failingAnswer.status = 404;
    for (int i = 0; i < 4; i++) {
      send(failing);
    }
    assertEquals(OPEN, state(failing));
  }

  @Test
  void slowCallsOpenTheBreaker() {
    build(config().slowCallDuration(Duration.ofSeconds(2)).slowCallRateThreshold(0.5).build(),
        c -> {
          Response r = c.proceed(c.request());
          clock.advance(3 * S); // the attempt takes 3 s after its request went out
          return r;
        });
    for (int i = 0; i < 4; i++) {
      assertEquals(200, send(healthy));
    }
    CircuitBreaker.Snapshot s = breaker.breaker(key(healthy)).snapshot();
    assertEquals(OPEN, s.state());
    assertEquals(1.0, s.slowCallRate());
    assertEquals(0.0, s.failureRate());
  }

  @Test
  void aKeyFunctionGivesEachEndpointItsOwnBreaker() {
    build(config().keyedBy(ctx -> ctx.host() + ctx.url().encodedPath()).build());
    for (int i = 0; i < 4; i++) {
      send(failing.url("/broken"));
    }
    assertThrows(CircuitOpenException.class, () -> send(failing.url("/broken")));
    failingAnswer.status = 200;
    assertEquals(200, send(failing.url("/fine")));
    assertEquals(OPEN, breaker.breaker(key(failing) + "/broken").snapshot().state());
    assertEquals(CLOSED, breaker.breaker(key(failing) + "/fine").snapshot().state());
  }

  @Test
  void aNullKeyExemptsTheCall() {
    build(config().keyedBy(ctx -> ctx.url().encodedPath().equals("/health") ? null : ctx.host())
        .build());
    for (int i = 0; i < 10; i++) {
      send(failing.url("/health"));
    }
    assertEquals(List.of(), breaker.snapshots());
  }

  @Test
  void handlesForceOpenDisableAndResetAKey() {
    build(config().build());
    CircuitBreaker.Handle handle = breaker.breaker(key(healthy));
    handle.forceOpen();
    CircuitOpenException e = assertThrows(CircuitOpenException.class, () -> send(healthy));
    assertTrue(e.getMessage().contains("FORCED_OPEN"), e.getMessage());
    assertEquals(FORCED_OPEN, handle.snapshot().state());
    assertEquals(0, healthy.getRequestCount());

    CircuitBreaker.Handle failingHandle = breaker.breaker(key(failing));
    failingHandle.disable();
    for (int i = 0; i < 10; i++) {
      assertEquals(500, send(failing));
    }
    assertEquals(DISABLED, failingHandle.snapshot().state());
    assertEquals(0, failingHandle.snapshot().calls());

    handle.reset();
    failingHandle.reset();
    assertEquals(200, send(healthy));
    assertEquals(List.of(CLOSED, CLOSED),
        breaker.snapshots().stream().map(CircuitBreaker.Snapshot::state).toList());
    assertEquals(List.of(key(healthy) + " CLOSED->FORCED_OPEN",
        key(failing) + " CLOSED->DISABLED", key(healthy) + " FORCED_OPEN->CLOSED",
        key(failing) + " DISABLED->CLOSED"), listener.transitions());
  }

  @Test
  void aSnapshotTellsTheRatesAndCallsOfItsWindow() {
    build(config().build());
    send(failing);
    failingAnswer.status = 200;
    send(failing);
    send(failing);
    CircuitBreaker.Snapshot s = breaker.breaker(key(failing)).snapshot();
    assertEquals(new CircuitBreaker.Snapshot(key(failing), CLOSED, 1 / 3.0, 0, 3, 1, 0,
        Duration.ZERO), s);
    assertEquals(new CircuitBreaker.Snapshot("nobody:1", CLOSED, 0, 0, 0, 0, 0, Duration.ZERO),
        breaker.breaker("nobody:1").snapshot());
    assertEquals(1, breaker.snapshots().size()); // looking did not create a breaker
  }

  @Test
  void noneLetsEverythingThrough() {
    build(CircuitBreaker.none());
    for (int i = 0; i < 25; i++) {
      assertEquals(500, send(failing));
    }
    assertEquals(List.of(), breaker.snapshots());
    assertEquals(DISABLED, breaker.breaker(key(failing)).snapshot().state());
    assertThrows(IllegalStateException.class, () -> breaker.breaker(key(failing)).forceOpen());
  }

  @Test
  void everyTransitionIsLoggedAtInfoWithItsReason() {
    build(config().build());
    try (LogCapture logs = new LogCapture()) {
      for (int i = 0; i < 4; i++) {
        send(failing);
      }
      clock.advance(5 * S);
      failingAnswer.status = 200;
      send(failing);
      send(failing);
      List<String> lines = logs.lines().stream().filter(l -> l.contains("circuit breaker"))
          .toList();
      assertEquals(List.of(
          "INFO circuit breaker " + key(failing) + ": CLOSED -> OPEN (failure rate 100.0% >= "
              + "50.0% over 4 calls; next probe in 5.000 s)",
          "INFO circuit breaker " + key(failing) + ": OPEN -> HALF_OPEN (open wait over; "
              + "letting 2 probes through)",
          "INFO circuit breaker " + key(failing) + ": HALF_OPEN -> CLOSED (probes: failure rate "
              + "0.0%, slow-call rate 0.0% over 2 probes)"), lines);
    }
  }

  @Test
  void theInterceptorDescribesItsSettings() {
    build(config().build());
    String s = breaker.toString();
    assertTrue(s.startsWith("CircuitBreaker[window 10 calls, min 4, failure rate >= 0.5"), s);
    assertFalse(s.contains("@"), s);
  }
}
