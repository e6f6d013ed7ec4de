package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HoldingServer;
import dev.outrigger.HttpStatusException;
import dev.outrigger.LogCapture;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** README "Lifecycle". */
class ReadmeLifecycleTest {

  /**
   * "A call under way at close() finishes the attempt it has already sent but starts no other";
   * the watchdog "stops when the last [client] closes (... an attempt still in flight keeps it,
   * enforcing that attempt's deadline, until it ends, and close() does not wait for that)".
   * close() returns while the attempt is held by the server; the attempt is still cut at its
   * deadline, sends no retry, and the watchdog ends after it.
   */
  @Test
  void anAttemptInFlightAtCloseIsStillCutAtItsDeadline() throws Exception {
    try (HoldingServer server = new HoldingServer()) {
      // Another test's client, still open in this JVM, would keep the watchdog running.
      boolean watchdogBefore = watchdogAlive();
      ApiClient client = ApiClient.builder().baseUrl(server.url())
          .deadline(Duration.ofSeconds(2))
          .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1)))
          .build();
      CompletableFuture<Throwable> ended = new CompletableFuture<>();
      Thread.ofVirtual().start(() -> {
        try {
          client.get("/held").execute(String.class);
          ended.complete(null);
        } catch (Throwable e) {
          ended.complete(e);
        }
      });
      HoldingServer.await("the attempt is in flight", () -> server.inFlight() == 1);
      client.close();
      assertFalse(ended.isDone(), "close() did not wait for the attempt");
      Throwable e = ended.get(20, TimeUnit.SECONDS);
      assertInstanceOf(DeadlineExceededException.class, e, String.valueOf(e));
      assertEquals(1, server.requests(), "no retry after close()");
      if (!watchdogBefore) {
        HoldingServer.await("the watchdog ends with the last attempt", () -> !watchdogAlive());
      }
    }
  }

  /**
   * "client.newBuilder()...build() derives a client ... that shares the connection pool ...
   * Policy state (buckets, breakers, budgets) is per client."
   */
  @Test
  void aDerivedClientSharesThePoolButNotThePolicyState() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> ReadmeServer.Reply.ok("ok"));
        ApiClient parent = ApiClient.builder().baseUrl(server.url())
            .rateLimit(dev.outrigger.RateLimit.perSecond(0.01).burst(1)).build();
        ApiClient derived = parent.newBuilder().deadline(Duration.ofSeconds(3)).build()) {
      assertEquals(parent.okHttpClient().connectionPool(),
          derived.okHttpClient().connectionPool());
      parent.get("/a").execute(String.class);
      assertEquals(0, parent.rateLimiter().orElseThrow().availablePermits(server.host()));
      assertEquals("ok", derived.get("/b").execute(String.class), "its own bucket is full");
      parent.breaker(server.host()).forceOpen();
      assertEquals(dev.outrigger.CircuitBreaker.State.CLOSED,
          derived.breaker(server.host()).snapshot().state());
    }
  }

  /**
   * "The client's circuit breakers that are not closed (open, half-open, or forced open or
   * disabled by hand) are closed, and listeners hear of it as transitions to CLOSED (logged at
   * INFO with the reason 'its client was closed')"; "closing twice is harmless"; "A call made
   * after close() throws IllegalStateException".
   */
  @Test
  void closeClosesTheBreakersThatAreNotClosedAndSaysWhy() throws Exception {
    List<String> heard = new CopyOnWriteArrayList<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> new ReadmeServer.Reply(503, "down"));
        LogCapture log = new LogCapture("dev.outrigger.CircuitBreaker")) {
      ApiClient client = ApiClient.builder().baseUrl(server.url()).retry(Retry.none())
          .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2)
              .build())
          .addListener(new CallListener() {
            @Override
            public void breakerTransition(String key, CircuitBreaker.State from,
                CircuitBreaker.State to) {
              heard.add(key + " " + from + "->" + to);
            }
          })
          .build();
      for (int i = 0; i < 2; i++) {
        assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
      }
      client.breaker("forced.example:443").forceOpen();
      client.breaker("disabled.example:443").disable();
      client.breaker("closed.example:443").reset();
      heard.clear();
      client.close();
      client.close();
      assertEquals(Set.of(server.host() + " OPEN->CLOSED",
          "forced.example:443 FORCED_OPEN->CLOSED", "disabled.example:443 DISABLED->CLOSED"),
          Set.copyOf(heard));
      assertEquals(3, heard.size(), heard.toString());
      for (String key : List.of(server.host(), "forced.example:443", "disabled.example:443")) {
        assertTrue(log.lines().stream().anyMatch(l -> l.startsWith("INFO")
            && l.contains("circuit breaker " + key + ": ")
            && l.contains("-> CLOSED") && l.contains("its client was closed")), log.all());
      }
      assertThrows(IllegalStateException.class, () -> client.get("/x").execute(String.class));
    }
  }

  private static boolean watchdogAlive() {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().equals("outrigger-deadlines") && t.isAlive());
  }
}
