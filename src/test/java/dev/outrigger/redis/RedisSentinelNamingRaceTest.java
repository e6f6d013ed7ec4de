package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import java.time.Duration;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A {@code +switch-master} that arrives while the store checks the master it uses (its
 * {@code ROLE}) before following a name a Sentinel gave on subscribing again: the announced
 * switch is newer, so the check, whatever it finds, must not move the store back to the name.
 * Made with real nodes: the check is held by a pause of every command on the master in use
 * ({@code CLIENT PAUSE ALL}), and the switch is a real {@code SENTINEL FAILOVER} of the named
 * master.
 */
class RedisSentinelNamingRaceTest {
  /** The master the store uses at first; it answers no command once paused. */
  @RegisterExtension
  @Order(1)
  static final RedisFixture inUse = new RedisFixture();

  /** The master the Sentinel names on subscribing again; Sentinel cannot demote it. */
  @RegisterExtension
  @Order(2)
  static final RedisFixture named = RedisFixture.undemotable();

  /** The replica of {@link #named} that Sentinel's failover promotes. */
  @RegisterExtension
  @Order(3)
  static final RedisFixture promoted = RedisFixture.replicaOf(named);

  @RegisterExtension
  @Order(4)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(inUse, "mymaster");

  private static final RateLimit LIMIT = RateLimit.per(1, Duration.ofHours(1)).burst(100);
  private static final String NAME = "outrigger-naming-race-test";
  private static final Duration GENEROUS = Duration.ofSeconds(10);

  @Test
  void aSwitchAnnouncedDuringTheCheckOfANamedMasterWins() throws Exception {
    String uri = RedisFixture.sentinelUri(NAME, sentinel);
    String namedAt = "127.0.0.1:" + named.port();
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .timeout(Duration.ofSeconds(1)).connectTimeout(Duration.ofSeconds(5))
            .probeInterval(Duration.ofMillis(50)).build()) {
      sentinel.awaitSubscribedAndPinged(NAME, GENEROUS);
      assertEquals(0, store.reserve("before", LIMIT, 1, 0));
      assertEquals(":1", inUse.command("EXISTS " + store.redisKey("before")));

      // The master in use answers nothing from now on (not even ROLE), for longer than the
      // test: the store's check of it is held until the store closes that connection.
      assertEquals("+OK", inUse.command("CLIENT PAUSE 60000 ALL"));
      // The Sentinel names another master; subscribing again, the store hears it and checks
      // the master it uses.
      assertEquals("+OK", sentinel.command("SENTINEL REMOVE mymaster"));
      assertEquals("+OK", sentinel.command("SENTINEL MONITOR mymaster 127.0.0.1 "
          + named.port() + " 1"));
      assertEquals(":1", sentinel.command("CLIENT KILL TYPE pubsub"));
      sentinel.awaitSubscribedAndPinged(NAME, GENEROUS);

      // Meanwhile Sentinel fails the named master over: +switch-master to the promoted replica.
      RedisFixture.await("Sentinel accepts SENTINEL FAILOVER", GENEROUS,
          () -> sentinel.command("SENTINEL FAILOVER mymaster").equals("+OK"));
      RedisFixture.await("the store follows the announced switch", GENEROUS,
          () -> logs.all().contains("to 127.0.0.1:" + promoted.port() + " (announced"));
      // The store closed its connection to the paused master: the check fails.
      RedisFixture.await("the check's end handled", GENEROUS,
          () -> logs.lines().stream().anyMatch(l -> l.contains("on subscribing again")
              && l.contains(namedAt)));

      assertEquals(0, store.reserve("after", LIMIT, 1, 0));
      assertEquals(":1", promoted.command("EXISTS " + store.redisKey("after")),
          "a permit after both, from the announced master's bucket; logs:\n" + logs.all());
      assertEquals(":0", named.command("EXISTS " + store.redisKey("after")),
          "not from the bucket of the master named before the switch");
      assertFalse(store.degraded());
    }
  }
}
