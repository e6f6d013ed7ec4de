package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A fallback bucket made while Redis's first answer after a hiccup resets the fallback buckets
 * must not outlive that reset unmarked: left behind with the store believing no fallback bucket
 * exists, it is never dropped at the next answers, refills meanwhile, and the next hiccup or
 * outage of its key begins with a burst, which the fallback promises never to give.
 */
class RedisFallbackBucketRaceTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  /** A question the store asks now gets no answer within its timeout (a stalled Redis). */
  private static void stall() throws Exception {
    assertEquals("+OK", redis.command("CLIENT PAUSE 2000 WRITE"));
  }

  @Test
  void aFallbackBucketMadeAsRedisAnswersAgainIsDroppedAtTheNextAnswer() throws Exception {
    AtomicLong now = new AtomicLong(System.nanoTime());
    RateLimit limit = RateLimit.perSecond(10).burst(10);
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .timeout(Duration.ofMillis(200)).fallback(RedisRateLimitStore.Fallback.localShare(1.0))
        .nanos(now::get));
    assertEquals(0, store.reserve("k", limit, 1, 0));

    // A hiccup: k's question times out, and k's call makes a fallback bucket. Between the two
    // steps of that, another call gets Redis's answer, which resets the fallback buckets.
    store.betweenFallbackSteps = () -> {
      store.betweenFallbackSteps = null;
      try {
        assertEquals("+OK", redis.command("CLIENT UNPAUSE"));
        assertEquals(0, store.reserve("other", limit, 1, 0));
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    };
    stall();
    assertTrue(store.reserve("k", limit, 1, 0) < 0, "an empty fallback bucket granted");
    assertEquals(null, store.betweenFallbackSteps, "the call did not use the fallback");
    assertFalse(store.degraded());

    // Long after, k's next call is answered by Redis: a hiccup's bucket is gone by then.
    now.addAndGet(TimeUnit.SECONDS.toNanos(100));
    assertEquals(0, store.reserve("k", limit, 1, 0));

    // The next hiccup of k begins with an empty bucket, not a burst.
    stall();
    try {
      long r = store.reserve("k", limit, 1, 0);
      assertTrue(r < 0, "the hiccup began with a burst from the bucket made 100 s before: " + r);
    } finally {
      redis.command("CLIENT UNPAUSE");
    }
  }
}
