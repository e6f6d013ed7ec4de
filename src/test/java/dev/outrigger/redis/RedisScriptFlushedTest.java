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
  private static final long S = TimeUnit.SECONDS.toNanos(1);

  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  private final RateLimit limit = RateLimit.perSecond(1).burst(1);

  @Test
  void everyQuestionReloadsAFlushedScriptAndIsAnsweredByRedis() throws Exception {
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .timeout(Duration.ofSeconds(1)).probeInterval(Duration.ofMinutes(1)));
    RedisRateLimitStore replicaB = stores.build(RedisRateLimitStore.builder(redis.uri())
        .timeout(Duration.ofSeconds(1)).probeInterval(Duration.ofMinutes(1)));

    redis.command("SCRIPT FLUSH");
    assertEquals(0, store.reserve("k", limit, 1, 0));
    long wait = replicaB.reserve("k", limit, 1, 10 * S);
    assertTrue(wait > 0, "the other replica took the permit Redis holds: waits " + wait);

    redis.command("SCRIPT FLUSH");
    assertTrue(store.pause("k", limit, 5 * S) > 0);

    redis.command("SCRIPT FLUSH");
    assertTrue(replicaB.heldFor("k", limit, 0, 10 * S) > 4 * S,
        "the other replica's waiter is held by the pause Redis holds");

    assertFalse(store.degraded() || replicaB.degraded());
    assertEquals(0, store.fallbacks() + replicaB.fallbacks(), "answered by the fallback");
  }

  /** A give-back, not waited for, was sent with EVALSHA alone: after a flush it was lost. */
  @Test
  void aPermitGivenBackAfterAFlushIsGivenBack() throws Exception {
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .timeout(Duration.ofSeconds(1)).probeInterval(Duration.ofMinutes(1)));
    RateLimit slow = RateLimit.per(1, Duration.ofSeconds(10)).burst(1);
    assertEquals(0, store.reserve("k", slow, 1, 0));
    long booked = store.reserve("k", slow, 1, 60 * S);
    assertTrue(booked > 0, "booked in line: " + booked);

    redis.command("SCRIPT FLUSH");
    store.giveBack("k", slow, 1, booked);

    // Asked on the same connection, after the give-back: the next permit is the one given back.
    long next = store.reserve("k", slow, 1, 60 * S);
    assertTrue(next > 0 && next <= 10 * S, "the next call waits " + next / 1e9 + " s: "
        + "behind the booking given back");
  }
}
