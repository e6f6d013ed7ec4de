package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
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
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * README (Keys): a full table never drops "an open or half-open breaker opened or used within its
 * own open wait" or "with a half-open probe still out", and an open breaker unused for its whole
 * wait may go, so a new key gets a kept breaker. With {@code waitInOpenStateGrowth} that wait is
 * the one grown for the opening, not the growth's maximum: a breaker that opened for 500 ms and
 * then sat unused for a second makes room, and a new failing endpoint's breaker is kept and opens
 * (measured against the maximum, a minute here, the new key's breaker was not kept and never
 * opened). A half-open breaker whose probe has been out longer than that wait (a host that hangs
 * up to the deadline) is in use, and stays. Over real sockets, on a fake clock; breakers keyed by
 * path, a table of one.
 */
class GrownWaitEvictionTest {
  private static final long MS = 1_000_000L;

  @StartStop private final MockWebServer server = new MockWebServer();
  private final FakeClock clock = new FakeClock();
  private final List<String> transitions = new CopyOnWriteArrayList<>();
  private final CountDownLatch probeArrived = new CountDownLatch(1);
  private final CountDownLatch releaseProbe = new CountDownLatch(1);
  private ApiClient client;

  @AfterEach
  void tearDown() throws InterruptedException {
    releaseProbe.countDown();
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }

  /** The client: waits of 500 ms growing to a minute, one probe, one breaker kept. */
  private ApiClient client(Dispatcher dispatcher) {
    server.setDispatcher(dispatcher);
    CircuitBreaker breaker = CircuitBreaker.builder()
        .keyedBy(ctx -> ctx.url().encodedPath())
        .slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(0.5)
        .waitInOpenState(Duration.ofMillis(500))
        .waitInOpenStateGrowth(2.0, Duration.ofMinutes(1))
        .permittedCallsInHalfOpen(1).maxBreakers(1).build();
    client = ClientTestSupport.withClock(ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none()).circuitBreaker(breaker)
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            transitions.add(key + " " + from + "->" + to);
          }
        }), clock).build();
    return client;
  }

  @Test
  void anOpenBreakerUnusedForItsWholeFirstWaitMakesRoomThoughItsWaitCouldGrow() throws Exception {
    client(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(503).body("down").build();
      }
    });
    // /a opens for its first wait, 500 ms (the growth applies only after failed probes).
    assertThrows(HttpStatusException.class, () -> client.get("/a").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/a").execute(String.class));
    CircuitOpenException open =
        assertThrows(CircuitOpenException.class, () -> client.get("/a").execute(String.class));
    assertEquals(Duration.ofMillis(500), open.retryAfter());

    // Nobody calls /a for a second, twice its whole wait: it may go for a new key.
    clock.advance(1_000 * MS);
    assertThrows(HttpStatusException.class, () -> client.get("/b").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/b").execute(String.class));
    assertEquals(List.of("/v1/b"),
        client.breakers().stream().map(CircuitBreaker.Snapshot::key).toList(),
        "the table kept /a, unused for its whole 500 ms wait, and not /b");
    // /b failed twice: its breaker is open, and the next call is refused, not sent.
    assertThrows(CircuitOpenException.class, () -> client.get("/b").execute(String.class));
    assertEquals(4, server.getRequestCount());
    assertEquals(List.of("/v1/a CLOSED->OPEN", "/v1/a OPEN->CLOSED", "/v1/b CLOSED->OPEN"),
        transitions, "/a reported closed as it was dropped, then /b opened");
  }

  @Test
  void aHalfOpenBreakerWithItsProbeOutIsNotDroppedForANewKey() throws Exception {
    AtomicInteger deadCalls = new AtomicInteger();
    client(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        if (!request.getUrl().encodedPath().endsWith("/dead")) {
          return new MockResponse.Builder().code(200).body("x").build();
        }
        if (deadCalls.incrementAndGet() == 3) {
          // The probe: the host hangs, then fails.
          probeArrived.countDown();
          releaseProbe.await(10, TimeUnit.SECONDS);
        }
        return new MockResponse.Builder().code(503).body("down").build();
      }
    });
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    assertThrows(HttpStatusException.class, () -> client.get("/dead").execute(String.class));
    // After its 500 ms wait, /dead's probe goes out; the host holds it.
    clock.advance(500 * MS);
    CompletableFuture<String> probe =
        CompletableFuture.supplyAsync(() -> client.get("/dead").execute(String.class));
    assertTrue(probeArrived.await(10, TimeUnit.SECONDS), "the probe reached the server");
    assertEquals(List.of("/v1/dead CLOSED->OPEN", "/v1/dead OPEN->HALF_OPEN"), transitions);

    // The probe has been out for a second (well within the 10 s deadline) when a new key needs
    // room in the full table: /dead is half-open, its probe in flight, and must stay.
    clock.advance(1_000 * MS);
    assertEquals("x", client.get("/new").execute(String.class));
    assertEquals(List.of("/v1/dead"),
        client.breakers().stream().map(CircuitBreaker.Snapshot::key).toList(),
        "the half-open breaker of /dead was dropped while its probe was out");

    // The probe fails: the breaker opens again (for 1 s), and /dead is refused, not sent.
    releaseProbe.countDown();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> probe.get(10, TimeUnit.SECONDS));
    assertEquals(503, ((HttpStatusException) e.getCause()).status());
    assertThrows(CircuitOpenException.class, () -> client.get("/dead").execute(String.class));
    assertEquals(3, deadCalls.get());
  }
}
