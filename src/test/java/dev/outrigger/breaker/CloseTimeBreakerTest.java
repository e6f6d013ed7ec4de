package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A client's close() closes its breakers, and an attempt that finishes after it (its request
 * was written before) counts no failure: it cannot open a breaker nothing would close again,
 * which a metrics gauge shared with other clients would then show open for good.
 */
class CloseTimeBreakerTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void anAttemptFinishingAfterCloseOpensNoBreaker() throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        arrived.countDown();
        release.await(10, TimeUnit.SECONDS);
        return new MockResponse.Builder().code(503).body("down").build();
      }
    });
    List<String> heard = new CopyOnWriteArrayList<>();
    ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(1).minimumNumberOfCalls(1)
            .build())
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            heard.add(from + " -> " + to);
          }
        })
        .build();
    CompletableFuture<String> call =
        CompletableFuture.supplyAsync(() -> c.get("/x").execute(String.class));
    try {
      assertTrue(arrived.await(10, TimeUnit.SECONDS), "the request reached the server");
      c.close();
    } finally {
      release.countDown();
    }
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> call.get(10, TimeUnit.SECONDS));
    assertEquals(503, ((HttpStatusException) e.getCause()).status(), "the written attempt ends");
    String key = server.getHostName() + ":" + server.getPort();
    assertEquals(CircuitBreaker.State.CLOSED, c.breaker(key).snapshot().state());
    assertEquals(List.of(), heard, "no breaker opened after close()");
  }
}
