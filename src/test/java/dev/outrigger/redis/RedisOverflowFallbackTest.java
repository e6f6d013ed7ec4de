package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * During an outage, keys beyond a limit's {@link RateLimit#maxKeys(int)} share one fallback
 * bucket. It was one for the whole store, sized with the limit and share of the first such key
 * to fall back: another client's keys with a stricter limit drew from a looser bucket, and the
 * share was always the whole quota (the count of stores Redis gave each such call was dropped),
 * so the replicas together sent up to their number times the quota.
 */
class RedisOverflowFallbackTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  private final AtomicLong now = new AtomicLong(System.nanoTime());

  private RedisRateLimitStore store(RedisRateLimitStore.Fallback fallback) {
    return stores.build(RedisRateLimitStore.builder(redis.uri())
        .timeout(Duration.ofMillis(500)).connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofMinutes(1)).fallback(fallback).nanos(now::get));
  }

  /**
   * Calls {@code key} until {@code store} counts Redis as unavailable: at once when it sees the
   * connection closed; on a loaded machine a question may time out first (three in a row, each
   * after the last one's stall, make an outage).
   */
  private void outage(RedisRateLimitStore store, String key, RateLimit limit)
      throws InterruptedException {
    for (int i = 0; i < 10 && !store.degraded(); i++) {
      store.reserve(key, limit, 1, 0);
      now.addAndGet(TimeUnit.MILLISECONDS.toNanos(501));
    }
    assertTrue(store.degraded());
  }

  /** How many of {@code calls} calls at once {@code store} grants, the i-th of {@code key(i)}. */
  private static int granted(RedisRateLimitStore store, IntFunction<String> key, RateLimit limit,
      int calls) throws InterruptedException {
    int granted = 0;
    for (int i = 0; i < calls; i++) {
      if (store.reserve(key.apply(i), limit, 1, 0) >= 0) {
        granted++;
      }
    }
    return granted;
  }

  @Test
  void keysBeyondTheTableOfAStricterLimitNeverDrawFromALooserOnesBucket() throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    RateLimit strict = RateLimit.perSecond(1).burst(1).maxKeys(1);
    RateLimit loose = RateLimit.perSecond(1000).burst(1000).maxKeys(1);
    // Each limit's table is full (each counts its own keys).
    assertEquals(0, store.reserve("in-the-table", strict, 1, 0));
    assertEquals(0, store.reserve("loose-in-the-table", loose, 1, 0));

    redis.stop();
    outage(store, "loose-beyond", loose); // it begins with the loose limit's key
    now.addAndGet(SECOND);

    // One a second, starting empty: nothing yet.
    assertEquals(0, granted(store, i -> "strict-beyond-" + i, strict, 10), "strict keys granted");
    assertTrue(granted(store, i -> "loose-beyond-" + i, loose, 10) > 0, "loose keys granted");
  }

  /**
   * An outage's bucket for keys beyond the table starts empty even after one such key's Redis
   * key was taken (a key error) long before: that key's bucket, full again by now, is not it.
   */
  @Test
  void anOutageDoesNotInheritTheBucketOfAnEarlierKeyError() throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    RateLimit limit = RateLimit.perSecond(1).burst(5).maxKeys(1);
    assertEquals(0, store.reserve("in-the-table", limit, 1, 0)); // the table is full
    redis.command("SET " + store.redisKey("taken") + " another-application");
    store.reserve("taken", limit, 1, 0); // answered by a fallback bucket of the key error's
    assertFalse(store.degraded());

    now.addAndGet(100 * SECOND); // long enough for any bucket to be full again
    redis.stop();
    outage(store, "beyond-in-the-outage", limit);

    // A fresh bucket starts empty: nothing at once.
    assertEquals(0, granted(store, i -> "beyond-" + i, limit, 10),
        "granted at once in the outage");
  }

  @Test
  void keysBeyondTheTableFallBackToTheShareOfTheStoresRedisSawUsingThem() throws Exception {
    RedisRateLimitStore one = store(RedisRateLimitStore.Fallback.localShareOfActiveClients());
    RedisRateLimitStore two = store(RedisRateLimitStore.Fallback.localShareOfActiveClients());
    RateLimit limit = RateLimit.perSecond(10).burst(10).maxKeys(1);
    for (RedisRateLimitStore s : List.of(one, two)) {
      assertEquals(0, s.reserve("in-the-table", limit, 1, 0));
      assertEquals(0, s.reserve("beyond", limit, 1, 0));
    }
    assertEquals(0, one.reserve("beyond", limit, 1, 0)); // Redis now says: two stores

    redis.stop();
    outage(one, "beyond-in-the-outage", limit);
    now.addAndGet(SECOND);

    // Half of 10 a second each, starting empty: 5 in the first second.
    assertEquals(5, granted(one, i -> "beyond-" + i, limit, 20), "granted by one of two stores");
  }

  /**
   * A key's state in the table holds the stores Redis saw using it, its outage bucket's share.
   * The sweep dropped it for another key once the key was left alone for a minute, in an outage
   * too: the key's next calls in that outage, on state that had seen no store, had the whole
   * quota in each store.
   */
  @Test
  void aKeyLeftAloneInAnOutageKeepsTheShareOfTheStoresRedisSawUsingIt() throws Exception {
    RedisRateLimitStore one = store(RedisRateLimitStore.Fallback.localShareOfActiveClients());
    RedisRateLimitStore two = store(RedisRateLimitStore.Fallback.localShareOfActiveClients());
    RateLimit limit = RateLimit.perSecond(10).burst(10).maxKeys(1);
    assertEquals(0, one.reserve("k", limit, 1, 0));
    assertEquals(0, two.reserve("k", limit, 1, 0));
    now.addAndGet(SECOND); // registered again (once a second): Redis now says two stores
    assertEquals(0, one.reserve("k", limit, 1, 0));

    redis.stop();
    outage(one, "k", limit);
    now.addAndGet(61 * SECOND); // "k" left alone for a minute
    one.reserve("other", limit, 1, 0); // the table (maxKeys 1) is swept for it
    one.reserve("k", limit, 1, 0);
    now.addAndGet(2 * SECOND); // long enough for any bucket to be full

    assertEquals(5, granted(one, i -> "k", limit, 20), "a full bucket of half of 10 a second");
  }

  /**
   * As the keys in the table, the state of a limit's keys beyond it: past 64 limits with such
   * state, a new one dropped that of a limit left alone for a minute in an outage, stores seen
   * and all, and the limit's keys then had the whole quota in each store.
   */
  @Test
  void aLimitLeftAloneInAnOutageKeepsTheShareOfTheStoresRedisSawBeyondTheTable()
      throws Exception {
    RedisRateLimitStore one = store(RedisRateLimitStore.Fallback.localShareOfActiveClients());
    RedisRateLimitStore two = store(RedisRateLimitStore.Fallback.localShareOfActiveClients());
    RateLimit limit = RateLimit.perSecond(10).burst(10).maxKeys(1);
    for (RedisRateLimitStore s : List.of(one, two)) {
      assertEquals(0, s.reserve("in-the-table", limit, 1, 0));
      assertEquals(0, s.reserve("beyond", limit, 1, 0));
    }
    assertEquals(0, one.reserve("beyond", limit, 1, 0)); // Redis now says: two stores
    for (int i = 1; i < 64; i++) { // 63 more limits with keys beyond their table
      RateLimit other = RateLimit.perSecond(10).burst(11 + i).maxKeys(1);
      assertEquals(0, one.reserve("in-the-table-" + i, other, 1, 0));
      assertEquals(0, one.reserve("beyond-" + i, other, 1, 0));
    }

    redis.stop();
    outage(one, "beyond", limit);
    now.addAndGet(61 * SECOND); // the limit's keys beyond the table left alone for a minute
    one.reserve("in-the-table", limit, 1, 0); // its table stays full
    RateLimit sixtyFifth = RateLimit.perSecond(10).burst(100).maxKeys(1);
    one.reserve("in-the-table-65", sixtyFifth, 1, 0);
    one.reserve("beyond-65", sixtyFifth, 1, 0);
    one.reserve("beyond", limit, 1, 0);
    now.addAndGet(2 * SECOND); // long enough for any bucket to be full

    assertEquals(5, granted(one, i -> "beyond-" + i, limit, 20),
        "a full bucket of half of 10 a second");
  }
}
