package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A store whose table of local key state is full ({@link RateLimit#maxKeys(int)}). */
class RedisKeyTableTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  /**
   * A key beyond the table "still shares Redis's bucket; only local state is not kept". With
   * pre-fetching, each of its calls took up to {@code prefetch} permits from the shared bucket
   * and, having nowhere to keep the extra ones, dropped them: the key's quota, for every store
   * sharing it, went {@code prefetch} times as fast (here 1 call of 5 went through).
   */
  @Test
  void aKeyBeyondTheTableTakesOnlyThePermitsItUses() throws Exception {
    AtomicLong frozen = new AtomicLong(System.nanoTime());
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT)
        .prefetch(5).nanos(frozen::get));
    // 1 a minute: nothing refills while the test runs.
    RateLimit limit = RateLimit.per(1, Duration.ofMinutes(1)).burst(5).maxKeys(1);
    assertEquals(0, store.reserve("in-the-table", limit, 1, 0));

    int granted = 0;
    for (int i = 0; i < 5; i++) {
      if (store.reserve("beyond-the-table", limit, 1, 0) == 0) {
        granted++;
      }
    }

    assertEquals(5, granted, "calls granted of the key's burst of 5");
  }
}
