package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.NanoClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The breaker through {@link ApiClient}, over real sockets. */
class BreakerClientTest {
  private static final long S = 1_000_000_000L;

  /** Answers every request with {@link #status}. */
  static final class Answer extends Dispatcher {
    volatile int status;

    Answer(int status) {
      this.status = status;
    }

    @Override
    public MockResponse dispatch(RecordedRequest request) {
      return new MockResponse.Builder().code(status).body("status " + status).build();
    }
  }

  /** Records breaker events. */
  static final class Events implements CallListener {
    final List<String> seen = new CopyOnWriteArrayList<>();

    @Override
    public void breakerRejected(CallContext call, String key) {
      seen.add("rejected " + key);
    }

    @Override
    public void breakerTransition(String key, CircuitBreaker.State from, CircuitBreaker.State to) {
      seen.add(key + " " + from + "->" + to);
    }
  }

  @StartStop private final MockWebServer failing = new MockWebServer();
  @StartStop private final MockWebServer healthy = new MockWebServer();
  private final Answer failingAnswer = new Answer(503);
  private final FakeClock clock = new FakeClock();
  private final Events events = new Events();
  private ApiClient client;

  @AfterEach
  void tearDown() throws InterruptedException {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }


  private ApiClient client(CircuitBreaker breaker) throws ReflectiveOperationException {
    failing.setDispatcher(failingAnswer);
    healthy.setDispatcher(new Answer(200));
    return ClientTestSupport.withClock(ApiClient.builder().baseUrl(failing.url("/v1").toString())
        .retry(Retry.none()).circuitBreaker(breaker).addListener(events), clock).build();
  }

  private String key(MockWebServer server) {
    return server.getHostName() + ":" + server.getPort();
  }

  @Test
  void theDefaultBreakerNeedsTwentyCallsThenOpensAtHalfFailures() throws Exception {
    client = client(CircuitBreaker.defaults());
    for (int i = 0; i < 19; i++) {
      assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
    }
    assertEquals(List.of(), events.seen);
    assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
    assertEquals(List.of(key(failing) + " CLOSED->OPEN"), events.seen);

    CircuitOpenException e =
        assertThrows(CircuitOpenException.class, () -> client.get("/x").execute(String.class));
    assertEquals(0, e.attempts());
    assertEquals(key(failing), e.breaker());
    assertEquals(Duration.ofSeconds(5), e.retryAfter());
    assertEquals(20, failing.getRequestCount());
  }

  @Test
  void aFailingHostOpensWhileAnotherStaysClosedAndRecoveryClosesIt() throws Exception {
    client = client(CircuitBreaker.builder().slidingWindowSize(10).minimumNumberOfCalls(5)
        .waitInOpenState(Duration.ofSeconds(30)).permittedCallsInHalfOpen(2).build());
    String other = healthy.url("/ok").toString();
    for (int i = 0; i < 5; i++) {
      assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
      assertEquals("status 200", client.get(other).execute(String.class));
    }
    CircuitOpenException e =
        assertThrows(CircuitOpenException.class, () -> client.get("/x").execute(String.class));
    assertTrue(e.getMessage().contains(key(failing)), e.getMessage());
    for (int i = 0; i < 20; i++) {
      assertEquals("status 200", client.get(other).execute(String.class));
    }
    assertEquals(5, failing.getRequestCount());

    failingAnswer.status = 200;
    clock.advance(30 * S);
    assertEquals("status 200", client.get("/x").execute(String.class));
    assertEquals("status 200", client.get("/x").execute(String.class));
    assertEquals("status 200", client.get("/x").execute(String.class));
    assertEquals(8, failing.getRequestCount());
    assertEquals(List.of(key(failing) + " CLOSED->OPEN", "rejected " + key(failing),
        key(failing) + " OPEN->HALF_OPEN", key(failing) + " HALF_OPEN->CLOSED"), events.seen);
  }

