package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

/**
 * The other side of SharedRefusalCauseMessageTest: a call whose deadline is 60 days asks the
 * store with the 30-day cap as its longest wait. RedisRateLimitStore's fallback, after a
 * question Redis failed after 20 ms, refuses any wait over the cap less those 20 ms: a wait of
 * 30 days less 10 ms (under the cap, far inside the deadline) is refused for the cap as the
 * store measured it. The refusal must not say the wait "would not fit in the" ~60 days "left
 * before the deadline": it fits there many times over. (Before 361ee1f it named the cap.)
 */
class SharedRefusalLongDeadlineMessageTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void aWaitRefusedForTheCapAfterTheRoundTripIsNotSaidToMissALongDeadline() {
    FakeClock clock = new FakeClock();
    long cap = Duration.ofDays(30).toNanos();
    long wait = cap - Duration.ofMillis(10).toNanos(); // the fallback bucket's
    RateLimitStore store = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
        assertEquals(cap, maxWaitNanos, "asked with the 30-day cap");
        clock.advanceMillis(20); // a question to Redis that failed after 20 ms
        long left = maxWaitNanos - Duration.ofMillis(20).toNanos();
        return wait > left ? -wait : wait;
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
          () -> client.get("/x").deadline(Duration.ofDays(60)).execute(String.class));

      assertEquals(Duration.ofNanos(wait), e.wouldWait());
      assertAll(
          () -> assertFalse(e.getMessage().contains("left before the deadline"), e.getMessage()),
          () -> assertTrue(e.getMessage().contains("30 days"), e.getMessage()));
    }
    assertEquals(0, server.getRequestCount());
  }
}
