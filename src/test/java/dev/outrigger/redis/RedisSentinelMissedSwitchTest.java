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
 * A switch the store's subscription did not see (made while it had none: a Sentinel
 * restarting, a lost connection) is noticed when it subscribes again: before subscribing it asks
 * the Sentinel which master it names. Made here by hand, as no announcement would tell: the
 * replica promoted with {@code REPLICAOF NO ONE} and the Sentinel told to monitor it instead,
 * then the store's subscription cut with {@code CLIENT KILL TYPE pubsub}.
 */
class RedisSentinelMissedSwitchTest {
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
  private static final String NAME = "outrigger-missed-switch-test";
  private static final Duration GENEROUS = Duration.ofSeconds(10);

  @Test
  void aSwitchMadeWhileNotSubscribedIsFollowedOnSubscribingAgain() throws Exception {
    String uri = RedisFixture.sentinelUri(NAME, sentinel);
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .timeout(Duration.ofSeconds(1)).connectTimeout(Duration.ofSeconds(5))
            .probeInterval(Duration.ofMillis(50)).build()) {
      assertEquals(0, store.reserve("before", LIMIT, 1, 0));
      assertEquals(":1", oldMaster.command("EXISTS " + store.redisKey("before")));
      assertEquals(1, sentinel.subscribers(NAME), "the store's subscription");

      // A new master, which the Sentinel names from now on, with no +switch-master; the old
      // one demoted (a name heard on subscribing again moves the store only once the master it
      // uses no longer acts as one: RedisSentinelStaleTest).
      assertEquals("+OK", replica.command("REPLICAOF NO ONE"));
      assertEquals("+OK", oldMaster.command("REPLICAOF 127.0.0.1 " + replica.port()));
      assertEquals("+OK", sentinel.command("SENTINEL REMOVE mymaster"));
      assertEquals("+OK", sentinel.command("SENTINEL MONITOR mymaster 127.0.0.1 "
          + replica.port() + " 1"));
      assertTrue(sentinel.command("SENTINEL get-master-addr-by-name mymaster")
          .endsWith("\n" + replica.port()));
      assertEquals(":1", sentinel.command("CLIENT KILL TYPE pubsub"), "the subscription cut");

      RedisFixture.await("the store left the old master, before any write found it demoted",
          GENEROUS,
          () -> oldMaster.clientsNamed(NAME) == 0);
      for (int i = 0; i < 5; i++) {
        String key = "after-" + i;
        assertEquals(0, store.reserve(key, LIMIT, 1, 0), "permit " + i + " after the switch");
        assertEquals(":1", replica.command("EXISTS " + store.redisKey(key)),
            "permit " + i + " after the switch, from the new master's bucket");
      }
      assertEquals(0, oldMaster.clientsNamed(NAME), "no connection back to the old master");
      assertFalse(store.degraded());
      assertEquals(1, sentinel.subscribers(NAME), "subscribed again");
      assertTrue(logs.all().contains("on subscribing again"), logs.all());
      assertTrue(logs.lines().stream().noneMatch(l -> l.startsWith("WARN")), logs.all());
    }
  }
}
