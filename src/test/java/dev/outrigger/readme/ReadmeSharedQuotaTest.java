package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.RateLimit;
import dev.outrigger.redis.RedisFixture;
import dev.outrigger.redis.RedisRateLimitStore;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README "A rate limit shared through Redis": its snippet against a real redis-server (skipped,
 * like the other Redis tests, when there is none), and the store's documented defaults.
 */
class ReadmeSharedQuotaTest {
  @RegisterExtension static final RedisFixture redisServer = new RedisFixture();

  /**
   * The snippet as written (the Redis URI and base URL local, and timeouts for a loaded
   * machine), used by two clients: the key's bucket is in Redis, and the key itself never
   * appears there ("Keys are stored hashed"). (That clients share the bucket is
   * RedisRateLimitStoreTest's.)
   */
  @Test
  void theSnippetSharesOneBucketAndNeverWritesTheKey() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"))) {
      RedisRateLimitStore redis = RedisRateLimitStore.builder(redisServer.uri())
          .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
          .timeout(RedisFixture.GENEROUS_TIMEOUT).build();
      ApiClient client = ApiClient.builder()
          .baseUrl(server.url())
          .rateLimit(RateLimit.per(1000, Duration.ofMinutes(1)).burst(50)
              .keyedBy(call -> "partner-key-1")          // or the host, by default
              .store(redis))
          .build();
      try (redis; client;
          ApiClient other = client.newBuilder().deadline(Duration.ofSeconds(2)).build()) {
        for (int i = 0; i < 25; i++) {
          client.get("/x").execute(String.class);
          other.get("/x").execute(String.class);
        }
        assertEquals(50, server.requests());
        String keys = redisServer.command("KEYS *");
        assertTrue(keys.contains(redis.redisKey("partner-key-1")), keys);
        assertFalse(keys.contains("partner-key-1"), keys);
      }
    }
  }

  /**
   * "prefetch(n) (default 1, off)", "timeout(d) (default 10 ms)", the default fallback
   * "Fallback.localShareOfActiveClients()": as the store describes itself.
   */
  @Test
  void theStoresDefaultsAreTheReadmes() {
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(redisServer.uri()).build()) {
      String s = store.toString();
      assertTrue(s.contains("timeout PT0.01S"), s);
      assertTrue(s.contains("prefetch 1"), s);
      assertTrue(s.contains("when unavailable: local share 1/active clients"), s);
    }
  }

  /**
   * "Redis's clock ... A step forward is not corrected: to the script, a step of S is S of idle
   * time, so a key's bucket that was not full gains up to min(burst, rate x S) permits at once
   * ..., and never more than one burst per step." Simulated as RedisStoreFailureTest simulates a
   * step back: the bucket's stored times are rewritten S earlier, as if TIME had jumped by S.
   * A permit a minute, so that the test's own steps, however slow, gain at most one more.
   */
  @Test
  void aForwardStepOfRedisClockGainsAtMostMinOfBurstAndRateTimesTheStep() throws Exception {
    RateLimit limit = RateLimit.per(1, Duration.ofMinutes(1)).burst(10);
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(redisServer.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .timeout(RedisFixture.GENEROUS_TIMEOUT).build()) {
      for (long stepMinutes : new long[] {5, 3_600}) {
        String key = "step-" + stepMinutes;
        while (store.reserve(key, limit, 1, 0) == 0) {
          // empties the bucket
        }
        stepForward(store.redisKey(key), stepMinutes * 60);
        int gained = 0;
        while (store.reserve(key, limit, 1, 0) == 0) {
          gained++;
        }
        long expected = Math.min(10, stepMinutes);
        // (A real minute passing meanwhile would add one permit.)
        assertTrue(gained == expected || gained == expected + 1 && expected < 10,
            "a step of " + stepMinutes + " min gained " + gained);
      }
    }
  }

  private static void stepForward(String redisKey, long seconds) throws Exception {
    String[] fields = redisServer.command("HGETALL " + redisKey).split("\n");
    StringBuilder hset = new StringBuilder("HSET " + redisKey);
    for (int i = 0; i + 1 < fields.length; i += 2) {
      double v = Double.parseDouble(fields[i + 1]) - seconds * 1_000_000.0;
      hset.append(' ').append(fields[i]).append(' ').append(String.format("%.17g", v));
    }
    redisServer.command(hset.toString());
  }
}
