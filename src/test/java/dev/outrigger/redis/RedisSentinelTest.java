package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A store that finds its Redis through Sentinel ({@code redis-sentinel://}), against a real
 * Redis and a real Sentinel monitoring it: the lookup, its timeout, and what the store says when
 * it fails.
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

  /**
   * README: connectTimeout "bounds Lettuce's handshake and a Sentinel lookup as well (Lettuce's
   * own default is 60 s)". A Sentinel that accepts and never answers holds the store's one
   * pending connect for Lettuce's 60 s: no second connection is tried in the meantime.
   */
  @Test
  void aSentinelWhoseHandshakeIsNeverAnsweredIsGivenUpAfterTheConnectTimeout()
      throws Exception {
    RedisFixture.assertGivesUpASilentHandshake(
        port -> "redis-sentinel://127.0.0.1:" + port + "#mymaster", Duration.ofSeconds(5), 1);
  }


  /**
   * A master name the Sentinel does not know: no reconnection would change it, so build()
   * refuses it, as it refuses a database Redis does not have (before, the store started on its
   * fallback for good, its WARN saying only "(RedisConnectionException)").
   */
  @Test
  void aMasterTheSentinelDoesNotKnowFailsTheBuildSayingSo() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RedisRateLimitStore.builder("redis-sentinel://127.0.0.1:" + sentinel.port()
            + "#nosuch").build());
    assertTrue(e.getMessage().contains("master 'nosuch'"), e.getMessage());
    assertTrue(e.getMessage().contains("127.0.0.1:" + sentinel.port()), e.getMessage());
  }

  /** A Sentinel that is down: the store starts on its fallback, its WARN saying why. */
  @Test
  void aSentinelThatIsDownIsSaidSoInTheWarning() throws Exception {
    int unused;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      unused = s.getLocalPort();
    }
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(
            "redis-sentinel://127.0.0.1:" + unused + "#mymaster")
            .connectTimeout(Duration.ofMillis(500)).build()) {
      assertTrue(store.degraded());
      String warn = logs.all();
      assertFalse(warn.contains("(RedisConnectionException)"), warn);
      assertTrue(warn.contains("Cannot connect"), warn);
    }
  }
}
