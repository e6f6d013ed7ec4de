package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimiter;
import dev.outrigger.RateLimitStore;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

class AdaptiveRateTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aThrottlingAnswerLowersTheHostsRateAndTheListenerSeesIt() {
    server.enqueue(new MockResponse.Builder().code(429).build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    List<Double> rates = new CopyOnWriteArrayList<>();
    io.micrometer.core.instrument.simple.SimpleMeterRegistry registry =
        new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .addListener(dev.outrigger.micrometer.OutriggerMetrics.of(registry))
        .retry(Retry.none())
        .rateLimit(RateLimit.perSecond(100).burst(20).adaptive())
        .addListener(new CallListener() {
          @Override
          public void rateLimitAdapted(CallContext call, String key, double permitsPerSecond) {
            rates.add(permitsPerSecond);
          }
        })
        .build()) {
      assertThrows(HttpStatusException.class, () -> client.get("/a").execute(String.class));
      assertEquals(List.of(70.0), rates);
      assertEquals(70.0, registry.get("outrigger.ratelimit.rate").gauge().value(), 1e-9);
      assertTrue(client.describe().contains("adaptive"), client.describe());
      assertEquals("ok", client.get("/b").execute(String.class));
    }
  }

  /**
   * Adaptation is chosen when the client is built: the live limiter refuses a limit that would
   * turn it on or off, which it silently ignored (the client went on adapting, or never did).
   */
  @Test
  void theLiveLimiterRefusesToTurnAdaptationOnOrOff() {
    try (ApiClient plain = ApiClient.builder().baseUrl(server.url("/").toString())
        .rateLimit(RateLimit.perSecond(100)).build();
        ApiClient adaptive = ApiClient.builder().baseUrl(server.url("/").toString())
            .rateLimit(RateLimit.perSecond(100).adaptive()).build()) {
      IllegalArgumentException on = assertThrows(IllegalArgumentException.class,
          () -> plain.rateLimiter().orElseThrow().reconfigure(RateLimit.perSecond(50).adaptive()));
      assertTrue(on.getMessage().startsWith("adaptive() cannot be turned on at run time"),
          on.getMessage());
      IllegalArgumentException off = assertThrows(IllegalArgumentException.class,
          () -> adaptive.rateLimiter().orElseThrow().reconfigure(RateLimit.perSecond(50)));
      assertTrue(off.getMessage().startsWith("adaptive() cannot be turned off at run time"),
          off.getMessage());
      assertEquals(RateLimit.perSecond(100), plain.rateLimiter().orElseThrow().limit());
      adaptive.rateLimiter().orElseThrow().reconfigure(RateLimit.perSecond(50).adaptive());
      assertEquals(50, adaptive.rateLimiter().orElseThrow().limit().permitsPerSecond(), 1e-9);
    }
  }

  @Test
  void aLimiterOfOnesOwnRefusesAnAdaptiveLimitItCouldNeverAdapt() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RateLimiter.of(RateLimit.perSecond(10).adaptive()));
    assertTrue(e.getMessage().contains("without adaptive()"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> RateLimiter.of(RateLimit.perSecond(10).adaptive(), System::nanoTime));
    assertEquals(10, RateLimiter.of(RateLimit.perSecond(10)).limit().permitsPerSecond(), 1e-9);
  }

  @Test
  void adaptiveAppliesToOneBandwidth() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> RateLimit.perSecond(10).and(RateLimit.per(100, Duration.ofMinutes(1))).adaptive());
    assertTrue(e.getMessage().contains("adaptive"), e.getMessage());
    assertThrows(IllegalStateException.class,
        () -> RateLimit.perSecond(10).adaptive().and(RateLimit.perSecond(5)));
    assertTrue(RateLimit.perSecond(10).adaptive().burst(5).isAdaptive(),
        "withers keep adaptivity");
  }

  @Test
  void aLimitInASharedStoreCannotBeAdaptiveEitherWayRound() {
    RateLimitStore store = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
        return 0;
      }

      @Override
      public long pause(String key, RateLimit limit, long pauseNanos) {
        return 0;
      }
    };
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> RateLimit.perSecond(10).adaptive().store(store));
    assertTrue(e.getMessage().contains("shared store cannot be adaptive"), e.getMessage());
    assertThrows(IllegalStateException.class,
        () -> RateLimit.perSecond(10).store(store).adaptive());
  }
}
