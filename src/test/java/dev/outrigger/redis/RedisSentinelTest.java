package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertTrue;

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
    String uri = "redis-sentinel://127.0.0.1:" + sentinel.port() + "#mymaster";
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .timeout(Duration.ofSeconds(1)).build();
        RedisRateLimitStore direct = RedisRateLimitStore.builder(master.uri())
            .timeout(Duration.ofSeconds(1)).build()) {
      master.assertSharesBuckets(store, direct, "through Sentinel");
      assertTrue(store.toString().startsWith("RedisRateLimitStore[master 'mymaster' via "
          + "Sentinel 127.0.0.1:" + sentinel.port() + ","), store.toString());
    }
  }
}
