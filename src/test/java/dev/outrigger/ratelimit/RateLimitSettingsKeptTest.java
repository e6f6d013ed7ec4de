package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.RateLimiter;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * A setting given to a limit is used, or refused when it is configured: never quietly dropped. A
 * user who wrote {@code store(redis)} believes every replica shares one quota, and one who wrote
 * {@code keyedBy(tenant)} that each tenant has a bucket of its own.
 */
class RateLimitSettingsKeptTest {
  /** A store that grants every permit at once and counts the questions. */
  static final class CountingStore implements RateLimitStore {
    final AtomicInteger asked = new AtomicInteger();

    @Override
    public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
      asked.incrementAndGet();
      return 0;
    }

    @Override
    public long pause(String key, RateLimit limit, long pauseNanos) {
      return 0;
    }

    @Override
    public String toString() {
      return "CountingStore";
    }
  }

  private static void refused(String setting, Executable configure) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, configure);
    assertTrue(e.getMessage().contains(setting), e.getMessage());
  }

  @Test
  void aStandaloneLimiterRefusesALimitKeptInAStore() {
    RateLimit shared = RateLimit.perSecond(1).burst(1).store(new CountingStore());
    refused("store (CountingStore) would be ignored", () -> RateLimiter.of(shared));
    refused("store", () -> RateLimiter.of(shared, System::nanoTime));
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(1).burst(1));
    refused("store", () -> limiter.reconfigure(shared));
    assertEquals(RateLimit.perSecond(1).burst(1), limiter.limit(), "the refused limit was taken");
  }

  @Test
  void andRefusesTheOtherLimitsSettingsItWouldDrop() {
    RateLimit perSecond = RateLimit.perSecond(10).burst(10);
    RateLimit perMinute = RateLimit.per(500, Duration.ofMinutes(1));
    Function<CallContext, String> perTenant = call -> (String) call.attribute("tenant");
    CountingStore store = new CountingStore();

    refused("its key function would be dropped: set keyedBy", () -> perSecond.and(perMinute.keyedBy(perTenant)));
    refused("its maxKeys (5)", () -> perSecond.and(perMinute.maxKeys(5)));
    refused("its maxPause (PT0S)", () -> perSecond.and(perMinute.maxPause(Duration.ZERO)));
    refused("its store (CountingStore) would be dropped: set store on the first limit or on the "
        + "combined one, a.and(b).store(...)", () -> perSecond.and(perMinute.store(store)));

    // Nothing is lost when the other limit's settings are the defaults or the same as this one's.
    RateLimit both = perSecond.keyedBy(perTenant).store(store)
        .and(perMinute.keyedBy(perTenant).store(store));
    assertSame(perTenant, both.keyedBy());
    assertSame(store, both.store());
    RateLimit set = perSecond.and(perMinute).keyedBy(perTenant).maxKeys(5).store(store);
    assertEquals(2, set.bandwidths().size());
    assertSame(perTenant, set.keyedBy());
    assertEquals(5, set.maxKeys());
  }

  @Test
  void aCombinedLimitGivenAStoreIsKeptThere() throws Exception {
    CountingStore store = new CountingStore();
    RateLimit combined =
        RateLimit.perSecond(10).burst(10).and(RateLimit.per(500, Duration.ofMinutes(1)))
            .store(store);
    try (MockWebServer server = new MockWebServer()) {
      server.start();
      server.enqueue(new MockResponse.Builder().body("ok").build());
      try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
          .rateLimit(combined).build()) {
        assertEquals("ok", client.get("/x").execute(String.class));
      }
    }
    assertEquals(1, store.asked.get(), "the combined limit's store was not asked");
  }
}
