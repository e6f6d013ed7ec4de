package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Redis's script cache emptied under a running store (a restart, a SCRIPT FLUSH): each of the
 * script's questions (a permit, a pause, whether a pause holds a waiter) gets NOSCRIPT for its
 * EVALSHA and is asked again with EVAL, which loads the script: answered by Redis, not by the
 * fallback, and no outage.
 */
class RedisScriptFlushedTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  private static final long MINUTE = TimeUnit.MINUTES.toNanos(1);

  /** A permit a minute: the test's steps, however slow, all fall within one permit's time. */
  private final RateLimit limit = RateLimit.per(1, Duration.ofMinutes(1)).burst(1);

  /** A store that answers from Redis on a loaded machine (the fallback fails these tests). */
  private RedisRateLimitStore store() {
    return stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofMinutes(1)));
  }

  @Test
  void everyQuestionReloadsAFlushedScriptAndIsAnsweredByRedis() throws Exception {
    RedisRateLimitStore store = store();
    RedisRateLimitStore replicaB = store();

    redis.command("SCRIPT FLUSH");
    assertEquals(0, store.reserve("k", limit, 1, 0));
    long wait = replicaB.reserve("k", limit, 1, 2 * MINUTE);
    assertTrue(wait > 0, "the other replica took the permit Redis holds: waits " + wait);

    redis.command("SCRIPT FLUSH");
    assertTrue(store.pause("k", limit, 10 * MINUTE) > 0);

    redis.command("SCRIPT FLUSH");
    assertTrue(replicaB.heldFor("k", limit, 0, 2 * MINUTE) > 5 * MINUTE,
        "the other replica's waiter is held by the pause Redis holds");

    assertFalse(store.degraded() || replicaB.degraded());
    assertEquals(0, store.fallbacks() + replicaB.fallbacks(), "answered by the fallback");
  }

  /** A give-back, not waited for, was sent with EVALSHA alone: after a flush it was lost. */
  @Test
  void aPermitGivenBackAfterAFlushIsGivenBack() throws Exception {
    RedisRateLimitStore store = store();
    assertEquals(0, store.reserve("k", limit, 1, 0));
    long booked = store.reserve("k", limit, 1, 2 * MINUTE);
    assertTrue(booked > 0, "booked in line: " + booked);

    redis.command("SCRIPT FLUSH");
    store.giveBack("k", limit, 1, booked);

    // Asked on the same connection, after the give-back: the next permit is the one given back.
    long next = store.reserve("k", limit, 1, 3 * MINUTE);
    assertTrue(next > 0 && next <= MINUTE, "the next call waits " + next / 1e9 + " s: "
        + "behind the booking given back");
  }
}
