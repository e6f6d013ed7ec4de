package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.HttpStatusException;
import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/** README "Adaptive limits" and "Observing the adaptive values". */
class ReadmeAdaptiveLimitsTest {

  /** The table of AdaptiveLimit's settings and their defaults. */
  @Test
  void theAdaptiveLimitsDefaultsAreTheTables() {
    AdaptiveLimit v = AdaptiveLimit.vegas();
    assertEquals(4, v.min());
    assertEquals(1024, v.max());
    assertEquals(20, v.initial());
    assertEquals(0.9, v.backoffRatio());
    assertEquals(1.0, v.smoothing());
    assertEquals(Duration.ofSeconds(30), v.rttWindow());
    assertEquals(10, AdaptiveLimit.vegas().max(10).initial(), "brought within min and max");
  }

  /**
   * "CallListener.adaptiveLimitChanged(host, from, to): every change of a host's in-flight limit,
   * including its return to initial when the client drops the state of a host idle the longest
   * (beyond 64 idle hosts)", and the DEBUG line "... 10 -> 20 (idle, state dropped)" from
   * dev.outrigger.internal.bulkhead.InFlightLimiter.
   */
  @Test
  void aHostWhoseStateIsDroppedIsReportedAndLoggedBackAtItsInitialLimit() throws Exception {
    List<String> changes = new CopyOnWriteArrayList<>();
    OkHttpClient everyHostIsLoopback = new OkHttpClient.Builder()
        .dns(h -> List.of(InetAddress.getLoopbackAddress())).build();
    try (ReadmeServer server = new ReadmeServer(
            (r, n) -> r.header("Host").startsWith("first.test") ? new Reply(503, "busy")
                : Reply.ok("ok"));
        LogCapture log = new LogCapture();
        ApiClient client = ApiClient.builder().okHttpClient(everyHostIsLoopback)
            .retry(Retry.none())
            .adaptiveConcurrency(AdaptiveLimit.vegas().backoffRatio(0.5))
            .addListener(new CallListener() {
              @Override
              public void adaptiveLimitChanged(String host, int from, int to) {
                changes.add(host + " " + from + "->" + to);
              }
            })
            .build()) {
      int port = Integer.parseInt(server.host().substring(server.host().indexOf(':') + 1));
      String first = "first.test:" + port;
      assertThrows(HttpStatusException.class,
          () -> client.get("http://" + first + "/x").execute(String.class));
      assertEquals(List.of(first + " 20->10"), changes);
      for (int i = 0; i < 65; i++) {
        client.get("http://h" + i + ".test:" + port + "/x").execute(String.class);
      }
      assertEquals(List.of(first + " 20->10", first + " 10->20"), changes);
      assertTrue(log.lines().contains(
              "DEBUG adaptive in-flight limit for " + first + ": 10 -> 20 (idle, state dropped)"),
          log.all());
    } finally {
      everyHostIsLoopback.connectionPool().evictAll();
    }
  }

  /**
   * "while fewer than half the slots are in use, only a drop moves the limit": one call at a
   * time against a limit of 20 leaves it where it is however its answers are timed, and a 503
   * still cuts it. README said that below half the slots the limit did not move at all, which a
   * user with light traffic reading a cut in the gauge took for a fault.
   */
  @Test
  void belowHalfTheSlotsOnlyADropMovesTheLimit() throws Exception {
    String readme = java.nio.file.Files.readString(java.nio.file.Path.of("README.md"));
    assertTrue(readme.replaceAll("\\s+", " ").contains(
            "while fewer than half the slots are in use, only a drop moves the limit"),
        "README states what moves the limit below half the slots");
    List<String> changes = new CopyOnWriteArrayList<>();
    try (ReadmeServer server = new ReadmeServer(
            (r, n) -> r.target().startsWith("/busy") ? new Reply(503, "busy") : Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.none())
            .adaptiveConcurrency(AdaptiveLimit.vegas().initial(20))
            .addListener(new CallListener() {
              @Override
              public void adaptiveLimitChanged(String host, int from, int to) {
                changes.add(from + "->" + to);
              }
            })
            .build()) {
      for (int i = 0; i < 20; i++) {
        client.get("/x").execute(String.class);
      }
      assertEquals(List.of(), changes, "answers at 1 in flight of 20 move nothing");
      assertThrows(HttpStatusException.class, () -> client.get("/busy").execute(String.class));
      assertEquals(List.of("20->18"), changes, "a drop moves it all the same");
    }
  }

  /**
   * Adaptive rate: "a throttling answer (429, 503, or a 403 with `Retry-After`) cuts the key's rate to 70%"; "Each change
   * reaches CallListener.rateLimitAdapted ... and a DEBUG line" from
   * dev.outrigger.internal.ratelimit.RateLimitInterceptor ("adaptive rate of host now 70.00/s
   * (ceiling 100.0/s)").
   */
  @Test
  void aThrottlingAnswerCutsTheRateToSeventyPercentReportedAndLogged() throws Exception {
    List<String> adapted = new CopyOnWriteArrayList<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(429, "slow down"));
        LogCapture log = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url()).retry(Retry.none())
            .rateLimit(RateLimit.perSecond(100).burst(20).adaptive())
            .addListener(new CallListener() {
              @Override
              public void rateLimitAdapted(CallContext call, String key, double permitsPerSecond) {
                adapted.add(key + " " + permitsPerSecond);
              }
            })
            .build()) {
      assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
      assertEquals(List.of(server.host() + " 70.0"), adapted);
      String host = server.host();
      assertTrue(log.lines().stream().anyMatch(l -> l.startsWith("DEBUG")
              && l.endsWith("adaptive rate of " + host + " now 70.00/s (ceiling 100.0/s)")),
          log.all());
      assertEquals(70.0,
          client.rateLimiter().orElseThrow().limit(host).permitsPerSecond(), 0.01);
    }
  }
}
