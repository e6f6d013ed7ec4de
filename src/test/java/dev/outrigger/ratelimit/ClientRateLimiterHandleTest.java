package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimiter;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

class ClientRateLimiterHandleTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void theClientsLiveLimiterReconfiguresAKeyWhileItRuns() {
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .rateLimit(RateLimit.perSecond(100).burst(20)).build();
        ApiClient unlimited = ApiClient.builder().build()) {
      RateLimiter limiter = client.rateLimiter().orElseThrow();
      String key = server.getHostName() + ":" + server.getPort();
      limiter.reconfigure(key, RateLimit.perSecond(1).burst(2));
      assertEquals(2, limiter.limit(key).burst());
      assertEquals(20, limiter.limit().burst(), "other keys keep the client's limit");
      assertTrue(unlimited.rateLimiter().isEmpty());
    }
  }
}
