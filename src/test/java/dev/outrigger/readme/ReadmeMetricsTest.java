package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.HoldingServer;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.micrometer.OutriggerMetrics;
import dev.outrigger.readme.ReadmeServer.Reply;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.LongTaskTimer;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** README "Micrometer metrics". */
class ReadmeMetricsTest {

  /**
   * The meters table: every meter appears once what it counts happened, with the table's type
   * and tags. One OutriggerMetrics is shared by several clients, as README allows.
   */
  @Test
  void everyMeterOfTheTableHasItsTypeAndTags() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    OutriggerMetrics metrics = OutriggerMetrics.of(registry);
    try (ReadmeServer server = new ReadmeServer((r, n) -> switch (r.target()) {
          case "/429" -> new Reply(429, "slow down", "Retry-After", "1");
          case "/503" -> new Reply(503, "busy");
          default -> Reply.ok("ok");
        });
        HoldingServer held = new HoldingServer();
        ApiClient retrying = ApiClient.builder().baseUrl(server.url()).addListener(metrics)
            .circuitBreaker(CircuitBreaker.none())
            .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1))
                .budget(0.0, Duration.ofSeconds(1), 10))
            .build();
        ApiClient limited = ApiClient.builder().baseUrl(server.url()).addListener(metrics)
            .retry(Retry.none())
            .rateLimit(RateLimit.perSecond(1).burst(1).adaptive()) // a 150 ms deadline refused
            .build();
        ApiClient single = ApiClient.builder().baseUrl(held.url()).addListener(metrics)
            .maxInFlightPerHost(1).build()) {
      // retries, backoffs, and a budget that runs out (10 retries refilling at 10/s, 40 wanted)
      for (int i = 0; i < 20; i++) {
        assertThrows(HttpStatusException.class, () -> retrying.get("/503").execute(String.class));
      }
      // a wait for a permit, a refusal, a pause, an adapted rate
      limited.get("/ok").execute(String.class);
      limited.get("/ok").execute(String.class);
      assertThrows(RateLimitedException.class,
          () -> limited.get("/ok").deadline(Duration.ofMillis(150)).execute(String.class));
      assertThrows(HttpStatusException.class, () -> limited.get("/429").execute(String.class));
      // a breaker set by hand, and a refusal
      limited.breaker(server.host()).forceOpen();
      assertThrows(CircuitOpenException.class, () -> limited.get("/ok").execute(String.class));
      assertEquals(3.0, registry.get("outrigger.breaker.state").gauge().value(), "3 forced open");
      // a wait for an in-flight slot, while a call is in progress
      Thread first = Thread.ofVirtual().start(() -> single.get("/a").execute(String.class));
      HoldingServer.await("the first call is held", () -> held.inFlight() == 1);
      Thread second = Thread.ofVirtual().start(() -> single.get("/b").execute(String.class));
      HoldingServer.await("the second call waits for a slot",
          () -> second.getState() == Thread.State.WAITING
              || second.getState() == Thread.State.TIMED_WAITING);
      LongTaskTimer active = registry.find("outrigger.calls.active")
          .tag("host", held.url().substring("http://".length())).longTaskTimer();
      assertNotNull(active);
      assertTrue(active.activeTasks() >= 2, "calls in progress: " + active.activeTasks());
      held.release();
      first.join();
      second.join();
    }
    String[][] table = {
      {"outrigger.calls", "timer", "host,method,status,outcome"},
      {"outrigger.attempts", "timer", "host,method,status,outcome"},
      {"outrigger.calls.active", "long task timer", "host"},
      {"outrigger.retries", "counter", "host,reason"},
      {"outrigger.retry.backoff", "timer", "host"},
      {"outrigger.retry.budget.exhausted", "counter", "host"},
      {"outrigger.ratelimit.waits", "timer", "host"},
      {"outrigger.ratelimit.rejections", "counter", "host"},
      {"outrigger.ratelimit.pauses", "counter", "host"},
      {"outrigger.ratelimit.rate", "gauge", "host"},
      {"outrigger.inflight.waits", "timer", "host"},
      {"outrigger.breaker.rejections", "counter", "breaker"},
      {"outrigger.breaker.transitions", "counter", "breaker,from,to"},
      {"outrigger.breaker.state", "gauge", "breaker"},
    };
    for (String[] row : table) {
      List<Meter> meters = registry.find(row[0]).meters().stream().toList();
      assertTrue(!meters.isEmpty(), row[0] + " was never registered");
      for (Meter m : meters) {
        Class<?> type = switch (row[1]) {
          case "timer" -> Timer.class;
          case "long task timer" -> LongTaskTimer.class;
          case "counter" -> Counter.class;
          default -> Gauge.class;
        };
        assertInstanceOf(type, m, row[0]);
        Set<String> keys = m.getId().getTags().stream().map(Tag::getKey)
            .collect(Collectors.toSet());
        assertEquals(Set.of(row[2].split(",")), keys, row[0] + " " + m.getId());
      }
    }
    assertEquals(1.0, registry.get("outrigger.ratelimit.pauses").counter().count());
    assertEquals(0.7, registry.get("outrigger.ratelimit.rate").gauge().value(), 0.01, "70% of 1/s");
    assertEquals(0.0, registry.get("outrigger.breaker.state").gauge().value(),
        "closed with its client");
    metrics.close();
  }

  /**
   * "method is a standard HTTP method or OTHER; status is the code or NONE"; "outcome is ...
   * SUCCESS, ... CLIENT_ERROR, SERVER_ERROR ... or what stopped it: CONNECT, ...".
   */
  @Test
  void methodStatusAndOutcomeTagsAreBounded() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (OutriggerMetrics metrics = OutriggerMetrics.of(registry);
        ReadmeServer server = new ReadmeServer((r, n) -> r.method().equals("PURGE")
            ? new Reply(404, "gone") : Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url()).addListener(metrics)
            .retry(Retry.none()).build()) {
      client.get("/a").execute(String.class);
      assertThrows(HttpStatusException.class,
          () -> client.request("PURGE", "/cache").execute());
      assertEquals(1, registry.get("outrigger.calls").tags("method", "GET", "status", "200",
          "outcome", "SUCCESS").timer().count());
      assertEquals(1, registry.get("outrigger.calls").tags("method", "OTHER", "status", "404",
          "outcome", "CLIENT_ERROR").timer().count());
      assertNull(registry.find("outrigger.calls").tag("method", "PURGE").timer());
    }
  }
}
