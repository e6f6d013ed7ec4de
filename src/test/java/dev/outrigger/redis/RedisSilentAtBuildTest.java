package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A Redis that takes the connection and never answers (a hung server) when a store is built:
 * the store starts unavailable with one WARN, as build()'s javadoc promises of a Redis it cannot
 * reach.
 */
class RedisSilentAtBuildTest {
  /**
   * The build's wait for the connection ran out first (Lettuce's handshake, given the same
   * timeout, was started a little later), and a warm-up timing out was counted as one slow
   * answer, a hiccup: the store was built available, logged nothing, and its first calls waited
   * for the connect that was never to come.
   */
  @Test
  void aRedisThatNeverAnswersAtBuildLeavesTheStoreUnavailableWithOneWarn() throws Exception {
    try (SilentServer silent = new SilentServer(); LogCapture logs = new LogCapture()) {
      try (RedisRateLimitStore store = RedisRateLimitStore.builder(
              "redis://127.0.0.1:" + silent.port())
          .connectTimeout(Duration.ofMillis(300)).build()) {
        assertTrue(store.degraded(), "built as available; logs:\n" + logs.all());
        // Saying "no connection within the connectTimeout, 300 ms", or Lettuce's own handshake
        // timeout when that ends first.
        assertEquals(1, logs.count("WARN", "unavailable ("), logs.all());
      }
    }
  }
}
