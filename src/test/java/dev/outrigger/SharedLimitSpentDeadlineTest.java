package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/** A call whose deadline is spent before the shared rate limit does not ask the store. */
class SharedLimitSpentDeadlineTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void aSpentDeadlineAsksTheStoreNothing() {
    server.enqueue(new MockResponse.Builder().body("ok").build());
    AtomicInteger asked = new AtomicInteger();
    RateLimitStore store = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
        asked.incrementAndGet(); // Redis would be asked here, and waited for
        return 0;
      }

      @Override
      public long pause(String key, RateLimit limit, long pauseNanos) {
        return 0;
      }
    };
    FakeClock clock = new FakeClock();
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .clock(clock)
        .deadline(Duration.ofSeconds(1))
        .retry(Retry.none())
        .rateLimit(RateLimit.perSecond(10).store(store))
        .addCallInterceptor(chain -> {
          clock.advance(Duration.ofSeconds(2).toNanos()); // the caller's own work spent it
          return chain.proceed(chain.request());
        })
        .build()) {
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> client.get("/x").execute(String.class));
      assertTrue(e.getMessage().contains("before asking the shared rate limit"), e.getMessage());
      assertEquals(0, e.attempts());
    }
    assertEquals(0, asked.get());
    assertEquals(0, server.getRequestCount());
  }
}
