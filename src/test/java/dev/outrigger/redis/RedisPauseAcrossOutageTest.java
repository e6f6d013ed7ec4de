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
 * A server pause (a 429's Retry-After) that arrives while Redis is unavailable is applied to the
 * key's fallback bucket only. When Redis answers again, recovered() drops every fallback bucket
 * (so that the next outage starts empty), and the pause with it: Redis never heard of it, and
 * the store grants the key's next call in the middle of the pause the server asked for, which
 * it had honoured until then. "During a pause nothing is granted to that key."
 */
class RedisPauseAcrossOutageTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  @Test
  void aServerPauseToldDuringAnOutageStillHoldsOnceRedisAnswersAgain() throws Exception {
    AtomicLong now = new AtomicLong(System.nanoTime());
    RateLimit limit = RateLimit.perSecond(10).burst(10);
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofSeconds(1))
        .nanos(now::get));
    assertTrue(store.reserve("k", limit, 1, 0) >= 0);

    redis.stop();
    store.reserve("k", limit, 1, 0); // the lost connection: an outage, on the fallback
    assertTrue(store.degraded());
    // The server answers 429 with Retry-After: 30 meanwhile.
    assertTrue(store.pause("k", limit, TimeUnit.SECONDS.toNanos(30)) > 0);
    long refusedDuringOutage = store.reserve("k", limit, 1, 0);
    assertTrue(refusedDuringOutage < -TimeUnit.SECONDS.toNanos(25),
        "the fallback held the pause: " + refusedDuringOutage);

    redis.start();
    now.addAndGet(TimeUnit.SECONDS.toNanos(2)); // the next call is a probe: Redis answers it
    long r = store.reserve("k", limit, 1, 0);

    assertFalse(store.degraded(), "Redis did not answer the probe");
    assertTrue(r < 0, "granted (" + r + " ns to wait) 2 s into a 30 s server pause, once "
        + "Redis answered again");
  }
}
