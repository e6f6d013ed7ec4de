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
 * The watch's idea of the master can be stale: here the store moves to another master through
 * Sentinel's lookup (the one in use refused writes), which the watch, still subscribed, never
 * hears of. A {@code +switch-master} back to the master the watch last knew must still move the
 * store: ignoring it as "no change" left the store on a master Sentinel had replaced (one that
 * cannot be demoted here, so only the announcement can move the store), two buckets for one
 * limit.
 */
class RedisSentinelFailbackTest {
  /** The first master; made a replica of {@link #second}, then promoted back by Sentinel. */
  @RegisterExtension
  @Order(1)
  static final RedisFixture first = new RedisFixture();

  /** The master the store moves to through Sentinel's lookup; Sentinel cannot demote it. */
  @RegisterExtension
  @Order(2)
  static final RedisFixture second = RedisFixture.undemotable();

  @RegisterExtension
  @Order(3)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(first, "mymaster");

  private static final RateLimit LIMIT = RateLimit.per(1, Duration.ofHours(1)).burst(100);
  private static final String NAME = "outrigger-failback-test";
  private static final Duration GENEROUS = Duration.ofSeconds(20);

  @Test
  void aSwitchBackToTheMasterTheWatchLastKnewMovesTheStore() throws Exception {
    String uri = RedisFixture.sentinelUri(NAME, sentinel);
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .timeout(Duration.ofSeconds(1)).connectTimeout(Duration.ofSeconds(5))
            .probeInterval(Duration.ofMillis(50)).build()) {
      sentinel.awaitSubscribedAndPinged(NAME, GENEROUS);
      assertEquals(0, store.reserve("before", LIMIT, 1, 0));
      assertEquals(":1", first.command("EXISTS " + store.redisKey("before")));

      // The first master becomes a replica of the second, and Sentinel monitors the second:
      // no +switch-master is announced, and the watch's subscription stays as it was.
      assertEquals("+OK", first.command("REPLICAOF 127.0.0.1 " + second.port()));
      RedisFixture.await("the first master replicating the second", GENEROUS,
          () -> first.command("INFO replication").contains("master_link_status:up"));
      assertEquals("+OK", sentinel.command("SENTINEL REMOVE mymaster"));
      assertEquals("+OK", sentinel.command("SENTINEL MONITOR mymaster 127.0.0.1 "
          + second.port() + " 1"));
      // The first refuses writes (READONLY): the store drops its connection and, asking
      // Sentinel again, connects to the second.
      RedisFixture.await("the store on the second master, found through Sentinel's lookup",
          GENEROUS, () -> store.reserve("moved", LIMIT, 1, 0) == 0 && !store.degraded()
              && second.command("EXISTS " + store.redisKey("moved")).equals(":1"));

      // Sentinel fails the second over to its replica, the first: +switch-master back to the
      // master the watch last knew.
      RedisFixture.await("Sentinel accepts SENTINEL FAILOVER", GENEROUS,
          () -> sentinel.command("SENTINEL FAILOVER mymaster").equals("+OK"));
      RedisFixture.await("the store follows the announced switch", GENEROUS,
          () -> logs.all().contains("to 127.0.0.1:" + first.port() + " (announced"));

      assertEquals(0, store.reserve("after", LIMIT, 1, 0));
      assertEquals(":1", first.command("EXISTS " + store.redisKey("after")),
          "a permit after the failback, from the announced master's bucket; logs:\n"
              + logs.all());
      assertEquals(":0", second.command("EXISTS " + store.redisKey("after")),
          "not from the replaced master's bucket");
      assertFalse(store.degraded());
    }
  }
}
