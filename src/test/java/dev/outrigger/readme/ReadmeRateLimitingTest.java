package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.HoldingServer;
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
            .rateLimit(RateLimit.perSecond(0.01).burst(1)).deadline(Duration.ofSeconds(2))
            .addListener(recorder).build();
        ApiClient byNull = ApiClient.builder().baseUrl(server.url())
            .rateLimit(RateLimit.perSecond(0.01).burst(2).keyedBy(call -> null))
            .deadline(Duration.ofSeconds(2))
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

  /**
   * "How it works": "Intervals are rounded up, so a limit may run slow but never fast: by at
   * most 1/16 ns per permit, under 0.1% below 10^7 per second, and up to 6% near the 10^9 per
   * second maximum (9.99x10^8 runs at 9.4x10^8)"; "3x10^7 per second is accurate to 0.2%".
   * Measured on the standalone limiter with a fake clock: what refills in a time T.
   */
  @Test
  void highRatesRunSlowByTheDocumentedMarginAndNeverFast() {
    double[][] cases = {
      // rate, burst, T in ns, largest shortfall allowed
      {1_000, 1_000, 900_000_000, 0.001},
      {123_456.7, 100_000, 500_000_000, 0.001},
      {9.9e6, 1_000_000, 90_000_000, 0.001},
      {3e7, 1_000_000, 30_000_000, 0.002},
    };
    for (double[] c : cases) {
      long[] now = {0};
      dev.outrigger.RateLimiter l = dev.outrigger.RateLimiter.of(
          RateLimit.perSecond(c[0]).burst((int) c[1]), () -> now[0]);
      assertTrue(l.tryAcquire((int) c[1]));
      now[0] += (long) c[2];
      long exact = (long) Math.floor(c[0] * c[2] / 1e9);
      long got = l.availablePermits();
      assertTrue(got <= exact, c[0] + "/s ran fast: " + got + " > " + exact);
      assertTrue(got >= exact * (1 - c[3]) - 1, c[0] + "/s too slow: " + got + " of " + exact);
    }
    long[] now = {0};
    dev.outrigger.RateLimiter top = dev.outrigger.RateLimiter.of(
        RateLimit.perSecond(9.99e8).burst(1_000_000), () -> now[0]);
    assertTrue(top.tryAcquire(1_000_000));
    now[0] += 1_000_000; // 1 ms: 999,000 permits at the exact rate, 940,000 at 9.4e8
    long got = top.availablePermits();
    assertTrue(got >= 935_000 && got <= 945_000, "9.99e8/s ran at " + got + " per ms");
  }
}
