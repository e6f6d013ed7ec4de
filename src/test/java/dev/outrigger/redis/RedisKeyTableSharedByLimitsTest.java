package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One store serves several clients ("Share one store between clients"), each with its own
 * limit and {@link RateLimit#maxKeys(int)}. The store keeps one table of keys for all of them
 * and measures every limit's maxKeys against its total size, so one client's keys push another
 * client's first keys "beyond the table": with no local state, they take no pre-fetched
 * permits and, in an outage, all share one overflow fallback bucket, as if that limit had
 * more keys than its maxKeys.
 */
class RedisKeyTableSharedByLimitsTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  @Test
  void anotherLimitsKeysDoNotPushALimitsOwnKeysBeyondItsTable() throws Exception {
    AtomicLong now = new AtomicLong(System.nanoTime());
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .timeout(Duration.ofMillis(500)).probeInterval(Duration.ofMinutes(1))
        .fallback(RedisRateLimitStore.Fallback.localShare(1.0)).nanos(now::get));
    // Client A: keyed per host, the default bound of 10,000 keys; two hosts so far.
    RateLimit a = RateLimit.perSecond(100);
    assertEquals(0, store.reserve("a1", a, 1, 0));
    assertEquals(0, store.reserve("a2", a, 1, 0));
    // Client B: keyed per tenant, at most 2 keys: its two tenants fit its table.
    RateLimit b = RateLimit.perSecond(10).burst(10).maxKeys(2);

    redis.stop();
    for (int i = 0; i < 10 && !store.degraded(); i++) {
      store.reserve("a1", a, 1, 0);
      now.addAndGet(TimeUnit.MILLISECONDS.toNanos(501));
    }
    assertTrue(store.degraded());

    // Each tenant's own fallback bucket starts empty: its first permit in 100 ms.
    long hundredMillis = TimeUnit.MILLISECONDS.toNanos(100);
    long second = TimeUnit.SECONDS.toNanos(1);
    assertEquals(hundredMillis, store.reserve("tenant-1", b, 1, second));
    assertEquals(hundredMillis, store.reserve("tenant-2", b, 1, second),
        "tenant-2 queued behind tenant-1 in one bucket: client A's keys put client B's two "
            + "keys beyond B's table of 2");
  }
}
