package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A Redis error confined to one key: another application wrote a value of another type under
 * the name of a key's bucket, and Redis answers that key's script with {@code WRONGTYPE}. It used
 * to make the whole store unavailable (every key on its fallback), and then, each probe asking
 * Redis with whatever key came first, a WARN and an INFO in turn once per probe interval, with
 * Redis's message and nothing saying which key or what to change.
 */
class RedisKeyErrorTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  private static final RateLimit LIMIT = RateLimit.perSecond(10).burst(10);
  private static final long PROBE_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final AtomicLong now = new AtomicLong(System.nanoTime());

  private RedisRateLimitStore store(RedisRateLimitStore.Fallback fallback) {
    return stores.build(RedisRateLimitStore.builder(redis.uri())
        .keyPrefix("shared:").timeout(Duration.ofMillis(500))
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofNanos(PROBE_NANOS)).fallback(fallback).nanos(now::get));
  }

  @Test
  void aKeyAnotherApplicationWroteTakesOnlyThatKeyOffRedisAndSaysWhatToChange()
      throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    assertEquals(0, store.reserve("good", LIMIT, 1, 0));
    String taken = store.redisKey("taken");
    redis.command("SET " + taken + " another-application");

    try (LogCapture logs = new LogCapture()) {
      for (int i = 0; i < 4; i++) {
        store.reserve("taken", LIMIT, 1, 0);
        assertFalse(store.degraded(), "the store counts Redis as unavailable");
        assertEquals(0, store.reserve("good", LIMIT, 1, 0), "another key, probe " + i);
        now.addAndGet(PROBE_NANOS + 1);
      }
      assertEquals(4, store.fallbacks(), "calls answered by the fallback: the taken key's");
      assertEquals(1, logs.count("WARN", ""), logs.all());
      assertEquals(1, logs.count("WARN", "'" + taken + "'"), logs.all());
      assertEquals(1, logs.count("WARN", "keyPrefix"), logs.all());
      assertEquals(1, logs.count("WARN", "'shared:'"), logs.all());
      assertEquals(0, logs.count("INFO", ""), logs.all());

      // Deleted by its owner (or this store given a prefix of its own): back on Redis.
      redis.command("DEL " + taken);
      now.addAndGet(PROBE_NANOS + 1);
      assertEquals(0, store.reserve("taken", LIMIT, 1, 0));
      assertEquals(4, store.fallbacks(), "answered by Redis");
      assertEquals(1, logs.count("INFO", "'" + taken + "'"), logs.all());
      assertEquals(1, logs.count("WARN", ""), logs.all());
    }
  }

  @Test
  void failingFastTheKeysCallsAreRefusedNamingItsRedisKeyAndTheOthersStayOnRedis()
      throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.failFast());
    String taken = store.redisKey("taken");
    redis.command("HSET " + taken + ":clients someone 1");

    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> store.reserve("taken", LIMIT, 1, 0));
    assertTrue(e.getMessage().contains("'" + taken + "'"), e.getMessage());
    assertTrue(e.getMessage().contains("keyPrefix"), e.getMessage());
    assertFalse(store.degraded());
    assertEquals(0, store.reserve("good", LIMIT, 1, 0));
  }

  /**
   * A key beyond the limit's key table whose Redis key is taken keeps one fallback bucket: its
   * calls queue in it (each wait longer than the last), not in a fresh bucket made at each call,
   * which would let every call through after one interval.
   */
  @Test
  void aKeyBeyondTheTableWhoseRedisKeyIsTakenQueuesInOneFallbackBucket() throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    RateLimit oneKey = LIMIT.maxKeys(1);
    assertEquals(0, store.reserve("good", oneKey, 1, 0));
    String taken = store.redisKey("taken");
    redis.command("SET " + taken + " another-application");

    long maxWait = TimeUnit.SECONDS.toNanos(10);
    long last = -1;
    for (int i = 0; i < 5; i++) {
      long wait = store.reserve("taken", oneKey, 1, maxWait);
      assertTrue(wait > last, "call " + i + " waits " + wait + " ns, after " + last);
      last = wait;
      assertEquals(0, store.reserve("good", oneKey, 1, 0), "the key in the table stays on Redis");
    }
    assertFalse(store.degraded());
  }

  /**
   * A key beyond the table whose Redis key is taken books in its limit's key-error bucket, and
   * a server pause of the key is told to that bucket: its waiter is held by it. heldFor read the
   * outage's bucket instead, and let the waiter go inside the pause.
   */
  @Test
  void aWaiterOfAKeyBeyondTheTableWhoseRedisKeyIsTakenIsHeldByItsBucketsPause() throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    RateLimit oneKey = LIMIT.maxKeys(1);
    assertEquals(0, store.reserve("good", oneKey, 1, 0));
    redis.command("SET " + store.redisKey("taken") + " another-application");

    long maxWait = TimeUnit.SECONDS.toNanos(10);
    long wait = store.reserve("taken", oneKey, 1, maxWait);
    assertTrue(wait > 0, "the key-error bucket starts empty: waits " + wait + " ns");
    long pause = TimeUnit.SECONDS.toNanos(5);
    assertEquals(pause, store.pause("taken", oneKey, pause));
    now.addAndGet(wait);

    assertEquals(pause - wait, store.heldFor("taken", oneKey, 0, maxWait),
        "held until the end of the pause told to the bucket it booked in");
    assertFalse(store.degraded());
  }

  /**
   * The key-error bucket of the keys beyond the table outlives the key error that made it, and
   * refills meanwhile. A later key error of another such key, whose calls Redis had granted up to
   * the limit just before, began with the permits it stored: a second burst at once.
   */
  @Test
  void aLaterKeyErrorOfAnotherKeyBeyondTheTableBeginsWithNoBurst() throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    RateLimit oneKey = LIMIT.maxKeys(1);
    assertEquals(0, store.reserve("good", oneKey, 1, 0));
    redis.command("SET " + store.redisKey("taken") + " another-application");
    long maxWait = TimeUnit.SECONDS.toNanos(10);
    assertTrue(store.reserve("taken", oneKey, 1, maxWait) > 0, "the bucket starts empty");
    now.addAndGet(TimeUnit.SECONDS.toNanos(10)); // full again
    assertEquals(0, store.reserve("taken", oneKey, 1, 0),
        "the same key's error, going on, uses what its bucket stored");

    // Another key beyond the table: Redis grants it a burst, then its Redis key is taken.
    for (int i = 0; i < LIMIT.burst(); i++) {
      assertEquals(0, store.reserve("later", oneKey, 1, 0), "call " + i + " on Redis");
    }
    redis.command("SET " + store.redisKey("later") + " another-application");

    long next = store.reserve("later", oneKey, 1, 0);
    assertTrue(next < 0, "granted at once after a burst on Redis: " + next);
    assertFalse(store.degraded());
  }

  /**
   * The key-error bucket of the keys beyond the table is not the outage's: an outage ending
   * (Redis answering again) drops the outage's buckets, and dropped this one too, with the
   * server pause told to it, which Redis (refusing the key) never heard of. The key's waiter then
   * went, and its next call was granted after one interval, inside the pause.
   */
  @Test
  void aPauseOfAKeyBeyondTheTableWhoseRedisKeyIsTakenOutlastsAnOutageEnding() throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    RateLimit oneKey = LIMIT.maxKeys(1);
    assertEquals(0, store.reserve("good", oneKey, 1, 0));
    redis.command("SET " + store.redisKey("taken") + " another-application");
    long maxWait = TimeUnit.SECONDS.toNanos(10);
    long wait = store.reserve("taken", oneKey, 1, maxWait);
    assertTrue(wait > 0, "the key-error bucket starts empty: waits " + wait + " ns");
    long pause = TimeUnit.SECONDS.toNanos(5);
    assertEquals(pause, store.pause("taken", oneKey, pause));

    // An outage: the next call of "good" finds Redis gone and uses the fallback.
    redis.stop();
    store.reserve("good", oneKey, 1, 0);
    assertTrue(store.degraded());
    redis.start();
    redis.command("SET " + store.redisKey("taken") + " another-application");
    now.addAndGet(PROBE_NANOS + 1); // the next call is a probe: Redis answers it
    assertEquals(0, store.reserve("good", oneKey, 1, 0));
    assertFalse(store.degraded(), "Redis did not answer the probe");

    assertEquals(pause - PROBE_NANOS - 1, store.heldFor("taken", oneKey, 0, maxWait),
        "the waiter of \"taken\" is no longer held by the pause told to its bucket");
    long next = store.reserve("taken", oneKey, 1, maxWait);
    assertTrue(next >= pause - PROBE_NANOS - 1, "a call of \"taken\" waits " + next
        + " ns, going inside the server's pause");
  }

  /**
   * A key in the table whose Redis key is taken keeps a server pause in its own key-error bucket
   * (Redis refuses the key, so never hears of it). The sweep, looking only for a pause not yet
   * told to Redis, dropped the state of such a key left alone for a minute, its bucket and pause
   * with it, when another key needed the table's place: the key's next call, on a new bucket,
   * was granted inside the pause.
   */
  @Test
  void aPauseOfAKeyWhoseRedisKeyIsTakenOutlastsTheTableSweptForAnotherKey() throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    RateLimit oneKey = LIMIT.maxKeys(1);
    redis.command("SET " + store.redisKey("taken") + " another-application");
    store.reserve("taken", oneKey, 1, 0); // the table's one key, on its key-error bucket
    long pause = TimeUnit.MINUTES.toNanos(10);
    assertEquals(pause, store.pause("taken", oneKey, pause));

    // Its callers leave it alone for a minute; another key of the limit comes.
    long idle = TimeUnit.SECONDS.toNanos(61);
    now.addAndGet(idle);
    assertEquals(0, store.reserve("other", oneKey, 1, 0));

    long next = store.reserve("taken", oneKey, 1, 0);
    assertTrue(next < 0 && -next >= pause - idle, "a call of \"taken\" would wait " + -next
        + " ns: granted inside the server's pause");
    assertFalse(store.degraded());
  }

  /**
   * The sweep read a key's last use, then dropped its state: a call that took the key in
   * between (here the server pause of a key whose Redis key is taken, come as the sweep found
   * the key idle) paused state no longer kept, and the key's next call, on state made anew, was
   * granted inside the pause. A pause Redis has not heard of, in an outage, went the same way.
   */
  @Test
  void aPauseToldAsTheSweepDropsTheKeyIsKept() throws Exception {
    RedisRateLimitStore store = store(RedisRateLimitStore.Fallback.localShare(1.0));
    RateLimit oneKey = LIMIT.maxKeys(1);
    redis.command("SET " + store.redisKey("taken") + " another-application");
    store.reserve("taken", oneKey, 1, 0); // the table's one key, on its key-error bucket
    now.addAndGet(TimeUnit.SECONDS.toNanos(61)); // left alone for a minute, nothing held

    // Another key of the limit needs the table's place: as the sweep finds "taken" idle, the
    // server's answer to a call of "taken" made over a minute ago pauses it.
    long pause = TimeUnit.MINUTES.toNanos(10);
    store.betweenSweepSteps = () -> {
      store.betweenSweepSteps = null;
      assertEquals(pause, store.pause("taken", oneKey, pause));
    };
    assertEquals(0, store.reserve("other", oneKey, 1, 0));
    assertNull(store.betweenSweepSteps, "the sweep did not find \"taken\" idle");

    long next = store.reserve("taken", oneKey, 1, 0);
    assertTrue(next < 0 && -next >= pause, "a call of \"taken\" would wait " + -next
        + " ns: granted inside the server's pause");
    assertFalse(store.degraded());
  }
}
