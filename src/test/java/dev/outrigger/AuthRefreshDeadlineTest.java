package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A fetch of fresh credentials that hangs (a token endpoint that never answers) holds no call
 * past its deadline: the calls that meet a 401 wait for one shared fetch, each until its own
 * deadline, and the client's close() stops the fetch.
 */
class AuthRefreshDeadlineTest {
  /**
   * The client's deadline: long enough for an attempt on a busy machine, so that the calls are
   * cut while they wait for the refresh, not before.
   */
  private static final Duration DEADLINE = Duration.ofSeconds(2);
  /** Far beyond the calls' deadlines: a call still running then hangs. */
  private static final Duration HANG = Duration.ofSeconds(30);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  /** Opens the fetch: until then authorization(true) blocks. */
  private final CountDownLatch release = new CountDownLatch(1);
  /** What the fetch gives once opened: a value, or an exception it throws. */
  private volatile Supplier<String> answer = () -> "Bearer fresh";
  private final AtomicInteger fetches = new AtomicInteger();
  private final AtomicReference<Thread> fetchThread = new AtomicReference<>();
  private final CountDownLatch fetchInterrupted = new CountDownLatch(1);

  private final Auth auth = refresh -> {
    if (!refresh) {
      return "Bearer stale";
    }
    fetches.incrementAndGet();
    fetchThread.set(Thread.currentThread());
    try {
      release.await();
    } catch (InterruptedException e) {
      fetchInterrupted.countDown();
      throw new IllegalStateException("the token endpoint call was interrupted", e);
    }
    return answer.get();
  };

  private ApiClient client;

  @BeforeEach
  void setUp() {
    client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(DEADLINE).retry(Retry.none()).auth(auth).build();
  }

  @AfterEach
  void tearDown() {
    release.countDown();
    client.close();
  }

  @Test
  void aHangingRefreshEndsEachCallAtItsDeadlineAndServesTheCallsAfter() throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    // Before, the call waited in authorization(true) on its own thread for as long as it hung,
    // its deadline looked at only after.
    DeadlineExceededException first = callCutAtItsDeadline();
    assertTrue(first.getMessage().contains(
        "deadline exceeded while waiting for the credentials refresh"), first.getMessage());
    HttpStatusException cause = assertInstanceOf(HttpStatusException.class, first.getCause());
    assertEquals(401, cause.status());
    assertEquals(1, first.attempts());
    // A second call meeting a 401 meanwhile waits for the same fetch, not one of its own.
    callCutAtItsDeadline();
    assertEquals(1, fetches.get(), "one fetch for the two calls");

