package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** README "Rate limiting" (the client's limiter; the standalone one is in the snippets test). */
class ReadmeRateLimitingTest {

  private final List<String> events = new CopyOnWriteArrayList<>();

  private final CallListener recorder = new CallListener() {
    @Override
    public void rateLimitWaited(CallContext call, String key, Duration waited) {
      events.add("waited " + key + " " + waited);
    }

    @Override
    public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
      events.add("rejected " + key);
    }

    @Override
    public void rateLimitPaused(CallContext call, String key, Duration pause) {
      events.add("paused " + key + " " + pause);
    }
  };

  /**
   * "The default key is the target host:port"; "A key function that returns null puts the call
   * in its host's bucket".
   */
  @Test
  void theDefaultKeyIsHostAndPortAndANullKeyMeansTheHost() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient byHost = ApiClient.builder().baseUrl(server.url())
            .rateLimit(RateLimit.perSecond(0.01).burst(1)).deadline(Duration.ofMillis(200))
            .addListener(recorder).build();
        ApiClient byNull = ApiClient.builder().baseUrl(server.url())
            .rateLimit(RateLimit.perSecond(0.01).burst(2).keyedBy(call -> null))
            .deadline(Duration.ofMillis(200))
            .addListener(recorder).build()) {
      byHost.get("/a").execute(String.class);
      assertThrows(RateLimitedException.class, () -> byHost.get("/a").execute(String.class));
      assertEquals(List.of("rejected " + server.host()), events);
      assertEquals(0, byHost.rateLimiter().orElseThrow().availablePermits(server.host()));

      events.clear();
      byNull.get("/b").execute(String.class);
      byNull.get("/c").attribute("tenant", "x").execute(String.class);
      assertThrows(RateLimitedException.class, () -> byNull.get("/d").execute(String.class));
      assertEquals(List.of("rejected " + server.host()), events);
      assertEquals(0, byNull.rateLimiter().orElseThrow().availablePermits(server.host()),
          "both calls drew on the host's bucket");
    }
  }

  /**
   * "Millisecond timestamps in a reset header are read as seconds, so they pause for maxPause";
   * "none of them ever fails the call".
   */
  @Test
  void aResetInEpochMillisecondsPausesForMaxPause() throws Exception {
    String resetMillis = String.valueOf(System.currentTimeMillis() + 5_000);
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(200, "ok",
            "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", resetMillis));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .rateLimit(RateLimit.perSecond(100).maxPause(Duration.ofSeconds(7)))
            .addListener(recorder).build()) {
      assertEquals("ok", client.get("/x").execute(String.class));
      assertEquals(List.of("paused " + server.host() + " PT7S"), events);
      assertFalse(client.rateLimiter().orElseThrow().tryAcquire(server.host(), 1));
    }
  }

  /**
   * "rateLimitWaited each wait (one cut short by an interrupt or close() included, for as long
   * as it lasted)": an interrupted wait is reported, for less than the wait it booked; the call
   * ends CANCELLED with the interrupt status kept.
   */
  @Test
  void aWaitCutShortByAnInterruptIsReported() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .rateLimit(RateLimit.perSecond(0.05).burst(1)).deadline(Duration.ofSeconds(60))
            .retry(Retry.none())
            .addListener(recorder).build()) {
      client.get("/first").execute(String.class);
      CompletableFuture<Object[]> ended = new CompletableFuture<>();
      Thread t = Thread.ofVirtual().start(() -> {
        try {
          client.get("/second").execute(String.class);
          ended.complete(new Object[] {null, Thread.currentThread().isInterrupted()});
        } catch (Throwable e) {
          ended.complete(new Object[] {e, Thread.currentThread().isInterrupted()});
        }
      });
      HoldingServer.await("the second call waits for its permit",
          () -> t.getState() == Thread.State.TIMED_WAITING || t.getState() == Thread.State.WAITING);
      t.interrupt();
      Object[] end = ended.get(20, TimeUnit.SECONDS);
      TransportException e = assertInstanceOf(TransportException.class, end[0]);
      assertEquals(TransportException.Kind.CANCELLED, e.kind());
      assertEquals(Boolean.TRUE, end[1], "the interrupt status is kept");
      assertEquals(1, server.requests());
      assertEquals(1, events.size(), events.toString());
      String waited = events.get(0);
      assertTrue(waited.startsWith("waited " + server.host() + " PT"), waited);
      Duration d = Duration.parse(waited.substring(waited.lastIndexOf(' ') + 1));
      assertTrue(d.compareTo(Duration.ofSeconds(20)) < 0, waited);
    }
  }
}
