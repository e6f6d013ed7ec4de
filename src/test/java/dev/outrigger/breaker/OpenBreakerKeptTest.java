package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.CallInterceptor;
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

/**
 * A full table of breakers never drops one that is open and within its wait: the dead endpoint's
 * calls would reach it again at once. Over real sockets, on a fake clock.
 */
class OpenBreakerKeptTest {
  private static final long MS = 1_000_000L;

  @StartStop private final MockWebServer server = new MockWebServer();
  private final FakeClock clock = new FakeClock();
  private final List<String> transitions = new CopyOnWriteArrayList<>();
  private ApiClient client;

  @AfterEach
  void tearDown() throws InterruptedException {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }


  /**
   * A client with one breaker per path, at most two kept, one probe; /dead answers 503, the
   * rest 200.
   */
  private ApiClient client(Duration wait) throws ReflectiveOperationException {
    return client(wait, chain -> chain.proceed(chain.request()));
  }

  private ApiClient client(Duration wait, CallInterceptor attempt)
      throws ReflectiveOperationException {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        boolean dead = request.getUrl().encodedPath().endsWith("/dead");
        return new MockResponse.Builder().code(dead ? 503 : 200).body("x").build();
      }
    });
    CircuitBreaker breaker = CircuitBreaker.builder()
        .keyedBy(ctx -> ctx.url().encodedPath())
        .slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(0.5)
        .waitInOpenState(wait).permittedCallsInHalfOpen(1).maxBreakers(2).build();
    return ClientTestSupport.withClock(ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none()).circuitBreaker(breaker).addAttemptInterceptor(attempt)
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            transitions.add(key + " " + from + "->" + to);
          }
        }), clock).build();
  }

  @Test
  void aBreakerThatJustOpenedIsNotDroppedForANewKey() throws Exception {
    client = client(Duration.ofMillis(500));
    // The breaker of /dead is made at t = 0 and opens at t = 900 ms: its wait runs to 1.4 s.
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    clock.advance(900 * MS);
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    assertEquals(List.of("/v1/dead CLOSED->OPEN"), transitions);
    client.get("/live").execute(String.class);

    // 100 ms after it opened, a new key needs room in the full table: the open breaker, in the
    // middle of its wait, must stay, and /dead is still refused.
    clock.advance(100 * MS);
    client.get("/new").execute(String.class);
    CircuitOpenException e = assertThrows(CircuitOpenException.class,
        () -> client.get("/dead").execute(String.class));
    assertEquals(Duration.ofMillis(400), e.retryAfter());
    assertEquals(2, server.getRequestCount() - 2, "only /live and /new were sent");
    assertEquals(List.of("/v1/dead CLOSED->OPEN"), transitions);
  }

  @Test
  void aBreakerOpenedByALongCallIsNotDroppedForANewKey() throws Exception {
    // A hung endpoint: each call to /dead takes 10 s (its deadline, say) before it fails, so its
    // breaker was last used when the call that opens it began, 10 s before it opened.
    client = client(Duration.ofSeconds(5), chain -> {
      okhttp3.Response r = chain.proceed(chain.request());
      if (chain.request().url().encodedPath().endsWith("/dead")) {
        clock.advance(10_000 * MS);
      }
      return r;
    });
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    assertEquals(List.of("/v1/dead CLOSED->OPEN"), transitions);
    client.get("/live").execute(String.class);

    clock.advance(100 * MS);
    client.get("/new").execute(String.class);
    CircuitOpenException e = assertThrows(CircuitOpenException.class,
        () -> client.get("/dead").execute(String.class));
    assertEquals(Duration.ofMillis(4_900), e.retryAfter());
    assertEquals(4, server.getRequestCount(), "/dead twice, /live and /new");
    assertEquals(List.of("/v1/dead CLOSED->OPEN"), transitions);
  }

  @Test
  void anOpenBreakerRefusingCallsWithinItsWaitIsNotDroppedForANewKey() throws Exception {
    client = client(Duration.ofMillis(500));
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    assertEquals(List.of("/v1/dead CLOSED->OPEN"), transitions);
    client.get("/live").execute(String.class);
    // Callers keep trying /dead, and are refused: used 400 ms into its 500 ms wait.
    clock.advance(400 * MS);
    assertThrows(CircuitOpenException.class, () -> client.get("/dead").execute(String.class));
    client.get("/live").execute(String.class);

    // 450 ms after that use, a new key needs room: /dead was used within its wait, so it stays,
    // and the next call to it is its one probe, not a call through a fresh closed breaker.
    clock.advance(450 * MS);
    client.get("/new").execute(String.class);
    assertEquals(CircuitBreaker.State.OPEN, client.breaker("/v1/dead").snapshot().state());
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    assertEquals(List.of("/v1/dead CLOSED->OPEN", "/v1/dead OPEN->HALF_OPEN",
        "/v1/dead HALF_OPEN->OPEN"), transitions);
  }
}
