package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import io.lettuce.core.resource.ClientResources;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A store that finds its Redis through Sentinel ({@code redis-sentinel://}), against a real
 * Redis and two real Sentinels monitoring it: the lookup, its timeout, what the store says when
 * it fails, and its subscription to Sentinel's master switches (one Sentinel at a time, moving
 * on when it is lost, stopped by close()). A failover itself: RedisSentinelFailoverTest.
 */
class RedisSentinelTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture master = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(master, "mymaster");

  @RegisterExtension
  @Order(3)
  static final RedisFixture otherSentinel = RedisFixture.sentinelOf(master, "mymaster");

  /** The client name of the tests' stores, which marks their connections in CLIENT LIST. */
  private static final String NAME = "outrigger-sentinel-test";
  /**
   * How long build() may wait for the first subscription (its connectTimeout): the first store
   * of a JVM on a loaded machine can take longer than the default second, which the tests that
   * find the subscription right after build() must not depend on.
   */
  private static final Duration BUILD_WAITS = Duration.ofSeconds(10);
  private static final Duration GENEROUS = Duration.ofSeconds(10);
  private static final RateLimit LIMIT = RateLimit.perSecond(1000).burst(1000);

  /** {@code redis-sentinel://} through {@code sentinels}, with the tests' client name. */
  private static String uri(RedisFixture... sentinels) {
    return RedisFixture.sentinelUri(NAME, sentinels);
  }

  /** The live threads of Sentinel watches (every store's, this test's or not). */
  private static Set<Thread> watchThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().equals(SentinelWatch.THREAD_NAME))
        .collect(Collectors.toSet());
  }

  /** Waits (generously) for each of {@code threads} to end; fails naming those that did not. */
  private static void assertEnd(Set<Thread> threads, String what) throws InterruptedException {
    for (Thread t : threads) {
      t.join(GENEROUS.toMillis());
    }
    assertTrue(threads.stream().noneMatch(Thread::isAlive), what + ": " + threads);
  }

  /** Fails unless no connection named {@link #NAME} is left on the master or the Sentinels. */
  private static void assertNoConnectionLeft(String what) throws Exception {
    RedisFixture.await(what + ": no connection left on the master or a Sentinel", GENEROUS,
        () -> master.clientsNamed(NAME) + sentinel.clientsNamed(NAME)
            + otherSentinel.clientsNamed(NAME) == 0);
  }

  @Test
  void aStoreReachesTheMasterThroughSentinelAndNamesBoth() throws Exception {
    String uri = "redis-sentinel://127.0.0.1:" + sentinel.port() + "#mymaster";
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .connectTimeout(BUILD_WAITS).timeout(GENEROUS).build();
        RedisRateLimitStore direct = RedisRateLimitStore.builder(master.uri())
            .connectTimeout(BUILD_WAITS).timeout(GENEROUS).build()) {
      master.assertSharesBuckets(store, direct, "through Sentinel");
      assertTrue(store.toString().startsWith("RedisRateLimitStore[master 'mymaster' via "
          + "Sentinel 127.0.0.1:" + sentinel.port() + ","), store.toString());
    }
  }

  /**
   * README: connectTimeout "bounds Lettuce's handshake and a Sentinel lookup as well (Lettuce's
   * own default is 60 s)". A Sentinel that accepts and never answers holds the store's one
   * pending connect for Lettuce's 60 s: no second connection is tried in the meantime.
   */
  @Test
  void aSentinelWhoseHandshakeIsNeverAnsweredIsGivenUpAfterTheConnectTimeout()
      throws Exception {
    RedisFixture.assertGivesUpASilentHandshake(
        port -> "redis-sentinel://127.0.0.1:" + port + "#mymaster", Duration.ofSeconds(5), 2);
  }


  /**
   * A master name the Sentinel does not know: no reconnection would change it, so build()
   * refuses it, as it refuses a database Redis does not have (before, the store started on its
   * fallback for good, its WARN saying only "(RedisConnectionException)"). No WARN besides:
   * the Sentinel watch, told the same, leaves it to the exception.
   */
  @Test
  void aMasterTheSentinelDoesNotKnowFailsTheBuildSayingSo() throws Exception {
    Set<Thread> before = watchThreads();
    IllegalArgumentException e;
    try (LogCapture logs = new LogCapture()) {
      e = assertThrows(IllegalArgumentException.class,
          () -> RedisRateLimitStore.builder("redis-sentinel://127.0.0.1:" + sentinel.port()
              + "?clientName=" + NAME + "#nosuch")
              // What is left of the connect timeout after connecting is the watch's time to hear
              // that the Sentinel does not know the master; the default 1 s ran out on a loaded
              // machine, and the store then started on its fallback instead of failing.
              .connectTimeout(Duration.ofSeconds(10)).build());
      assertEquals(0, logs.count("WARN", ""), logs.all());
    }
    assertTrue(e.getMessage().contains("master 'nosuch'"), e.getMessage());
    assertTrue(e.getMessage().contains("127.0.0.1:" + sentinel.port()), e.getMessage());
    Set<Thread> left = watchThreads();
    left.removeAll(before);
    assertEnd(left, "the Sentinel watch of a failed build");
    assertNoConnectionLeft("a failed build");
  }

  /** A Sentinel that is down: the store starts on its fallback, its WARN saying why. */
  @Test
  void aSentinelThatIsDownIsSaidSoInTheWarning() throws Exception {
    int unused;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      unused = s.getLocalPort();
    }
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(
            "redis-sentinel://127.0.0.1:" + unused + "#mymaster")
            .connectTimeout(Duration.ofMillis(500)).build()) {
      assertTrue(store.degraded());
      String warn = logs.all();
      assertFalse(warn.contains("(RedisConnectionException)"), warn);
      assertTrue(warn.contains("Cannot connect"), warn);
    }
  }

  /**
   * The store follows master switches through one Sentinel (the first it can subscribe on);
   * when that one goes away it subscribes on the next at once, with no WARN: nothing is lost.
   */
  @Test
  void aLostSentinelSubscriptionMovesToTheNextSentinel() throws Exception {
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri(sentinel, otherSentinel))
            .timeout(Duration.ofSeconds(1)).connectTimeout(BUILD_WAITS)
            .probeInterval(Duration.ofMillis(50)).build()) {
      // build() waits for the first subscription.
      assertEquals(1, sentinel.subscribers(NAME), "subscribed on the first Sentinel");
      assertEquals(0, otherSentinel.subscribers(NAME), "and on no other");
      sentinel.stop();
      try {
        RedisFixture.await("the subscription moved to the other Sentinel", GENEROUS,
            () -> otherSentinel.subscribers(NAME) == 1);
        assertEquals(0, store.reserve("moved", LIMIT, 1, 0));
        assertFalse(store.degraded(), "the master answers: losing a Sentinel is no outage");
      } finally {
        sentinel.start();
      }
      assertTrue(logs.lines().stream().noneMatch(l -> l.startsWith("WARN")), logs.all());
    }
    assertNoConnectionLeft("a closed store");
  }

  /**
   * The only Sentinel restarts: one WARN says switches cannot be followed (however often the
   * store tries meanwhile: from 50 ms apart here, backing off), one INFO that they are again
   * once it is back, and
   * the store subscribes again. Rate-limit calls never wait for any of it.
   */
  @Test
  void aSentinelThatRestartsIsSubscribedOnAgainWithOneWarning() throws Exception {
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uri(sentinel))
            .timeout(Duration.ofSeconds(1)).connectTimeout(BUILD_WAITS)
            .probeInterval(Duration.ofMillis(50)).build()) {
      assertEquals(1, sentinel.subscribers(NAME), "subscribed on the Sentinel");
      sentinel.stop();
      try {
        RedisFixture.await("a WARN saying Sentinel's switches cannot be followed", GENEROUS,
            () -> logs.all().contains("cannot follow Sentinel's master switches"));
        assertEquals(0, store.reserve("restarted", LIMIT, 1, 0),
            "a call while no Sentinel answers");
        assertFalse(store.degraded(), "the master answers: a Sentinel down is no outage");
      } finally {
        sentinel.start();
      }
      RedisFixture.await("an INFO saying switches are followed again", GENEROUS,
          () -> logs.all().contains("following Sentinel's master switches again"));
      assertEquals(1, sentinel.subscribers(NAME), "subscribed on the Sentinel again");
      assertEquals(1, logs.lines().stream().filter(l -> l.startsWith("WARN")).count(),
          "WARNs for one Sentinel outage: " + logs.all());
    }
    assertNoConnectionLeft("a closed store");
  }

  /**
   * close() stops the watch's thread and closes its subscription, also when the Lettuce
   * resources are the application's (they outlive the store).
   */
  @Test
  void closeStopsTheSentinelWatchAndItsSubscription() throws Exception {
    ClientResources shared = ClientResources.create();
    try {
      Set<Thread> before = watchThreads();
      RedisRateLimitStore store = RedisRateLimitStore.builder(uri(sentinel))
          .clientResources(shared).connectTimeout(BUILD_WAITS).build();
      Set<Thread> started = watchThreads();
      started.removeAll(before);
      assertEquals(1, started.size(), "the store's watch thread: " + started);
      assertEquals(1, sentinel.subscribers(NAME), "subscribed on the Sentinel");
      store.close();
      assertEnd(started, "the watch's thread after close()");
      assertNoConnectionLeft("a closed store");
    } finally {
      shared.shutdown(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
  }

  /**
   * close() on a thread whose interrupt flag is set (a cancelled task closing its store) does
   * all the same, and keeps the flag. It threw RedisCommandInterruptedException from Lettuce's
   * shutdown, which waits with Future.get().
   */
  @Test
  void closeOnAnInterruptedThreadStopsTheWatchAndClosesItsSubscription() throws Exception {
    ClientResources shared = ClientResources.create();
    try {
      Set<Thread> before = watchThreads();
      RedisRateLimitStore store = RedisRateLimitStore.builder(uri(sentinel))
          .clientResources(shared).connectTimeout(BUILD_WAITS).build();
      Set<Thread> started = watchThreads();
      started.removeAll(before);
      assertEquals(1, sentinel.subscribers(NAME), "subscribed on the Sentinel");
      boolean interrupted;
      try {
        Thread.currentThread().interrupt();
        store.close();
      } finally {
        interrupted = Thread.interrupted();
      }
      assertTrue(interrupted, "close() cleared the caller's interrupt");
      assertEnd(started, "the watch's thread after close()");
      assertNoConnectionLeft("a store closed on an interrupted thread");
    } finally {
      shared.shutdown(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
  }

  /** Only Sentinel URIs are watched: a store at redis:// starts no thread, subscribes nowhere. */
  @Test
  void aStoreNotThroughSentinelStartsNoWatch() throws Exception {
    Set<Thread> before = watchThreads();
    // Time for Redis to answer: with the default 10 ms, a loaded machine's slower answer went
    // to the fallback, which starts empty and refused the permit.
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(master.uri() + "?clientName="
        + NAME).connectTimeout(BUILD_WAITS).timeout(GENEROUS).build()) {
      assertEquals(0, store.reserve("plain", LIMIT, 1, 0));
      Set<Thread> started = watchThreads();
      started.removeAll(before);
      assertTrue(started.isEmpty(), "threads started: " + started);
      assertEquals(0, master.subscribers(NAME), "subscriptions");
      assertEquals(1, master.clientsNamed(NAME), "the store's one connection");
    }
  }
}