    // The fetch answers at last: a call meeting a 401 from then on is sent again with the value
    // (that fetch's, or its own fetch's, which now answers at once).
    release.countDown();
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    assertEquals("ok", client.get("/me").execute(String.class));
    for (int i = 0; i < 3; i++) {
      assertEquals("Bearer stale", server.takeRequest().getHeaders().get("Authorization"));
    }
    assertEquals("Bearer fresh", server.takeRequest().getHeaders().get("Authorization"));
    assertEquals("outrigger-auth-refresh", fetchThread.get().getName());
    // A platform thread: a virtual one pins its carrier in a synchronized token cache (JDK 21).
    assertFalse(fetchThread.get().isVirtual());
    assertTrue(fetchThread.get().isDaemon());
    ClientTestSupport.assertNoLeaks(client);
  }

  @Test
  void aCallWaitingForTheRefreshTakesWhatItGivesAfterTheFirstCallLeft() throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    callCutAtItsDeadline();
    // A call with time to spare joins the fetch the first call left running.
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread patient = Thread.ofPlatform().start(() -> outcome.set(outcomeOf(
        () -> client.get("/me").deadline(HANG).execute(String.class))));
    ClientTestSupport.awaitWaitingForTheRefresh(patient, HANG);
    release.countDown();
    patient.join(HANG.toMillis());
    assertEquals("ok", outcome.get());
    assertEquals(1, fetches.get());
    ClientTestSupport.assertNoLeaks(client);
  }

  @Test
  void aRefreshThatThrowsReachesTheCallsWaitingForIt() throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    callCutAtItsDeadline();
    IllegalStateException down = new IllegalStateException("token endpoint down");
    answer = () -> {
      throw down;
    };
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread patient = Thread.ofPlatform().start(() -> outcome.set(outcomeOf(
        () -> client.get("/me").deadline(HANG).execute(String.class))));
    ClientTestSupport.awaitWaitingForTheRefresh(patient, HANG);
    release.countDown();
    patient.join(HANG.toMillis());
    // What the Auth threw, as when it ran on the caller's thread.
    assertSame(down, outcome.get());
    assertEquals(1, fetches.get());
    assertEquals(2, server.getRequestCount(), "no request after the failed refresh");
    ClientTestSupport.assertNoLeaks(client);
  }

  @Test
  void aRefreshFailingWithAnotherCallsApiExceptionGivesEachCallItsOwn401() throws Exception {
    // The Auth's token endpoint, called through a client of its own, is down: that call's
    // HttpStatusException (503, three attempts) is what the fetch throws.
    MockWebServer tokens = new MockWebServer();
    tokens.start();
    try (ApiClient tokenClient = ApiClient.builder().baseUrl(tokens.url("/").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(3))
        .build()) {
      for (int i = 0; i < 3; i++) {
        tokens.enqueue(new MockResponse.Builder().code(503).build());
      }
      server.enqueue(new MockResponse.Builder().code(401).build());
      AtomicReference<HttpStatusException> endpoint = new AtomicReference<>();
      answer = () -> {
        try {
          return tokenClient.get("/token").execute(String.class);
        } catch (HttpStatusException e) {
          endpoint.set(e);
          throw e;
        }
      };
      release.countDown();

      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/me").deadline(HANG).execute(String.class));

      // Before, the call got the endpoint's own exception (503), its attempt count then set
      // to this call's, shared with every call that waited.
      assertEquals(401, e.status());
      assertEquals(1, e.attempts());
      assertTrue(e.getMessage().contains("the credentials refresh failed: HTTP 503"),
          e.getMessage());
      assertSame(endpoint.get(), e.getSuppressed()[0]);
      assertEquals(3, endpoint.get().attempts(), "the endpoint's own count, untouched");
    } finally {
      tokens.close();
    }
    ClientTestSupport.assertNoLeaks(client);
  }

  @Test
  void closeStopsTheRefreshAndEndsTheCallsWaitingForIt() throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    callCutAtItsDeadline();
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread patient = Thread.ofPlatform().start(() -> outcome.set(outcomeOf(
        () -> client.get("/me").deadline(HANG).execute(String.class))));
    ClientTestSupport.awaitWaitingForTheRefresh(patient, HANG);
    ClientTestSupport.assertNoLeaks(client);

    client.close();
    patient.join(HANG.toMillis());
    TransportException cancelled = assertInstanceOf(TransportException.class, outcome.get());
    assertEquals(TransportException.Kind.CANCELLED, cancelled.kind());
    assertTrue(cancelled.getMessage().contains(
        "the ApiClient was closed while the call waited for the credentials refresh"),
        cancelled.getMessage());
    assertTrue(fetchInterrupted.await(HANG.toMillis(), TimeUnit.MILLISECONDS),
        "close() interrupts the fetch");
    Thread fetch = fetchThread.get();
    fetch.join(HANG);
    assertFalse(fetch.isAlive(), "the fetch's thread ended");
    assertEquals(1, fetches.get());
  }

  /** A call that meets a 401 while the fetch hangs: cut at its deadline. */
  private DeadlineExceededException callCutAtItsDeadline() {
    return assertTimeoutPreemptively(HANG, () -> assertThrows(DeadlineExceededException.class,
        () -> client.get("/me").execute(String.class)));
  }

  private static Object outcomeOf(Supplier<String> call) {
    try {
      return call.get();
    } catch (RuntimeException e) {
      return e;
    }
  }
}
