package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/** What a refusal by the shared rate limit says, on a clock moved by hand. */
class SharedLimitRefusalMessageTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  /**
   * The store's round trip took 20 of the call's 60 ms, and it answered with a 50 ms wait,
   * which fitted when asked but no longer does: the refusal must say the 40 ms left, not the
   * 60 ms left before the round trip ("the wait for a permit (50 ms) would not fit in the
   * 60 ms left", which contradicts itself).
   */
  @Test
  void aWaitTheStoresRoundTripMadeTooLongIsRefusedSayingTheTimeLeftAfterIt() {
    FakeClock clock = new FakeClock();
    RateLimitStore store = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
        clock.advanceMillis(20); // a slow round trip to the store
        return Duration.ofMillis(50).toNanos();
      }

      @Override
      public long pause(String key, RateLimit limit, long pauseNanos) {
        return 0;
      }
    };
    try (ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .rateLimit(RateLimit.perSecond(10).store(store))
        .build()) {
      RateLimitedException e = assertThrows(RateLimitedException.class,
          () -> client.get("/x").deadline(Duration.ofMillis(60)).execute(String.class));

      assertEquals(Duration.ofMillis(50), e.wouldWait());
      assertTrue(e.getMessage().contains(
          "the wait for a permit (50 ms) would not fit in the 40 ms left"), e.getMessage());
    }
    assertEquals(0, server.getRequestCount());
  }
}
