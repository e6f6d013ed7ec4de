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
 * The store keeps a fallback for each limit's keys beyond its {@link RateLimit#maxKeys(int)}: the
 * outage's bucket, the key-error bucket (with the server pauses told to it) and the stores seen.
 * Past 64 such limits (a limit reconfigured again and again), a new one dropped every limit's,
 * those in use included: a key beyond the table whose Redis key is taken then lost the pause
 * told to its bucket, and its calls went inside it. Now only limits unused for a minute, whose
 * buckets hold no pause ahead and no queue, are dropped.
 */
class RedisOverflowLimitsTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
  private static final RateLimit LIMIT = RateLimit.perSecond(10).burst(10).maxKeys(1);

  private final AtomicLong now = new AtomicLong(System.nanoTime());

  private RedisRateLimitStore store() {
    return stores.build(RedisRateLimitStore.builder(redis.uri())
        .timeout(Duration.ofSeconds(5)).connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofMinutes(1))
        .fallback(RedisRateLimitStore.Fallback.localShare(1.0)).nanos(now::get));
  }

  /**
   * {@code LIMIT}'s table is full ("good"), and "taken", beyond it, has a Redis key another
   * application wrote: its call books in the limit's key-error bucket, which is then paused for
   * {@code pauseNanos}. Returns the wait the call booked.
   */
  private long pausedKeyError(RedisRateLimitStore store, long pauseNanos) throws Exception {
    assertEquals(0, store.reserve("good", LIMIT, 1, 0));
    redis.command("SET " + store.redisKey("taken") + " another-application");
    long wait = store.reserve("taken", LIMIT, 1, 10 * SECOND);
    assertTrue(wait > 0, "the key-error bucket starts empty: waits " + wait + " ns");
    assertEquals(pauseNanos, store.pause("taken", LIMIT, pauseNanos));
    return wait;
  }

  /** Gives {@code count} more limits a fallback of their keys beyond the table. */
  private static void moreLimits(RedisRateLimitStore store, int from, int count)
      throws Exception {
    for (int i = from; i < from + count; i++) {
      RateLimit other = RateLimit.perSecond(10).burst(11 + i).maxKeys(1);
      assertEquals(0, store.reserve("in-the-table-" + i, other, 1, 0));
      assertEquals(0, store.reserve("beyond-" + i, other, 1, 0));
    }
  }

  @Test
  void aSixtyFifthLimitKeepsThePauseOfALimitInUse() throws Exception {
    RedisRateLimitStore store = store();
    long pause = 5 * SECOND;
    long wait = pausedKeyError(store, pause);

    moreLimits(store, 1, 64);

    now.addAndGet(wait);
    assertEquals(pause - wait, store.heldFor("taken", LIMIT, 0, 10 * SECOND),
        "the waiter of \"taken\" is no longer held by the pause told to its bucket");
    long next = store.reserve("taken", LIMIT, 1, 10 * SECOND);
    assertTrue(next >= pause - wait, "a call of \"taken\" waits " + next
        + " ns, going inside the server's pause");
    assertEquals(65, store.overflowLimits());
    assertFalse(store.degraded());
  }

  @Test
  void limitsUnusedForAMinuteWithNothingHeldAreDroppedForANewOne() throws Exception {
    RedisRateLimitStore store = store();
    long pause = 2 * TimeUnit.MINUTES.toNanos(1);
    pausedKeyError(store, pause);
    moreLimits(store, 1, 63);
    assertEquals(64, store.overflowLimits());

    now.addAndGet(61 * SECOND);
    assertEquals(0, store.reserve("good", LIMIT, 1, 0)); // stays in the table
    moreLimits(store, 64, 1);

    assertEquals(2, store.overflowLimits(), "kept: the new limit, and the one still paused");
    long next = store.reserve("taken", LIMIT, 1, 10 * SECOND);
    assertTrue(next < 0 && -next >= pause - 61 * SECOND, "a call of \"taken\" would wait "
        + next + " ns: not held by the pause");
  }
}
