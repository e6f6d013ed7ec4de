package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A store that finds its Redis through Sentinel ({@code redis-sentinel://}), against a real
 * Redis and a real Sentinel monitoring it.
 */
class RedisSentinelTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture master = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(master, "mymaster");

  @Test
  void aStoreReachesTheMasterThroughSentinelAndNamesBoth() throws Exception {
    master.command("FLUSHALL");
    RateLimit limit = RateLimit.perSecond(1).burst(2);
    String uri = "redis-sentinel://127.0.0.1:" + sentinel.port() + "#mymaster";
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .timeout(Duration.ofSeconds(1)).build();
        RedisRateLimitStore direct = RedisRateLimitStore.builder(master.uri())
            .timeout(Duration.ofSeconds(1)).build()) {
      assertEquals(0, store.reserve("k", limit, 1, 0), "first permit through Sentinel");
      assertEquals(0, store.reserve("k", limit, 1, 0), "second permit through Sentinel");
      assertFalse(store.degraded(), "a store answered by the master Sentinel named");
      assertEquals(":1", master.command("EXISTS " + store.redisKey("k")),
          "the bucket's key in the master");
      // The burst is spent in the master itself: a store talking to it directly gets no permit.
      assertTrue(direct.reserve("k", limit, 1, 0) < 0, "a permit beyond the shared burst");
      assertTrue(store.toString().startsWith("RedisRateLimitStore[master 'mymaster' via "
          + "Sentinel 127.0.0.1:" + sentinel.port() + ","), store.toString());
    }
  }
}
