package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A Redis that refuses the store's credentials (a wrong password, an unknown user: the most
 * common misconfiguration) is reached and answers, but the store's one WARN says only
 * "Unable to connect to host:port", Lettuce's wrapper around Redis's answer: the answer
 * (WRONGPASS) is dropped, so the log reads as a network outage while the store runs on its
 * fallback for good, probing silently every second.
 */
class RedisRefusedCredentialsTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  /**
   * Built up to twice: Lettuce 7.7.0 adds the listener that reads the handshake's answer after
   * it starts the connect, on the resolver's thread, so a thread paused between the two (about
   * one build in a thousand on a loaded machine) finds the handshake over and its handler gone,
   * and fails the connect with "RedisHandshakeHandler not registered", Redis's answer dropped
   * (Lettuce's race, not the store's). A second build then reports it as the first would have.
   */
  @Test
  void theWarningOfAStoreWhoseCredentialsRedisRefusesSaysSo() throws Exception {
    String uri = "redis://nobody:s3cret-pw@127.0.0.1:" + redis.port();
    String logged = "";
    for (int build = 0; build < 2 && !logged.contains("WRONGPASS"); build++) {
      try (LogCapture logs = new LogCapture();
          RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
              .connectTimeout(Duration.ofSeconds(30)).build()) {
        assertTrue(store.degraded(), "Redis took credentials it does not know: " + logs.all());
        assertEquals(1, logs.count("WARN", "unavailable ("), logs.all());
        assertFalse(logs.all().contains("s3cret-pw"), logs.all());
        logged = logs.all();
      }
    }
    assertTrue(logged.contains("WRONGPASS"),
        "the WARN does not say Redis refused the credentials:\n" + logged);
  }
}