  @Test
  void aProbeWhosePredicateThrowsAnErrorGivesItsPermitBack() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean explode =
        new java.util.concurrent.atomic.AtomicBoolean();
    client = client(CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2)
        .waitInOpenState(Duration.ofSeconds(1)).permittedCallsInHalfOpen(1)
        .failureStatus(status -> {
          if (explode.get()) {
            throw new AssertionError("a bug in the user's predicate");
          }
          return status >= 500;
        })
        .build());
    assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
    assertEquals(CircuitBreaker.State.OPEN, client.breaker(key(failing)).snapshot().state());

    clock.advance(2 * S);
    explode.set(true);
    // The half-open probe: sent, and its outcome's predicate throws. The Error reaches the
    // caller, and the probe counts as nothing.
    assertThrows(AssertionError.class, () -> client.get("/x").execute(String.class));
    explode.set(false);
    assertEquals(3, failing.getRequestCount());

    // Its permit came back: the next call is a probe too, sent, not refused as "all probes in
    // flight" for good.
    failingAnswer.status = 200;
    assertEquals("status 200", client.get("/x").execute(String.class));
    assertEquals(4, failing.getRequestCount());
    assertEquals(CircuitBreaker.State.CLOSED, client.breaker(key(failing)).snapshot().state());
  }

  @Test
  void clientErrorsNeverOpenTheDefaultBreaker() throws Exception {
    client = client(CircuitBreaker.defaults());
    failingAnswer.status = 429;
    for (int i = 0; i < 40; i++) {
      HttpStatusException e =
          assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
      assertEquals(429, e.status());
    }
    assertEquals(List.of(), events.seen);
  }

  @Test
  void aWaitForARatePermitIsNotASlowCallButTimeAfterSendingIs() throws Exception {
    // One permit a second: calls 2 to 4 each wait 1 s (on the fake clock) before they are sent,
    // to a server that answers at once. The wait is the client's own: no slow call.
    failingAnswer.status = 200;
    failing.setDispatcher(failingAnswer);
    CircuitBreaker breaker = CircuitBreaker.builder().slowCallDuration(Duration.ofMillis(500))
        .slowCallRateThreshold(0.5).minimumNumberOfCalls(2).slidingWindowSize(4).build();
    client = ClientTestSupport.withClock(ApiClient.builder().baseUrl(failing.url("/v1").toString())
        .retry(Retry.none()).circuitBreaker(breaker)
        .rateLimit(dev.outrigger.RateLimit.perSecond(1).burst(1)).addListener(events), clock)
        .build();
    for (int i = 0; i < 4; i++) {
      assertEquals("status 200", client.get("/x").execute(String.class));
    }
    assertEquals(List.of(S, S, S), clock.sleeps(), "three waits of 1 s each");
    CircuitBreaker.Snapshot s = client.breaker(key(failing)).snapshot();
    assertEquals(4, s.calls());
    assertEquals(0, s.slowCalls(), "waits for permits counted as slow calls: " + s);
    assertEquals(CircuitBreaker.State.CLOSED, s.state());

    // Time spent after the request went out is the attempt's, and still counts.
    try (ApiClient slow = client.newBuilder().addAttemptInterceptor(chain -> {
      okhttp3.Response r = chain.proceed(chain.request());
      clock.advance(S);
      return r;
    }).build()) {
      assertEquals("status 200", slow.get("/x").execute(String.class));
      assertEquals(1, slow.breaker(key(failing)).snapshot().slowCalls());
    }
  }

  @Test
  void anAttemptThatSendsTwiceIsTimedFromItsFirstSend() throws Exception {
    // An attempt interceptor sends, spends 1 s (say, refreshing a token), and sends again: the
    // attempt took 1 s from its first send, a slow call, though its last send was quick.
    failingAnswer.status = 200;
    failing.setDispatcher(failingAnswer);
    CircuitBreaker breaker = CircuitBreaker.builder().slowCallDuration(Duration.ofMillis(500))
        .build();
    client = ClientTestSupport.withClock(ApiClient.builder().baseUrl(failing.url("/v1").toString())
        .retry(Retry.none()).circuitBreaker(breaker).addAttemptInterceptor(chain -> {
          chain.proceed(chain.request()).close();
          clock.advance(S);
          return chain.proceed(chain.request());
        }), clock).build();
    assertEquals("status 200", client.get("/x").execute(String.class));
    CircuitBreaker.Snapshot s = client.breaker(key(failing)).snapshot();
    assertEquals(1, s.calls());
    assertEquals(1, s.slowCalls(), "timed from the last send only: " + s);
  }
}
