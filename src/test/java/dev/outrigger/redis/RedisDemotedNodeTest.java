package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A node that stops taking writes under the store's open connection (a replica now, after a
 * failover or a {@code REPLICAOF}; Redis keeps its clients connected): the store connects
 * again, which through Sentinel finds the master it names now, instead of asking the same
 * connection for ever.
 */
class RedisDemotedNodeTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture node = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture other = new RedisFixture();

  private static final RateLimit LIMIT = RateLimit.perSecond(1000).burst(1000);

  /** The ids of the node's normal clients but the one asking. */
  private static Set<String> clients() throws Exception {
    Set<String> ids = new HashSet<>();
    for (String line : node.command("CLIENT LIST TYPE normal").split("\r?\n")) {
      if (!line.contains("cmd=client|list") && line.startsWith("id=")) {
        ids.add(line.substring(3, line.indexOf(' ')));
      }
    }
    return ids;
  }

  private static boolean within(Duration d, BooleanSupplier done) throws InterruptedException {
    long end = System.nanoTime() + d.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() - end > 0) {
        return false;
      }
      TimeUnit.MILLISECONDS.sleep(10);
    }
    return true;
  }

  @Test
  void aNodeThatStopsTakingWritesIsConnectedToAgain() throws Exception {
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(node.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .timeout(Duration.ofSeconds(1)).probeInterval(Duration.ofMillis(50)).build()) {
      assertEquals(0, store.reserve("k", LIMIT, 1, 0));
      Set<String> before = clients();
      assertEquals(1, before.size(), "the store's one connection: " + before);
      assertEquals("+OK", node.command("REPLICAOF 127.0.0.1 " + other.port()));
      try {
        Set<String> seen = new HashSet<>();
        boolean reconnected = within(Duration.ofSeconds(5), () -> {
          try {
            store.reserve("k", LIMIT, 1, 0);
            seen.addAll(clients());
          } catch (Exception e) {
            throw new AssertionError(e);
          }
          seen.removeAll(before);
          return !seen.isEmpty();
        });
        assertTrue(reconnected, "the store kept asking its connection to a replica");
        assertTrue(store.degraded(), "a replica takes no permits: the store is on its fallback");
      } finally {
        assertEquals("+OK", node.command("REPLICAOF NO ONE"));
      }
      assertTrue(within(Duration.ofSeconds(5), () -> {
        try {
          store.reserve("k", LIMIT, 1, 0);
        } catch (Exception e) {
          throw new AssertionError(e);
        }
        return !store.degraded();
      }), "answering again once the node is a master");
      assertFalse(store.degraded());
    }
  }
}
