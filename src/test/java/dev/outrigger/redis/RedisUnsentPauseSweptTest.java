package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README: "A server pause (Retry-After) that comes while Redis cannot be asked is held by the
 * key's fallback bucket and told to Redis (what is left of it) before the key's next question
 * once Redis answers, so it still holds after the outage" (only a key beyond maxKeys is
 * excepted). The pause Redis has not heard of lives in the key's state in the table, and the
 * sweep drops the state of a key unused for a minute when its limit's table is full, unsent
 * pause and all: a key paused for ten minutes that the application leaves alone for a minute
 * (as a paused key's callers do) is granted mid-pause once Redis answers again, though it is in
 * the table before and after.
 */
class RedisUnsentPauseSweptTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  @Test
  void anUnsentPauseOfAKeySweptFromTheTableStillHoldsOnceRedisAnswersAgain() throws Exception {
    AtomicLong now = new AtomicLong(System.nanoTime());
    RateLimit limit = RateLimit.perSecond(10).burst(10).maxKeys(1);
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofSeconds(1))
        .nanos(now::get));
    assertTrue(store.reserve("k", limit, 1, 0) >= 0);

    redis.stop();
    store.reserve("k", limit, 1, 0); // the lost connection: an outage, on the fallback
    assertTrue(store.degraded());
    // The server answers 429 with Retry-After: 600 meanwhile; its callers leave "k" alone.
    assertTrue(store.pause("k", limit, TimeUnit.MINUTES.toNanos(10)) > 0);

    // Another key of the limit, a minute later: the table (maxKeys 1) is swept for it.
    now.addAndGet(TimeUnit.SECONDS.toNanos(61));
    store.reserve("other", limit, 1, 0);
    // A minute on, Redis is back; "other" is idle in turn and "k" takes the table's place.
    now.addAndGet(TimeUnit.SECONDS.toNanos(61));
    redis.start();
    long r = store.reserve("k", limit, 1, 0);

    assertFalse(store.degraded(), "Redis did not answer the probe");
    assertTrue(r < 0, "granted (" + r + " ns to wait) 2 minutes into a 10 minute server pause,"
        + " once Redis answered again: the sweep dropped the pause Redis had not heard of");
  }
}
