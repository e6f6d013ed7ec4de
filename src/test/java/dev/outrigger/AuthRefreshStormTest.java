package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Calls sent with one token that expires meet a 401 each. The first starts a fetch of a fresh
 * token, and with a rotating refresh token (each fetch spends the one the last handed out) a
 * second fetch for the same expired token spends the fresh one's: the user is logged out. A 401
 * that arrives after that fetch ended, for a call that went out with the expired token, is
 * signed again with the token the fetch left, without another fetch, on whichever client sharing
 * the Auth (derived with newBuilder()) it comes. Before, it started a fetch of its own. A 401 for
 * the token the last fetch left still fetches: the server revoked it. The clients share the
 * running fetch too, which the close of the one whose call started it leaves running for the
 * others: only the last one's close interrupts it.
 */
class AuthRefreshStormTest {
  private static final Duration LONG = Duration.ofSeconds(30);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  /** The server accepts "Bearer t" + valid. */
  private volatile int valid = 1;
  private volatile String token = "t0";
  private final AtomicInteger fetches = new AtomicInteger();
  /** The fetch the number of which is {@link #gated} waits for this, and throws if interrupted. */
  private final CountDownLatch gate = new CountDownLatch(1);
  private volatile int gated;
  private final CountDownLatch gatedFetchStarted = new CountDownLatch(1);
  private final CountDownLatch fetchInterrupted = new CountDownLatch(1);
  /** Each fetch presents the refresh token the previous one handed out: rt0, rt1, ... */
  private final Auth auth = refresh -> {
    if (refresh) {
      int n = fetches.incrementAndGet();
      if (n == gated) {
        gatedFetchStarted.countDown();
        try {
          gate.await();
        } catch (InterruptedException e) {
          fetchInterrupted.countDown();
          throw new IllegalStateException("the token endpoint call was interrupted", e);
        }
      }
      token = "t" + n;
    }
    return "Bearer " + token;
  };

  /** A call to /late sent with t0 is answered once this opens. */
  private final CountDownLatch answerLate = new CountDownLatch(1);
  private final CountDownLatch lateSent = new CountDownLatch(1);
  /** The Authorization each request to a path carried, in order. */
  private final Map<String, List<String>> sent = new ConcurrentHashMap<>();
  private final ExecutorService pool = Executors.newFixedThreadPool(2);

