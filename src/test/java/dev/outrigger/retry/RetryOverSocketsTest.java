package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiException;
import dev.outrigger.ApiResponse;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The retry policy through a real ApiClient against MockWebServer over real sockets. */
class RetryOverSocketsTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final List<ApiClient> clients = new ArrayList<>();
  private final AtomicInteger budgetExhausted = new AtomicInteger();
  private final List<String> scheduled = new CopyOnWriteArrayList<>();

  /** Short real waits: the tests count requests, never time them. */
  private Retry retry = Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(5))
      .maxAttempts(3).jitter(Jitter.FULL);

  private ApiClient client() {
    return client(b -> b);
  }

  private ApiClient client(java.util.function.UnaryOperator<ApiClient.Builder> more) {
    ApiClient c = more.apply(ApiClient.builder()
        .baseUrl(server.url("/v1").toString())
        .retry(retry)
        .addListener(new CallListener() {
          @Override
          public void retryScheduled(CallContext call, Duration delay, String reason) {
            scheduled.add(reason);
          }

          @Override
          public void retryBudgetExhausted(CallContext call) {
            budgetExhausted.incrementAndGet();
          }
        })).build();
    clients.add(c);
    return c;
  }

  @AfterEach
  void noLeaks() throws InterruptedException {
    for (ApiClient c : clients) {
      ClientTestSupport.assertNoLeaks(c);
      c.close();
    }
  }

  private static MockResponse status(int code) {
    return new MockResponse.Builder().code(code).body("status " + code).build();
  }

  /** The server reads the whole request, then drops the connection without answering. */
  private static MockResponse disconnectAfterRequest() {
    return new MockResponse.Builder().onResponseStart(SocketEffect.ShutdownConnection.INSTANCE)
        .build();
  }

  @Test
  void twoUnavailablesThenSuccessSucceedsInThreeAttempts() {
    server.enqueue(status(503));
    server.enqueue(status(503));
    server.enqueue(status(200));

    ApiResponse<String> r = client().get("/things").send(String.class);

    assertEquals(200, r.status());
    assertEquals("status 200", r.body());
    assertEquals(3, r.attempts());
    assertEquals(3, server.getRequestCount());
    assertEquals(List.of("HTTP 503", "HTTP 503"), scheduled);
  }

  @Test
  void maxRetryAfterZeroIgnoresTheHeaderAndWaitsTheBackoff() {
    // Zero reads as "ignore the server's Retry-After", as RateLimit.maxPause(ZERO) does; it used
    // to cut every hint to nothing, retrying each 503 carrying one at once.
    List<Duration> delays = new CopyOnWriteArrayList<>();
    retry = Retry.exponential(Duration.ofMillis(40), Duration.ofMillis(40)).maxAttempts(2)
        .jitter(Jitter.NONE).maxRetryAfter(Duration.ZERO);
    assertTrue(retry.toString().contains(", Retry-After ignored,"), retry.toString());
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "5")
        .body("later").build());
    server.enqueue(status(200));

    String body = client(b -> b.addListener(new CallListener() {
      @Override
      public void retryScheduled(CallContext call, Duration delay, String reason) {
        delays.add(delay);
      }
    })).get("/things").execute(String.class);

    assertEquals("status 200", body);
    assertEquals(List.of(Duration.ofMillis(40)), delays, "the backoff, not the hint cut to 0");
    assertEquals(List.of("HTTP 503"), scheduled, "no Retry-After in the reason: it was ignored");
  }

  @Test
  void exhaustedAttemptsThrowTheLastStatusWithTheCountAndTheEarlierFailures() {
    for (int i = 0; i < 3; i++) {
      server.enqueue(status(i == 1 ? 502 : 503));
    }

    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client().get("/things").execute(String.class));

    assertEquals(503, e.status());
    assertEquals(3, e.attempts());
    assertTrue(e.getMessage().contains("after 3 attempts"), e.getMessage());
    assertEquals(2, e.getSuppressed().length);
    assertEquals(502, ((HttpStatusException) e.getSuppressed()[1]).status());
  }

  @Test
  void aStatusNotRetriedAfterARetriedOneCarriesItAndTheCount() {
    server.enqueue(status(503));
    server.enqueue(status(404));

    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client().get("/things").execute(String.class));

    assertEquals(404, e.status());
    assertEquals(2, e.attempts());
    assertTrue(e.getMessage().contains("after 2 attempts"), e.getMessage());
    assertEquals(1, e.getSuppressed().length, "the retried 503 goes with the 404");
    assertEquals(503, ((HttpStatusException) e.getSuppressed()[0]).status());
  }

  @Test
  void aPostWithoutKeyAgainstAFailingServerIsSentExactlyOnce() throws Exception {
    for (int i = 0; i < 3; i++) {
      server.enqueue(status(503));
    }

    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client().post("/orders").json(Map.of("item", 1)).execute(String.class));

    assertEquals(1, server.getRequestCount());
    assertEquals(1, e.attempts());
    assertTrue(e.getMessage().contains("not idempotent"), e.getMessage());
  }

  @Test
  void everyAttemptOfAKeyedPostCarriesTheSameKey() throws Exception {
    server.enqueue(status(503));
    server.enqueue(status(500));
    server.enqueue(status(201));

    String body = client().post("/orders").json(Map.of("item", 1)).idempotencyKey("k-123")
        .execute(String.class);

    assertEquals("status 201", body);
    assertEquals(3, server.getRequestCount());
    for (int i = 0; i < 3; i++) {
      RecordedRequest r = server.takeRequest();
      assertEquals("POST", r.getMethod());
      assertEquals("k-123", r.getHeaders().get("Idempotency-Key"));
      assertEquals("{\"item\":1}", r.getBody().utf8());
    }
  }

  @Test
  void aGeneratedKeyIsTheSameOnEveryAttempt() throws Exception {
    server.enqueue(status(503));
    server.enqueue(status(201));

    client(b -> b.generateIdempotencyKeys(true)).post("/orders").json(Map.of("item", 1))
        .execute();

    Set<String> keys = new HashSet<>();
    keys.add(server.takeRequest().getHeaders().get("Idempotency-Key"));
    keys.add(server.takeRequest().getHeaders().get("Idempotency-Key"));
    assertEquals(1, keys.size(), keys.toString());
    assertTrue(keys.iterator().next() != null);
  }

  @Test
  void aConnectionDroppedAfterTheRequestWasSentIsRetriedForGet() {
    server.enqueue(disconnectAfterRequest());
    server.enqueue(status(200));

    ApiResponse<String> r = client().get("/things").send(String.class);

    assertEquals(200, r.status());
    assertEquals(2, r.attempts());
    assertEquals(2, server.getRequestCount());
    assertEquals(List.of("io failure"), scheduled);
  }

  @Test
  void aConnectionDroppedAfterTheRequestWasSentIsNotRetriedForAnUnkeyedPost() {
    server.enqueue(disconnectAfterRequest());
    server.enqueue(status(200));

    TransportException e = assertThrows(TransportException.class,
        () -> client().post("/orders").json(Map.of("item", 1)).execute(String.class));

    assertEquals(TransportException.Kind.IO, e.kind());
    assertEquals(1, server.getRequestCount());
    assertTrue(e.getMessage().contains("may have reached the server"), e.getMessage());
  }

  @Test
  void aStalePooledConnectionDoesNotMakeOkHttpReplayAnUnkeyedPost() throws Exception {
    // The first exchange leaves a pooled connection; the POST reuses it and the server drops it
    // after reading the request. OkHttp's own retryOnConnectionFailure would replay the POST on
    // a new connection behind the policy's back; the client turns it off.
    server.enqueue(status(200));
    server.enqueue(disconnectAfterRequest());
    server.enqueue(status(200));
    ApiClient c = client();
    c.get("/warm").execute(String.class);

    assertThrows(TransportException.class,
        () -> c.post("/orders").json(Map.of("item", 1)).execute(String.class));

    assertEquals(2, server.getRequestCount(), "the POST reached the server once");
    RecordedRequest warm = server.takeRequest();
    RecordedRequest post = server.takeRequest();
    assertEquals(warm.getConnectionIndex(), post.getConnectionIndex(), "a pooled connection");
    assertEquals(1, post.getExchangeIndex());
  }

  @Test
  void okHttpAloneWouldReplayThatPost() throws Exception {
    // The hazard the previous test guards against, shown with a bare OkHttpClient whose
    // retryOnConnectionFailure is on (OkHttp's default).
    server.enqueue(status(200));
    server.enqueue(disconnectAfterRequest());
    server.enqueue(status(200));
    OkHttpClient raw = new OkHttpClient.Builder().retryOnConnectionFailure(true).build();
    try {
      raw.newCall(new Request.Builder().url(server.url("/warm")).build()).execute().close();
      Request post = new Request.Builder().url(server.url("/orders"))
          .post(RequestBody.create("{}", MediaType.get("application/json"))).build();
      try (Response r = raw.newCall(post).execute()) {
        assertEquals(200, r.code());
      }
      assertEquals(3, server.getRequestCount(), "OkHttp sent the POST twice");
    } finally {
      raw.dispatcher().executorService().shutdown();
      raw.connectionPool().evictAll();
    }
  }

  @Test
  void notFoundIsSentOnce() {
    server.enqueue(status(404));
    server.enqueue(status(200));

    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client().get("/missing").execute(String.class));

    assertEquals(404, e.status());
    assertEquals(1, e.attempts());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aRetryAfterLongerThanTheDeadlineFailsAtOnceSayingSo() {
    server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "120")
        .body("slow down").build());
    server.enqueue(status(200));

    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client().get("/things").deadline(Duration.ofSeconds(5)).execute(String.class));

    assertEquals(429, e.status());
    assertEquals(1, server.getRequestCount());
    assertTrue(e.getMessage().contains("the server asked to retry after 120s (Retry-After: 120)"),
        e.getMessage());
    assertTrue(e.getMessage().contains("capped to 60s"), e.getMessage());
  }

  @Test
  void aRetryAfterOfZeroIsAnImmediateRetryCountedByThePolicy() {
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "0").build());
    server.enqueue(status(200));

    ApiResponse<String> r = client().get("/things").send(String.class);

    assertEquals("status 200", r.body());
    assertEquals(2, r.attempts(), "the policy, not OkHttp, made the second attempt");
    assertEquals(List.of("HTTP 503, Retry-After 0ms"), scheduled);
  }

  @Test
  void aPostAnsweredUnavailableWithRetryAfterZeroIsSentOnceByTheDefaultClient() {
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "0").build());
    server.enqueue(status(201));

    assertThrows(HttpStatusException.class,
        () -> client().post("/orders").json(Map.of("item", 1)).execute(String.class));

    assertEquals(1, server.getRequestCount());
  }

  @Test
  void theBudgetCapsAttemptsUnderATotalOutage() {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        // No body: MockWebServer writes a body in a second segment, which costs a delayed ACK.
        return new MockResponse.Builder().code(503).build();
      }
    });
    retry = retry.maxAttempts(4);
    // The breaker would rightly open under a total outage; this test isolates the budget.
    ApiClient budgeted = client(b -> b.circuitBreaker(CircuitBreaker.none()));
    int calls = 100;
    long start = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      ApiException e = assertThrows(ApiException.class,
          () -> budgeted.get("/things").execute(String.class));
      assertInstanceOf(HttpStatusException.class, e);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    int withBudget = server.getRequestCount();
    // 100 calls + 20% of them + the floor of 10/s over the 10 s window, and 10/s more for each
    // second the test itself took (the window slides while it runs).
    double bound = calls * 1.2 + 100 + 10 * Math.ceil(seconds);
    assertTrue(withBudget <= bound, withBudget + " attempts > " + bound);
    assertTrue(budgetExhausted.get() > 0);

    retry = retry.noBudget();
    ApiClient unbudgeted = client(b -> b.circuitBreaker(CircuitBreaker.none()));
    for (int i = 0; i < calls; i++) {
      assertThrows(HttpStatusException.class,
          () -> unbudgeted.get("/things").execute(String.class));
    }
    int withoutBudget = server.getRequestCount() - withBudget;
    assertEquals(calls * 4, withoutBudget);
  }
}
