package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import java.time.Duration;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two Sentinels that disagree: one has switched to the new master, the other still names the
 * old one (it lags, or sits in a minority partition with the old master). The store, having
 * followed the switch, must not move back to the old master because its subscription lands on
 * the lagging Sentinel, whose answer to get-master-addr-by-name is older: a name heard on
 * subscribing again moves the store only once the master it uses no longer acts as one.
 */
class RedisSentinelStaleTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture oldMaster = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture replica = RedisFixture.replicaSentinelCannotMove(oldMaster);

  @RegisterExtension
  @Order(3)
  static final RedisFixture first = RedisFixture.sentinelOf(oldMaster, "mymaster");

  @RegisterExtension
  @Order(4)
  static final RedisFixture lagging = RedisFixture.sentinelOf(oldMaster, "mymaster");

  private static final RateLimit LIMIT = RateLimit.per(1, Duration.ofHours(1)).burst(100);
  private static final String NAME = "outrigger-stale-sentinel-test";
  private static final Duration GENEROUS = Duration.ofSeconds(10);

  @Test
  void aLaggingSentinelDoesNotMoveTheStoreBackToTheOldMaster() throws Exception {
    String uri = RedisFixture.sentinelUri(NAME, first, lagging);
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .timeout(Duration.ofSeconds(1)).connectTimeout(Duration.ofSeconds(5))
            .probeInterval(Duration.ofMillis(50)).build()) {
      first.awaitSubscribedAndPinged(NAME, GENEROUS);
      assertEquals(0, store.reserve("before", LIMIT, 1, 0));
      assertEquals(":1", oldMaster.command("EXISTS " + store.redisKey("before")));

      // The first Sentinel names the new master, and the old one is demoted; the lagging
      // Sentinel still names the old one.
      assertEquals("+OK", replica.command("REPLICAOF NO ONE"));
      assertEquals("+OK", oldMaster.command("REPLICAOF 127.0.0.1 " + replica.port()));
      assertEquals("+OK", first.command("SENTINEL REMOVE mymaster"));
      assertEquals("+OK", first.command("SENTINEL MONITOR mymaster 127.0.0.1 "
          + replica.port() + " 1"));
      assertTrue(lagging.command("SENTINEL get-master-addr-by-name mymaster")
          .endsWith("\n" + oldMaster.port()));

      // Subscription: first -> lagging (names the master the store uses) -> first (names the
      // new one: the store follows).
      assertEquals(":1", first.command("CLIENT KILL TYPE pubsub"));
      lagging.awaitSubscribedAndPinged(NAME, GENEROUS);
      assertEquals(":1", lagging.command("CLIENT KILL TYPE pubsub"));
      first.awaitSubscribedAndPinged(NAME, GENEROUS);
      RedisFixture.await("the store left the old master", GENEROUS,
          () -> oldMaster.clientsNamed(NAME) == 0);
      assertEquals(0, store.reserve("followed", LIMIT, 1, 0));
      assertEquals(":1", replica.command("EXISTS " + store.redisKey("followed")));

      // The old master takes writes again (cut off with the lagging Sentinel, it never learnt
      // of the failover), and the subscription lands on that Sentinel again.
      assertEquals("+OK", oldMaster.command("REPLICAOF NO ONE"));
      assertEquals(":1", first.command("CLIENT KILL TYPE pubsub"));
      lagging.awaitSubscribedAndPinged(NAME, GENEROUS);
      RedisFixture.await("the store checked the master it uses and stayed", GENEROUS,
          () -> logs.all().contains("still acts as the master: staying"));

      assertEquals(0, store.reserve("after", LIMIT, 1, 0));
      assertEquals(":1", replica.command("EXISTS " + store.redisKey("after")),
          "a permit after the subscription moved to the lagging Sentinel, from the new "
              + "master's bucket; logs:\n" + logs.all());
      assertEquals(":0", oldMaster.command("EXISTS " + store.redisKey("after")),
          "not from the old master's bucket");

      // The name it did not follow is not taken as the master known: back on the first
      // Sentinel, which names the master in use, there is nothing to check (a later
      // +switch-master to the old node must still count as a switch).
      assertEquals(":1", lagging.command("CLIENT KILL TYPE pubsub"));
      first.awaitSubscribedAndPinged(NAME, GENEROUS);
      // After the subscription's own round trip a ROLE check, sent on the store's connection
      // as the watch subscribed, would have been answered before this permit.
      assertEquals(0, store.reserve("settled", LIMIT, 1, 0));
      assertEquals(1, logs.lines().stream()
          .filter(l -> l.contains("still acts as the master: staying")).count(), logs.all());
    }
  }
}