  {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        String authz = request.getHeaders().get("Authorization");
        String path = request.getUrl().encodedPath();
        sent.computeIfAbsent(path, p -> new CopyOnWriteArrayList<>()).add(authz);
        if (path.equals("/late") && "Bearer t0".equals(authz)) {
          lateSent.countDown();
          answerLate.await(LONG.toMillis(), TimeUnit.MILLISECONDS);
        }
        return ("Bearer t" + valid).equals(authz)
            ? new MockResponse.Builder().body("ok").build()
            : new MockResponse.Builder().code(401).body("expired").build();
      }
    });
  }

  @AfterEach
  void tearDown() {
    answerLate.countDown();
    gate.countDown();
    pool.shutdownNow();
  }

  private ApiClient client() {
    return client(auth);
  }

  private ApiClient client(Auth auth) {
    return ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(LONG).retry(Retry.none()).auth(auth).build();
  }

  @Test
  void aLate401AfterTheFetchEndedIsSignedAgainWithoutAnotherFetch() throws Exception {
    try (ApiClient client = client()) {
      lateCallTakesTheTokenTheFetchLeft(client, client);
      ClientTestSupport.assertNoLeaks(client);
    }
  }

  @Test
  void aLate401OnADerivedClientIsSignedAgainWithoutAnotherFetch() throws Exception {
    try (ApiClient client = client();
        ApiClient derived = client.newBuilder().deadline(LONG.plusSeconds(1)).build()) {
      lateCallTakesTheTokenTheFetchLeft(client, derived);
      ClientTestSupport.assertNoLeaks(derived);
    }
  }

  /** {@code late} sends /late with t0; {@code first} meets a 401 and fetches; then /late's 401. */
  private void lateCallTakesTheTokenTheFetchLeft(ApiClient first, ApiClient late)
      throws Exception {
    Future<String> lateCall = pool.submit(() -> late.get("/late").execute(String.class));
    assertTrue(lateSent.await(LONG.toMillis(), TimeUnit.MILLISECONDS));
    // A meets a 401 for t0, fetches t1 (spending rt0), and is sent again with it. Its call
    // returns once the fetch has ended.
    assertEquals("ok", first.get("/a").execute(String.class));
    assertEquals(1, fetches.get());

    answerLate.countDown();

    assertEquals("ok", lateCall.get(LONG.toMillis(), TimeUnit.MILLISECONDS));
    assertEquals(1, fetches.get(), "the late 401 for t0 fetched again, spending rt1");
    assertEquals(List.of("Bearer t0", "Bearer t1"), sent.get("/late"));
  }

  @Test
  void a401ForTheTokenTheLastFetchLeftFetchesAgain() throws Exception {
    try (ApiClient client = client();
        ApiClient derived = client.newBuilder().deadline(LONG.plusSeconds(1)).build()) {
      assertEquals("ok", client.get("/a").execute(String.class));
      assertEquals(1, fetches.get());
      // The server revokes t1: a call on either client signed with it meets a 401.
      valid = 2;
      assertEquals("ok", derived.get("/b").execute(String.class));
      assertEquals(2, fetches.get(), "a 401 for the current token must fetch a new one");
      assertEquals(List.of("Bearer t1", "Bearer t2"), sent.get("/b"));
      ClientTestSupport.assertNoLeaks(derived);
    }
  }

  @Test
  void aLate401SignedAgainWithATokenRevokedSinceFetches() throws Exception {
    // /late's 401 for t0 is signed again with t1, which the server revoked after /a's fetch:
    // its 401 is one any call signed now would meet, and fetches. Before, it was returned.
    try (ApiClient client = client()) {
      lateCallAfterTheFetchedTokenIsRevoked(client);
      assertEquals(List.of("Bearer t0", "Bearer t1", "Bearer t2"), sent.get("/late"));
      ClientTestSupport.assertNoLeaks(client);
    }
  }

  @Test
  void aLate401ForTheValueTheAuthStillHoldsFetches() throws Exception {
    // An Auth that hands a fresh value to the call that asked and keeps none: the late call's
    // t0 is still what it holds, so signing again would only meet the same 401.
    try (ApiClient client = client(refresh -> refresh
        ? "Bearer t" + fetches.incrementAndGet() : "Bearer t0")) {
      lateCallAfterTheFetchedTokenIsRevoked(client);
      assertEquals(List.of("Bearer t0", "Bearer t2"), sent.get("/late"));
      ClientTestSupport.assertNoLeaks(client);
    }
  }

  /**
   * /late is sent with t0; /a meets a 401 and fetches t1, which the server then revokes; then
   * /late's 401 comes. /late succeeds, after two fetches in all.
   */
  private void lateCallAfterTheFetchedTokenIsRevoked(ApiClient client) throws Exception {
    Future<String> lateCall = pool.submit(() -> client.get("/late").execute(String.class));
    assertTrue(lateSent.await(LONG.toMillis(), TimeUnit.MILLISECONDS));
    assertEquals("ok", client.get("/a").execute(String.class));
    valid = 2;

    answerLate.countDown();

    assertEquals("ok", lateCall.get(LONG.toMillis(), TimeUnit.MILLISECONDS));
    assertEquals(2, fetches.get());
  }

  @Test
  void a401OnADerivedClientWhileTheFetchRunsWaitsForIt() throws Exception {
    try (ApiClient client = client();
        ApiClient derived = client.newBuilder().deadline(LONG.plusSeconds(1)).build()) {
      derivedCallWaitsForTheParentsFetch(client, derived);
    }
  }

  /**
   * The same on a client derived with the Auth removed and given again: the builder made a
   * refresher of its own for it, and the derived client's 401 fetched a second time.
   */
  @Test
  void aDerivedClientGivenTheSameAuthAgainSharesTheFetch() throws Exception {
    try (ApiClient client = client();
        ApiClient derived = client.newBuilder().auth(null).auth(auth)
            .deadline(LONG.plusSeconds(1)).build()) {
      derivedCallWaitsForTheParentsFetch(client, derived);
    }
  }

  private void derivedCallWaitsForTheParentsFetch(ApiClient client, ApiClient derived)
      throws Exception {
    gated = 1;
    AtomicReference<Thread> lateThread = new AtomicReference<>();
    Future<String> lateCall = pool.submit(() -> {
      lateThread.set(Thread.currentThread());
      return derived.get("/late").execute(String.class);
    });
    assertTrue(lateSent.await(LONG.toMillis(), TimeUnit.MILLISECONDS));
    Future<String> firstCall = pool.submit(() -> client.get("/a").execute(String.class));
    assertTrue(gatedFetchStarted.await(LONG.toMillis(), TimeUnit.MILLISECONDS));
    answerLate.countDown();
    ClientTestSupport.awaitWaitingForTheRefresh(lateThread.get(), LONG);

    gate.countDown();

    assertEquals("ok", firstCall.get(LONG.toMillis(), TimeUnit.MILLISECONDS));
    assertEquals("ok", lateCall.get(LONG.toMillis(), TimeUnit.MILLISECONDS));
    assertEquals(1, fetches.get(), "the derived client's 401 started a fetch of its own");
    ClientTestSupport.assertNoLeaks(derived);
  }

  @Test
  void closingTheClientWhoseCallStartedTheFetchLeavesItToAnotherClientsWaitingCall()
      throws Exception {
    // Interrupted by that close, the fetch would be cut after the token endpoint may have spent
    // the rotating refresh token, and the other client's call would fetch again with it.
    gated = 1;
    ApiClient client = client();
    try (ApiClient derived = client.newBuilder().deadline(LONG.plusSeconds(1)).build()) {
      AtomicReference<Thread> lateThread = new AtomicReference<>();
      Future<String> lateCall = pool.submit(() -> {
        lateThread.set(Thread.currentThread());
        return derived.get("/late").execute(String.class);
      });
      Future<String> firstCall;
      try {
        assertTrue(lateSent.await(LONG.toMillis(), TimeUnit.MILLISECONDS));
        firstCall = pool.submit(() -> client.get("/a").execute(String.class));
        assertTrue(gatedFetchStarted.await(LONG.toMillis(), TimeUnit.MILLISECONDS));
        answerLate.countDown();
        ClientTestSupport.awaitWaitingForTheRefresh(lateThread.get(), LONG);
      } finally {
        client.close();
      }
      ExecutionException closed = assertThrows(ExecutionException.class,
          () -> firstCall.get(LONG.toMillis(), TimeUnit.MILLISECONDS));
      assertEquals(TransportException.Kind.CANCELLED,
          assertInstanceOf(TransportException.class, closed.getCause()).kind());

      gate.countDown();

      assertEquals("ok", lateCall.get(LONG.toMillis(), TimeUnit.MILLISECONDS));
      assertEquals(1, fetches.get(), "the close cut the fetch, and the late call fetched again");
      assertEquals(List.of("Bearer t0", "Bearer t1"), sent.get("/late"));
      ClientTestSupport.assertNoLeaks(derived);
    }
  }

  @Test
  void closingADerivedClientWhoseCallStartedTheFetchLeavesItToTheParentsNextCall()
      throws Exception {
    // A short-lived client derived per request, closed once its call ends, here at its
    // deadline while its fetch still runs: the parent's next 401 takes that fetch's token.
    gated = 1;
    try (ApiClient client = client()) {
      ApiClient derived = client.newBuilder().deadline(Duration.ofSeconds(2)).build();
      try {
        assertThrows(DeadlineExceededException.class,
            () -> derived.get("/a").execute(String.class));
      } finally {
        derived.close();
      }
      assertTrue(gatedFetchStarted.await(LONG.toMillis(), TimeUnit.MILLISECONDS));

      gate.countDown();

      assertEquals("ok", client.get("/b").execute(String.class));
      assertEquals(1, fetches.get(), "the close cut the fetch, and the parent fetched again");
      ClientTestSupport.assertNoLeaks(client);
    }
  }

  @Test
  void theCloseOfTheLastClientSharingTheAuthInterruptsTheFetch() throws Exception {
    gated = 1;
    ApiClient client = client();
    ApiClient derived = client.newBuilder().build();
    try {
      pool.submit(() -> derived.get("/a").execute(String.class));
      assertTrue(gatedFetchStarted.await(LONG.toMillis(), TimeUnit.MILLISECONDS));
      derived.close();

      client.close();

      assertTrue(fetchInterrupted.await(LONG.toMillis(), TimeUnit.MILLISECONDS));
    } finally {
      derived.close();
      client.close();
    }
  }
}
