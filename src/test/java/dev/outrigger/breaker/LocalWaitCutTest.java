package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Time an attempt spent in the client's own waits (here a rate-limit permit) is not the host's
 * fault: an attempt the deadline cut after such a wait had used up most of its time counts
 * neither as a failure nor as a success, and a half-open probe of that kind gives its place to
 * another call, on a pass a success of the host's gave (one per success; here, with a minimum
 * of one call, one kept): a second such cut with no success between counts, so a host that
 * stopped answering cannot hide behind a saturated local queue. Before, the wait left the attempt a sliver of its deadline, the deadline cut it
 * on the way (a healthy host answering in 300 ms had 5 ms), and the cut counted as the host's
 * failure: a long local queue opened the breaker against a healthy host. An attempt that had
 * most of its deadline on the network, and was cut, still counts.
 *
 * <p>The client's clock is a fake one, so the permit wait takes no time while the attempt's
 * remaining deadline is what the fake wait left it, on the real clock the watchdog cuts by.
 */
class LocalWaitCutTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  private final FakeClock clock = new FakeClock();
  private final List<String> transitions = new CopyOnWriteArrayList<>();
  private ApiClient client;
  private ServerSocket blackhole;
  private final CountDownLatch held = new CountDownLatch(1);
  private final CountDownLatch heldTwice = new CountDownLatch(2);

  @AfterEach
  void tearDown() throws Exception {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
    if (blackhole != null) {
      blackhole.close();
    }
  }

  /**
   * A healthy host that answers "/fail" with a 503, "/hold" after 30 s, and anything else with a
   * 200 in 300 ms.
   */
  private void healthyIn300Ms() {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (request.getUrl().encodedPath().equals("/fail")) {
          return new MockResponse.Builder().code(503).build();
        }
        if (request.getUrl().encodedPath().equals("/hold")) {
          held.countDown();
          heldTwice.countDown();
          return new MockResponse.Builder().body("late")
              .headersDelay(30, TimeUnit.SECONDS).build();
        }
        return new MockResponse.Builder().body("ok")
            .headersDelay(300, TimeUnit.MILLISECONDS).build();
      }
    });
  }

  /**
   * A client of {@code baseUrl} on the fake clock: no retries, a breaker that one failure opens
   * (for 5 s, one probe), the rate limit and the deadline given.
   */
  private ApiClient client(String baseUrl, RateLimit rate, Duration deadline) {
    return ClientTestSupport.withClock(ApiClient.builder().baseUrl(baseUrl)
        .retry(Retry.none()).rateLimit(rate).deadline(deadline)
        .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(1).minimumNumberOfCalls(1)
            .waitInOpenState(Duration.ofSeconds(5)).permittedCallsInHalfOpen(1).build())
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            transitions.add(from + "->" + to);
          }
        }), clock).build();
  }

  /**
   * Takes the key's only permit now and moves the clock on by {@code millis}: the next attempt
   * waits for the next permit, all but {@code millis} of the limit's interval.
   */
  private void queueBehindAPermit(String key, long millis) {
    assertTrue(client.rateLimiter().orElseThrow().tryAcquire(key, 1));
    clock.advanceMillis(millis);
  }

  /**
   * A client of the healthy host at one call per {@code every} (burst 1), with {@code every} as
   * its deadline, that has had one answer (its breaker holds one success, and so one pass) and a
   * full bucket again. Returns the host's key.
   */
  private String answeredOnceAtOneCallPer(Duration every) {
    healthyIn300Ms();
    client = client(server.url("/").toString(),
        RateLimit.perSecond(1.0 / every.toSeconds()).burst(1), every);
    assertEquals("ok", client.get("/x").execute(String.class));
    clock.advanceMillis(every.toMillis());
    return server.getHostName() + ":" + server.getPort();
  }

  /** Calls "/hold" on a virtual thread, which it returns; {@code thrown} gets what it threw. */
  private Thread holdInTheBackground(CompletableFuture<Throwable> thrown) {
    return Thread.ofVirtual().start(() -> {
      try {
        client.get("/hold").execute(String.class);
        thrown.complete(null);
      } catch (Throwable t) {
        thrown.complete(t);
      }
    });
  }

  private CircuitBreaker.Snapshot breaker(String key) {
    return client.breaker(key).snapshot();
  }

  @Test
  void anAttemptCutAfterALongPermitWaitIsLetOffOncePerSuccessOfTheHost() {
    String key = answeredOnceAtOneCallPer(Duration.ofSeconds(1));

    queueBehindAPermit(key, 5);
    // 995 ms waiting for the permit, 5 ms left for a host that answers in 300 ms.
    DeadlineExceededException cut = assertThrows(DeadlineExceededException.class,
        () -> client.get("/x").execute(String.class));
    assertEquals(1, cut.attempts(), cut.getMessage());
    CircuitBreaker.Snapshot s = breaker(key);
    assertEquals(CircuitBreaker.State.CLOSED, s.state(), s.toString());
    assertEquals(1, s.calls(), "the success alone: " + s);
    assertEquals(0, s.failedCalls(), "the cut neither a failure nor a success: " + s);

    // The same host, given its deadline: it answers, and earns the next cut its pass.
    clock.advanceMillis(1_000);
    assertEquals("ok", client.get("/x").execute(String.class));
    clock.advanceMillis(1_000);
    queueBehindAPermit(key, 5);
    assertThrows(DeadlineExceededException.class, () -> client.get("/x").execute(String.class));
    assertEquals(List.of(), transitions);

    // A second cut with no success between counts: a host that stopped answering cannot hide
    // behind a long local queue.
    clock.advanceMillis(1_000);
    queueBehindAPermit(key, 5);
    assertThrows(DeadlineExceededException.class, () -> client.get("/x").execute(String.class));
    assertEquals(List.of("CLOSED->OPEN"), transitions);
  }

  @Test
  void aPassIsNotSpentOnACutThroughADisabledBreaker() {
    String key = answeredOnceAtOneCallPer(Duration.ofSeconds(1));

    // Disabled by hand, the breaker records nothing: a cut short then could not count, and
    // must not spend the pass the success gave.
    client.breaker(key).disable();
    queueBehindAPermit(key, 5);
    assertThrows(DeadlineExceededException.class, () -> client.get("/x").execute(String.class));

    // Reset, the breaker has its pass: the next cut short is let off.
    client.breaker(key).reset();
    clock.advanceMillis(1_000);
    queueBehindAPermit(key, 5);
    assertThrows(DeadlineExceededException.class, () -> client.get("/x").execute(String.class));
    assertEquals(List.of("CLOSED->DISABLED", "DISABLED->CLOSED"), transitions);
  }

  /**
   * A success through a breaker disabled by hand gave a pass, though a disabled breaker records
   * nothing (as Resilience4j's DISABLED): after a reset, the first cut short by the client's own
   * waits was let off on it, with no success of the host's counted since.
   */
  @Test
  void aSuccessThroughADisabledBreakerEarnsNoPass() {
    healthyIn300Ms();
    client = client(server.url("/").toString(), RateLimit.perSecond(1).burst(1),
        Duration.ofSeconds(1));
    String key = server.getHostName() + ":" + server.getPort();
    client.breaker(key).disable();
    assertEquals("ok", client.get("/x").execute(String.class));
    client.breaker(key).reset();

    // No success counted since the reset: the cut short counts, and opens the breaker.
    clock.advanceMillis(1_000);
    queueBehindAPermit(key, 5);
    assertThrows(DeadlineExceededException.class, () -> client.get("/x").execute(String.class));
    assertEquals(List.of("CLOSED->DISABLED", "DISABLED->CLOSED", "CLOSED->OPEN"), transitions);
  }

  @Test
  void aHalfOpenProbeCutAfterALongPermitWaitLeavesItsPlaceToTheNextCall() {
    String key = answeredOnceAtOneCallPer(Duration.ofSeconds(1));
    assertThrows(HttpStatusException.class, () -> client.get("/fail").execute(String.class));
    assertEquals(List.of("CLOSED->OPEN"), transitions);
    clock.advanceMillis(5_000);

    queueBehindAPermit(key, 5);
    // Admitted as the one probe, then 995 ms waiting for the permit and cut 5 ms after: let off
    // on the pass the host's earlier success gave.
    assertThrows(DeadlineExceededException.class, () -> client.get("/x").execute(String.class));
    CircuitBreaker.Snapshot s = breaker(key);
    assertEquals(CircuitBreaker.State.HALF_OPEN, s.state(), s.toString());
    assertEquals(0, s.calls(), s.toString());

    // The probe's place is free: the next call probes, and closes the breaker.
    clock.advanceMillis(1_000);
    assertEquals("ok", client.get("/x").execute(String.class));
    assertEquals(List.of("CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->CLOSED"), transitions);
  }

  @Test
  void aHostThatNeverAnsweredOpensTheBreakerEvenWithEveryCallQueuedBehindThePermits()
      throws IOException {
    // Accepts connections (the kernel's backlog) and never answers: the request is written
    // and waits for an answer until the deadline.
    blackhole = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    client = client("http://127.0.0.1:" + blackhole.getLocalPort() + "/",
        RateLimit.perSecond(4).burst(1), Duration.ofMillis(300));
    String key = "127.0.0.1:" + blackhole.getLocalPort();

    queueBehindAPermit(key, 5);
    // 245 ms of its 300 ms waiting for the permit, then cut 55 ms after it was sent, as every
    // call behind a saturated limit would be: with no success of the host's to let it off, the
    // cut counts.
    DeadlineExceededException cut = assertThrows(DeadlineExceededException.class,
        () -> client.get("/x").execute(String.class));
    assertEquals(1, cut.attempts(), cut.getMessage());
    assertEquals(List.of("CLOSED->OPEN"), transitions);
    CircuitOpenException refused = assertThrows(CircuitOpenException.class,
        () -> client.get("/x").execute(String.class));
    assertEquals(0, refused.attempts());
  }

  @Test
  void anInterruptThatEndsTheCutShortAttemptAfterItsDeadlineIsLetOffAsTheDeadlinesCut()
      throws Exception {
    String key = answeredOnceAtOneCallPer(Duration.ofSeconds(10));

    queueBehindAPermit(key, 4_000);
    // 6 s of its 10 s waiting for the permit, then sent with 4 s left (on the real clock the
    // watchdog cuts by); the deadline passes on the client's clock and an interrupt (FanOut's,
    // after its grace) ends the attempt before the watchdog's cut.
    CompletableFuture<Throwable> thrown = new CompletableFuture<>();
    Thread caller = holdInTheBackground(thrown);
    assertTrue(held.await(30, TimeUnit.SECONDS), "the attempt never reached the host");
    clock.advanceMillis(4_001);
    caller.interrupt();
    Throwable t = thrown.get(30, TimeUnit.SECONDS);
    DeadlineExceededException cut = assertInstanceOf(DeadlineExceededException.class, t);
    assertInstanceOf(dev.outrigger.TransportException.class, cut.getCause());
    CircuitBreaker.Snapshot s = breaker(key);
    assertEquals(CircuitBreaker.State.CLOSED, s.state(), s.toString());
    assertEquals(0, s.failedCalls(), "let off, as the watchdog's cut would be: " + s);
    assertEquals(List.of(), transitions);
  }

  @Test
  void aPassIsNotSpentOnACutThatNoLongerCountsAndServesTheHalfOpenProbe() throws Exception {
    String key = answeredOnceAtOneCallPer(Duration.ofSeconds(10));

    // Admitted while the breaker is closed, cut short (6 s of its 10 s waiting for a permit,
    // then 4 s on the real clock on the way to an answer that takes 30 s)...
    queueBehindAPermit(key, 4_000);
    CompletableFuture<Throwable> thrown = new CompletableFuture<>();
    holdInTheBackground(thrown);
    assertTrue(held.await(30, TimeUnit.SECONDS), "the attempt never reached the host");
    // ...while a failure opens the breaker: the cut, when it comes, counts nowhere, and must
    // not spend the pass the success gave.
    assertThrows(HttpStatusException.class,
        () -> client.get("/fail").deadline(Duration.ofSeconds(30)).execute(String.class));
    assertEquals(List.of("CLOSED->OPEN"), transitions);
    assertInstanceOf(DeadlineExceededException.class, thrown.get(30, TimeUnit.SECONDS));

    // The half-open probe is cut short the same way: let off on the pass.
    clock.advanceMillis(10_000);
    queueBehindAPermit(key, 4_000);
    assertThrows(DeadlineExceededException.class,
        () -> client.get("/hold").execute(String.class));
    assertTrue(heldTwice.await(30, TimeUnit.SECONDS));
    CircuitBreaker.Snapshot s = breaker(key);
    assertEquals(CircuitBreaker.State.HALF_OPEN, s.state(), s.toString());
    assertEquals(List.of("CLOSED->OPEN", "OPEN->HALF_OPEN"), transitions);
  }
}
