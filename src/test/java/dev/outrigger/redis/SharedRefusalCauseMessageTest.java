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
 * What a refusal by the shared rate limit says, on a clock moved by hand, when the store measured
 * the longest wait from its own start: RedisRateLimitStore's fallback, after a question Redis
 * failed or did not answer, refuses any wait over {@code maxWaitNanos} less the time the question
 * took. The step must name the cause as it stands after that round trip: the deadline when the
 * wait does not fit in the time then left, the 30-day cap on every wait when it does.
 */
class SharedRefusalCauseMessageTest {
  private static final long CAP = Duration.ofDays(30).toNanos();

  @StartStop private final MockWebServer server = new MockWebServer();
  /** The longest wait the step asked the store for. */
  private long asked;

  // A 50 ms wait refused that way, in a call that had 60 ms (40 ms after the question), did not
  // fit in the deadline: it is not "longer than the longest wait a rate limit allows (30 days)".
  @Test
  void aWaitRefusedAfterTheStoresRoundTripIsNotSaidToBeLongerThan30Days() {
    RateLimitedException e = refused(Duration.ofMillis(50).toNanos(), Duration.ofMillis(60));

    assertEquals(Duration.ofMillis(50), e.wouldWait());
    assertAll(
        () -> assertFalse(e.getMessage().contains("30 days"), e.getMessage()),
        () -> assertTrue(e.getMessage().contains("would not fit in the"), e.getMessage()));
  }

  // A call whose deadline is 60 days asks with the cap; a wait of 30 days less 10 ms (under the
  // cap, far inside the deadline) refused for the cap as the store measured it must not be said
  // to miss the ~60 days left: it fits there many times over.
  @Test
  void aWaitRefusedForTheCapAfterTheRoundTripIsNotSaidToMissALongDeadline() {
    long wait = CAP - Duration.ofMillis(10).toNanos();
    RateLimitedException e = refused(wait, Duration.ofDays(60));

    assertEquals(CAP, asked, "asked with the 30-day cap");
    assertEquals(Duration.ofNanos(wait), e.wouldWait());
    assertAll(
        () -> assertFalse(e.getMessage().contains("left before the deadline"), e.getMessage()),
        () -> assertTrue(e.getMessage().contains("30 days"), e.getMessage()));
  }

  /**
   * The refusal of a call with {@code deadline} whose store's question fails after 20 ms and whose
   * fallback needs {@code waitNanos}: refused when that exceeds the longest wait less those 20 ms.
   */
  private RateLimitedException refused(long waitNanos, Duration deadline) {
    FakeClock clock = new FakeClock();
    RateLimitStore store = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
        asked = maxWaitNanos;
        clock.advanceMillis(20); // a question to Redis that failed after 20 ms
        long left = maxWaitNanos - Duration.ofMillis(20).toNanos();
        return waitNanos > left ? -waitNanos : waitNanos;
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
          () -> client.get("/x").deadline(deadline).execute(String.class));
      assertEquals(0, server.getRequestCount());
      return e;
    }
  }
}
