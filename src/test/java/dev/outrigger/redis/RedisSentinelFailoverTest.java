package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A failover Sentinel makes ({@code SENTINEL FAILOVER}, against a real master, replica and
 * Sentinel): once Sentinel has switched, the store's next permits come from the new master's
 * buckets, and a question in flight to the old master at the switch is asked again of the new
 * one. The old master here cannot be demoted (as one Sentinel cannot reach, or before
 * Sentinel gets round to it, about 10 s after the switch): it keeps taking writes and keeps the
 * store's connection, so only Sentinel's {@code +switch-master} tells the store to move (before,
 * the store kept its buckets on the old master for as long as it took writes).
 */
class RedisSentinelFailoverTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture oldMaster = RedisFixture.undemotable();

  @RegisterExtension
  @Order(2)
  static final RedisFixture replica = RedisFixture.replicaOf(oldMaster);

  @RegisterExtension
  @Order(3)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(oldMaster, "mymaster");

  /** One permit an hour: a bucket's key stays in Redis for the test's length. */
  private static final RateLimit LIMIT = RateLimit.per(1, Duration.ofHours(1)).burst(100);
  /** The store's client name, which marks its connections in CLIENT LIST. */
  private static final String NAME = "outrigger-failover-test";
  private static final Duration GENEROUS = Duration.ofSeconds(10);

  @Test
  void afterSentinelSwitchesMastersEveryPermitComesFromTheNewMaster() throws Exception {
    String uri = RedisFixture.sentinelUri(NAME, sentinel);
    // build() waits up to connectTimeout for the store's subscription to +switch-master. A
    // question may take 10 s: the one in flight waits for the failover.
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
        .timeout(Duration.ofSeconds(10)).connectTimeout(Duration.ofSeconds(5))
        .probeInterval(Duration.ofMillis(100)).build()) {
      assertEquals(0, store.reserve("before", LIMIT, 1, 0));
      assertEquals(":1", oldMaster.command("EXISTS " + store.redisKey("before")),
          "a permit before the failover, from the old master's bucket");
      assertEquals(1, oldMaster.clientsNamed(NAME), "the store's connection to the old master");

      // A question in flight to the old master as Sentinel switches: held there by a pause of
      // writes (Sentinel's PINGs still answered), until the switch or the end of the pause.
      assertEquals("+OK", oldMaster.command("CLIENT PAUSE " + GENEROUS.toMillis() + " WRITE"));
      try {
        CompletableFuture<Long> inFlight = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
          try {
            inFlight.complete(store.reserve("in-flight", LIMIT, 1, 0));
          } catch (Throwable e) {
            inFlight.completeExceptionally(e);
          }
        });
        RedisFixture.await("the store's question held by the old master", GENEROUS,
            () -> oldMaster.command("CLIENT LIST").lines()
                .anyMatch(l -> l.contains(" name=" + NAME + " ") && l.contains(" flags=b")));

        // NOGOODSLAVE until Sentinel has seen the replica answer.
        RedisFixture.await("Sentinel accepts SENTINEL FAILOVER", GENEROUS,
            () -> sentinel.command("SENTINEL FAILOVER mymaster").equals("+OK"));
        RedisFixture.await("Sentinel names the replica as the master (+switch-master)",
            GENEROUS, () -> sentinel.command("SENTINEL get-master-addr-by-name mymaster")
                .endsWith("\n" + replica.port()));

        assertEquals(0, inFlight.get(GENEROUS.toSeconds(), TimeUnit.SECONDS),
            "the question in flight at the switch, asked again of the new master");
        assertEquals(":1", replica.command("EXISTS " + store.redisKey("in-flight")),
            "the permit in flight at the switch, from the new master's bucket");
        assertFalse(store.degraded(), "a switch is no outage");
      } finally {
        oldMaster.command("CLIENT UNPAUSE");
      }

      // The store closes its connection to the old master once its next questions go to the
      // new one (it still takes writes and keeps its clients: only +switch-master says to
      // leave it).
      RedisFixture.await("the store left the old master", GENEROUS,
          () -> oldMaster.clientsNamed(NAME) == 0);
      for (int i = 0; i < 20; i++) {
        String key = "after-" + i;
        assertEquals(0, store.reserve(key, LIMIT, 1, 0), "permit " + i + " after the switch");
        assertEquals(":1", replica.command("EXISTS " + store.redisKey(key)),
            "permit " + i + " after the switch, from the new master's bucket");
        assertEquals(":0", oldMaster.command("EXISTS " + store.redisKey(key)),
            "permit " + i + " after the switch, not from the old master's bucket");
      }
      assertFalse(store.degraded(), "the new master answers");
      assertEquals(0, oldMaster.clientsNamed(NAME), "connections to the old master");
      String role = oldMaster.command("ROLE");
      assertTrue(role.startsWith("master\n"),
          "the old master still takes writes (Sentinel could not demote it): " + role);
    }
    RedisFixture.await("no connection of the closed store on any node", GENEROUS,
        () -> replica.clientsNamed(NAME) + sentinel.clientsNamed(NAME) == 0);
  }
}
