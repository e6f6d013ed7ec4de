package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import java.time.Duration;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The master dies: the store goes on its fallback, asking Redis again once per probe interval.
 * When Sentinel then announces the promoted replica, the store's next call asks it at once,
 * rather than staying on the fallback until the probe interval (here a minute) has passed.
 */
class RedisSentinelCrashFailoverTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture oldMaster = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture replica = RedisFixture.replicaOf(oldMaster);

  @RegisterExtension
  @Order(3)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(oldMaster, "mymaster");

  private static final RateLimit LIMIT = RateLimit.per(1, Duration.ofHours(1)).burst(100);
  private static final String NAME = "outrigger-crash-failover-test";

  @Test
  void aStoreOnItsFallbackAsksTheNewMasterAsSoonAsSentinelAnnouncesIt() throws Exception {
    String uri = RedisFixture.sentinelUri(NAME, sentinel);
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .timeout(Duration.ofSeconds(1)).connectTimeout(Duration.ofSeconds(2))
            .probeInterval(Duration.ofMinutes(1)).build()) {
      assertEquals(0, store.reserve("before", LIMIT, 1, 0));
      assertFalse(store.degraded());

      oldMaster.stop();
      RedisFixture.await("the store on its fallback", Duration.ofSeconds(10), () -> {
        store.reserve("during", LIMIT, 1, 0);
        return store.degraded();
      });
      // Sentinel counts the master down after 2 s, then promotes the replica.
      RedisFixture.await("Sentinel's +switch-master, followed by the store",
          Duration.ofSeconds(30), () -> logs.all().contains("the master moved from"));

      assertEquals(0, store.reserve("after", LIMIT, 1, 0));
      assertFalse(store.degraded(), "asked the new master, not the fallback; logs:\n"
          + logs.all());
      assertEquals(":1", replica.command("EXISTS " + store.redisKey("after")));
      assertTrue(logs.all().contains("is answering again"), logs.all());
    }
  }
}
