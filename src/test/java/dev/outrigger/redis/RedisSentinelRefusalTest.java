package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Sentinels that will not serve the store's subscription to {@code +switch-master}, against a
 * real Redis and real Sentinels: one whose ACL refuses {@code SUBSCRIBE}, one that does not know
 * the store's master (it would never announce its switches). The store moves on to the next
 * Sentinel, and when none serves it, one WARN, and it backs off rather than asking each every
 * probe interval for ever.
 */
class RedisSentinelRefusalTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture master = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(master, "mymaster");

  /** A Sentinel whose ACL refuses SUBSCRIBE (set by each test that wants it). */
  @RegisterExtension
  @Order(3)
  static final RedisFixture refusing = RedisFixture.sentinelOf(master, "mymaster");

  /** A Sentinel that monitors the same server under another name: it knows no 'mymaster'. */
  @RegisterExtension
  @Order(4)
  static final RedisFixture stranger = RedisFixture.sentinelOf(master, "othermaster");

  private static final String NAME = "outrigger-sentinel-refusal-test";
  private static final Duration GENEROUS = Duration.ofSeconds(10);
  private static final RateLimit LIMIT = RateLimit.perSecond(1000).burst(1000);

  /** {@code redis-sentinel://} through {@code sentinels}, with the tests' client name. */
  private static String uri(RedisFixture... sentinels) {
    return RedisFixture.sentinelUri(NAME, sentinels);
  }

  /** Runs {@code test} with {@link #refusing}'s ACL refusing SUBSCRIBE. */
  private static void refusingSubscribe(RedisFixture.Condition test) throws Exception {
    assertEquals("+OK", refusing.command("ACL SETUSER default -subscribe"));
    assertEquals("+OK", refusing.command("ACL LOG RESET"));
    try {
      test.holds();
    } finally {
      refusing.command("ACL SETUSER default +subscribe");
      refusing.command("ACL LOG RESET");
    }
  }

  /**
   * Waits for the store's subscription on {@link #sentinel} (build() waits for it up to its
   * connectTimeout, which a JVM's first store can overrun).
   */
  private static void awaitSubscribedOnTheFirst() throws Exception {
    RedisFixture.await("subscribed on the first Sentinel", GENEROUS,
        () -> sentinel.subscribers(NAME) == 1);
  }

  private static long warnings(LogCapture logs) {
    return logs.count("WARN", "");
  }

  /** A Sentinel that refuses the subscription is passed for the next, with no WARN. */
  @Test
  void aSentinelThatRefusesTheSubscriptionIsPassedForTheNext() throws Exception {
    refusingSubscribe(() -> {
      try (LogCapture logs = new LogCapture();
          RedisRateLimitStore store = RedisRateLimitStore.builder(uri(sentinel, refusing))
              .connectTimeout(GENEROUS).timeout(GENEROUS)
              .probeInterval(Duration.ofMillis(50)).build()) {
        awaitSubscribedOnTheFirst();
        // Lost: the next Sentinel (the refusing one) is tried first, then the first again.
        assertEquals(":1", sentinel.command("CLIENT KILL TYPE pubsub"));
        RedisFixture.await("the refusing Sentinel tried, then the first subscribed on again",
            GENEROUS, () -> refusing.refusals("subscribe") >= 1
                && sentinel.subscribers(NAME) == 1);
        assertEquals(0, refusing.subscribers(NAME), "no subscription on the refusing Sentinel");
        assertEquals(0, store.reserve("k", LIMIT, 1, 0));
        assertEquals(0, warnings(logs), logs.all());
      }
      return true;
    });
  }

  /**
   * Every Sentinel refuses: one WARN saying why, and the store asks again less and less often
   * (it asked every probe interval for ever, a new connection each time). With a probe interval
   * of 20 ms the waits are 20, 40, 80, ... ms, so the 7th refusal cannot come before
   * 20 x (1 + 2 + ... + 32) = 1,260 ms (timers never fire early); asking every 20 ms, it came
   * after about 120 ms. Rate-limit calls are answered by the master throughout.
   */
  @Test
  void whenEverySentinelRefusesTheStoreAsksLessAndLessOftenWithOneWarning() throws Exception {
    refusingSubscribe(() -> {
      long probe = TimeUnit.MILLISECONDS.toNanos(20);
      int times = 7;
      long start = System.nanoTime();
      try (LogCapture logs = new LogCapture();
          RedisRateLimitStore store = RedisRateLimitStore.builder(uri(refusing))
              .connectTimeout(GENEROUS).timeout(GENEROUS)
              .probeInterval(Duration.ofNanos(probe)).build()) {
        RedisFixture.await("the subscription refused " + times + " times",
            Duration.ofSeconds(30), () -> refusing.refusals("subscribe") >= times);
        long took = System.nanoTime() - start;
        long atLeast = probe * ((1L << (times - 1)) - 1);
        assertTrue(took >= atLeast, "refused " + times + " times within "
            + TimeUnit.NANOSECONDS.toMillis(took) + " ms; backing off, not before "
            + TimeUnit.NANOSECONDS.toMillis(atLeast) + " ms");

        assertEquals(0, store.reserve("k", LIMIT, 1, 0), "a call while no Sentinel subscribes");
        assertFalse(store.degraded(), "the master answers: a refusing Sentinel is no outage");
        assertEquals(1, warnings(logs), logs.all());
        String warn = logs.lines().stream().filter(l -> l.startsWith("WARN")).findFirst()
            .orElseThrow();
        assertTrue(warn.contains("cannot follow Sentinel's master switches")
            && warn.contains("127.0.0.1:" + refusing.port() + ": NOPERM"), warn);
        assertEquals(0, refusing.subscribers(NAME));
      }
      return true;
    });
  }

  /**
   * A Sentinel that does not know the master: a subscription there is useless (it never
   * announces that master's switches), so the store passes it for the next, with no WARN. It
   * kept it, silently.
   */
  @Test
  void aSentinelThatDoesNotKnowTheMasterIsPassedForTheNext() throws Exception {
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri(sentinel, stranger))
            .connectTimeout(GENEROUS).timeout(GENEROUS).probeInterval(Duration.ofMillis(50))
            .build()) {
      awaitSubscribedOnTheFirst();
      // Lost: the next Sentinel (the stranger) is tried first, then the first again.
      assertEquals(":1", sentinel.command("CLIENT KILL TYPE pubsub"));
      RedisFixture.await("subscribed on the Sentinel that knows the master again", GENEROUS,
          () -> sentinel.subscribers(NAME) == 1);
      assertEquals(0, stranger.subscribers(NAME), "no subscription on the stranger");
      assertTrue(logs.all().contains("cannot subscribe on Sentinel 127.0.0.1:"
          + stranger.port() + " (it does not know master 'mymaster')"), logs.all());
      assertEquals(0, store.reserve("k", LIMIT, 1, 0));
      assertEquals(0, warnings(logs), logs.all());
    }
  }

  /**
   * No Sentinel knows the master any more: one WARN saying so, the store keeps trying (backing
   * off), and subscribes again once a Sentinel knows it (one INFO). Calls are answered by the
   * master throughout.
   */
  @Test
  void whenNoSentinelKnowsTheMasterOneWarningSaysSoAndTheStoreKeepsTrying() throws Exception {
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri(sentinel, stranger))
            .connectTimeout(GENEROUS).timeout(GENEROUS).probeInterval(Duration.ofMillis(50))
            .build()) {
      awaitSubscribedOnTheFirst();
      assertEquals("+OK", sentinel.command("SENTINEL REMOVE mymaster"));
      try {
        assertEquals(":1", sentinel.command("CLIENT KILL TYPE pubsub"));
        RedisFixture.await("a WARN that no Sentinel knows the master", GENEROUS,
            () -> logs.count("WARN", "cannot follow Sentinel's master switches") == 1);
        String warn = logs.lines().stream().filter(l -> l.startsWith("WARN"))
            .findFirst().orElseThrow();
        for (RedisFixture s : new RedisFixture[] {sentinel, stranger}) {
          assertTrue(warn.contains("127.0.0.1:" + s.port() + ": it does not know master "
              + "'mymaster'"), warn);
        }
        assertEquals(0, sentinel.subscribers(NAME) + stranger.subscribers(NAME),
            "no useless subscription");
        assertEquals(0, store.reserve("k", LIMIT, 1, 0), "a call while no Sentinel subscribes");
        assertFalse(store.degraded());
      } finally {
        sentinel.command("SENTINEL MONITOR mymaster 127.0.0.1 " + master.port() + " 1");
        sentinel.command("SENTINEL SET mymaster down-after-milliseconds 2000");
      }
      RedisFixture.await("subscribed again once the Sentinel knows the master", GENEROUS,
          () -> sentinel.subscribers(NAME) == 1);
      RedisFixture.await("an INFO saying switches are followed again", GENEROUS,
          () -> logs.all().contains("following Sentinel's master switches again"));
      assertEquals(1, warnings(logs), logs.all());
    }
  }

  /**
   * The first Sentinel of the URI does not know the master: Lettuce's lookup asks only the first
   * Sentinel that answers, so no reconnection would find it, and build() fails naming that
   * Sentinel (told by its own answer, not by Lettuce's message; the message named every
   * Sentinel of the URI). The watch, which heard it first, adds no WARN; nothing is left open.
   */
  @Test
  void aMasterTheFirstSentinelDoesNotKnowFailsTheBuildNamingThatSentinel() throws Exception {
    try (LogCapture logs = new LogCapture()) {
      // What is left of the connectTimeout after connecting is the watch's time to hear that
      // the Sentinel does not know the master (see RedisSentinelTest).
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> RedisRateLimitStore.builder(uri(stranger, sentinel)).connectTimeout(GENEROUS)
              .build());
      assertTrue(e.getMessage().contains("master 'mymaster', which Sentinel 127.0.0.1:"
          + stranger.port() + " does not know"), e.getMessage());
      assertFalse(e.getMessage().contains(Integer.toString(sentinel.port())), e.getMessage());
      assertEquals(0, warnings(logs), logs.all());
    }
    RedisFixture.await("no connection of the failed build left", GENEROUS,
        () -> master.clientsNamed(NAME) + sentinel.clientsNamed(NAME)
            + stranger.clientsNamed(NAME) == 0);
  }
}
