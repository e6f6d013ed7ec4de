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
 * What a refusal by the shared rate limit says, on a clock moved by hand. The step tells a wait
 * refused for the 30-day cap from one that did not fit in the deadline by comparing the wait
 * with the time left before the store was asked ("a wait that fits in the deadline was refused
 * for the cap"). But a store measures the longest wait from its own start, and one whose
 * question took time refuses a shorter wait: RedisRateLimitStore's fallback, after a question
 * Redis failed or did not answer, refuses any wait over {@code maxWaitNanos} less the time the
 * question took. A 50 ms wait refused that way, in a call that had 60 ms, is said to be "longer
 * than the longest wait a rate limit allows (30 days)".
 */
class SharedRefusalCauseMessageTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void aWaitRefusedAfterTheStoresRoundTripIsNotSaidToBeLongerThan30Days() {
    FakeClock clock = new FakeClock();
    RateLimitStore store = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
        clock.advanceMillis(20); // a question to Redis that failed after 20 ms
        long wait = Duration.ofMillis(50).toNanos(); // the fallback bucket's
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
          () -> client.get("/x").deadline(Duration.ofMillis(60)).execute(String.class));

      assertEquals(Duration.ofMillis(50), e.wouldWait());
      assertAll(
          () -> assertFalse(e.getMessage().contains("30 days"), e.getMessage()),
          () -> assertTrue(e.getMessage().contains("would not fit in the"), e.getMessage()));
    }
    assertEquals(0, server.getRequestCount());
  }
}
