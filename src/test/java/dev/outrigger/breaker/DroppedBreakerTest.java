package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A breaker its table no longer keeps is out of use: it never opens afterwards, so it never
 * reports an opening that nothing would ever close (a state gauge fed by the listener would show
 * the key open for good while its calls go through a fresh closed breaker). Over real sockets,
 * on a fake clock.
 */
class DroppedBreakerTest {
  private static final long MS = 1_000_000L;

  @StartStop private final MockWebServer server = new MockWebServer();
  private final FakeClock clock = new FakeClock();
  private final List<String> transitions = new CopyOnWriteArrayList<>();
  private final CountDownLatch slowArrived = new CountDownLatch(1);
  private final CountDownLatch releaseSlow = new CountDownLatch(1);
  private ApiClient client;

  @AfterEach
  void tearDown() throws InterruptedException {
    releaseSlow.countDown();
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }

  /**
   * A client with one breaker per path, at most {@code max} kept, opening at the first failure.
   * /dead and /dead-too answer 503; the first call to /slow is held until {@link #releaseSlow},
   * then answers 503; everything else 200.
   */
  private ApiClient client(int max) {
    server.setDispatcher(new Dispatcher() {
      private final AtomicBoolean heldOne = new AtomicBoolean();

      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        String path = request.getUrl().encodedPath();
        if (path.endsWith("/slow") && heldOne.compareAndSet(false, true)) {
          slowArrived.countDown();
          releaseSlow.await(10, TimeUnit.SECONDS);
          return new MockResponse.Builder().code(503).body("down").build();
        }
        return new MockResponse.Builder().code(path.contains("/dead") ? 503 : 200).body("x")
            .build();
      }
    });
    CircuitBreaker breaker = CircuitBreaker.builder()
        .keyedBy(ctx -> ctx.url().encodedPath())
        .slidingWindowSize(1).minimumNumberOfCalls(1).failureRateThreshold(0.5)
        .waitInOpenState(Duration.ofSeconds(30)).permittedCallsInHalfOpen(1).maxBreakers(max)
        .build();
    return ClientTestSupport.withClock(ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none()).circuitBreaker(breaker)
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            transitions.add(key + " " + from + "->" + to);
          }
        }), clock).build();
  }

  @Test
  void aCallInFlightWhenItsClosedBreakerIsDroppedCannotOpenIt() throws Exception {
    client = client(2);
    // The breaker of /slow is made at t = 0 by a call the server holds.
    CompletableFuture<String> slow =
        CompletableFuture.supplyAsync(() -> client.get("/slow").execute(String.class));
    assertTrue(slowArrived.await(10, TimeUnit.SECONDS), "the request reached the server");

    // Two seconds on, /a fills the table and /b needs room: /slow's breaker, the least recently
    // used, is dropped while its call is still out.
    clock.advance(2_000 * MS);
    client.get("/a").execute(String.class);
    client.get("/b").execute(String.class);
    assertEquals(2, client.breakers().size());
    assertTrue(client.breakers().stream().noneMatch(s -> s.key().equals("/v1/slow")),
        "the breaker of /slow was dropped");

    // Its 503 would open the dropped breaker (one failure in a window of one).
    releaseSlow.countDown();
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> slow.get(10, TimeUnit.SECONDS));
    assertEquals(503, ((HttpStatusException) e.getCause()).status());
    assertEquals(List.of(), transitions, "no breaker opened");

    // The key starts over with a fresh closed breaker.
    assertEquals("x", client.get("/slow").execute(String.class));
    assertEquals(CircuitBreaker.State.CLOSED, client.breaker("/v1/slow").snapshot().state());
    assertEquals(List.of(), transitions);
  }

  @Test
  void aBreakerNoTableKeepsNeverReportsAnOpening() throws Exception {
    client = client(1);
    // /dead opens its breaker, kept within its wait: the table of one is full for good.
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    assertEquals(List.of("/v1/dead CLOSED->OPEN"), transitions);

    // /dead-too's breaker is not kept. Its failure would open it, and nothing would ever close it.
    clock.advance(100 * MS);
    assertThrows(HttpStatusException.class, () -> client.get("/dead-too").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/dead-too").execute(String.class));
    assertEquals(3, server.getRequestCount(), "/dead-too's calls are not refused");
    assertEquals(List.of("/v1/dead CLOSED->OPEN"), transitions);
    assertEquals(CircuitBreaker.State.CLOSED, client.breaker("/v1/dead-too").snapshot().state());
  }
}
