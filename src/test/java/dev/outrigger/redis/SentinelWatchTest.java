package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.LogCapture;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.SocketAddressResolver;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The watch on its own, with a listener of the test's, against a real Sentinel: what it logs
 * when the listener fails (a bug), apart from what it logs when no Sentinel takes the
 * subscription.
 */
class SentinelWatchTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture master = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture other = new RedisFixture();

  @RegisterExtension
  @Order(3)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(master, "mymaster");

  private static final String NAME = "outrigger-watch-test";
  private static final Duration GENEROUS = Duration.ofSeconds(10);
  private static final long CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  /** A listener that fails (a bug) whenever a Sentinel names another master on subscribing. */
  private static final SentinelWatch.Listener FAILING = new SentinelWatch.Listener() {
    @Override
    public void masterSwitched(String host, int port) {
    }

    @Override
    public CompletionStage<String> whyNotMaster() {
      throw new IllegalStateException("a bug in the listener");
    }
  };

  /** A listener for tests that never see another master named. */
  private static final SentinelWatch.Listener QUIET = new SentinelWatch.Listener() {
    @Override
    public void masterSwitched(String host, int port) {
    }

    @Override
    public CompletionStage<String> whyNotMaster() {
      return CompletableFuture.completedFuture(null);
    }
  };

  /**
   * One flag served the WARN of a failure of the watch itself and the WARN that no Sentinel
   * takes the subscription: after the first, a Sentinel lost for good went unwarned, and the
   * next subscription said "following ... again" of an episode never warned of.
   */
  @Test
  void aFailureOfTheWatchNeitherSilencesNorEndsTheWarningThatNoSentinelSubscribes()
      throws Exception {
    RedisURI uri = RedisUris.parse("redis-sentinel://127.0.0.1:" + sentinel.port()
        + "?clientName=" + NAME + "#mymaster");
    RedisClient client = RedisClient.create();
    try (LogCapture logs = new LogCapture();
        SentinelWatch watch = new SentinelWatch(client, uri, "the test's master", CHECK_NANOS,
            System::nanoTime, FAILING)) {
      watch.start();
      watch.awaitFirstRound(GENEROUS.toNanos());
      sentinel.awaitSubscribedAndPinged(NAME, GENEROUS);

      // The Sentinel names another master from now on; subscribing again, the watch hears it
      // and asks the listener, which fails.
      assertEquals("+OK", sentinel.command("SENTINEL REMOVE mymaster"));
      assertEquals("+OK", sentinel.command("SENTINEL MONITOR mymaster 127.0.0.1 "
          + other.port() + " 1"));
      assertEquals(":1", sentinel.command("CLIENT KILL TYPE pubsub"));
      RedisFixture.await("the watch's failure warned of", GENEROUS,
          () -> logs.all().contains("following Sentinel's master switches failed"));
      // Subscribed again (the listener fails again): that is no end of an episode without a
      // subscription, which was never warned of.
      assertEquals(":1", sentinel.command("CLIENT KILL TYPE pubsub"));
      sentinel.awaitSubscribedAndPinged(NAME, GENEROUS);
      assertEquals(0, logs.count("INFO", "following Sentinel's master switches again"),
          logs.all());

      sentinel.stop();
      try {
        RedisFixture.await("a WARN that no Sentinel takes the subscription", GENEROUS,
            () -> logs.all().contains("cannot follow Sentinel's master switches"));
      } finally {
        sentinel.start(); // monitoring the test's master again
      }
      RedisFixture.await("an INFO that switches are followed again", GENEROUS,
          () -> logs.all().contains("following Sentinel's master switches again"));
      assertEquals(2, logs.count("WARN", ""),
          "one WARN for the watch's failure, one for the Sentinel lost: " + logs.all());
      assertEquals(1, logs.count("WARN", "following Sentinel's master switches failed"),
          logs.all());
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  /** The id of the watch's connection subscribed on the Sentinel, or null. */
  private static String subscriberId() throws Exception {
    return sentinel.command("CLIENT LIST").lines()
        .filter(l -> l.contains(" name=" + NAME + " ") && !l.contains(" sub=0 "))
        .map(l -> l.substring(0, l.indexOf(' '))).findFirst().orElse(null);
  }

  /**
   * A Sentinel whose ACL refuses PING answers it all the same: the subscription is alive and
   * is kept. The refusal counted as no answer, so the watch dropped the subscription and took a
   * new one every check interval, a new connection each time.
   */
  @Test
  void aSentinelThatRefusesPingKeepsTheSubscription() throws Exception {
    RedisURI uri = RedisUris.parse("redis-sentinel://127.0.0.1:" + sentinel.port()
        + "?clientName=" + NAME + "#mymaster");
    SentinelWatch.Listener none = new SentinelWatch.Listener() {
      @Override
      public void masterSwitched(String host, int port) {
      }

      @Override
      public CompletionStage<String> whyNotMaster() {
        return CompletableFuture.completedFuture(null);
      }
    };
    assertEquals("+OK", sentinel.command("ACL SETUSER default -ping"));
    assertEquals("+OK", sentinel.command("ACL LOG RESET"));
    RedisClient client = RedisClient.create();
    try (LogCapture logs = new LogCapture();
        SentinelWatch watch = new SentinelWatch(client, uri, "the test's master", CHECK_NANOS,
            System::nanoTime, none)) {
      watch.start();
      RedisFixture.await("the watch's subscription", GENEROUS, () -> subscriberId() != null);
      String id = subscriberId();
      // The only Sentinel: every PING it refuses is the watch's.
      RedisFixture.await("three PINGs refused", GENEROUS, () -> sentinel.refusals("ping") >= 3);
      assertEquals(id, subscriberId(), "the same subscription after PINGs refused; logs:\n"
          + logs.all());
      assertEquals(0, logs.count("WARN", ""), logs.all());
    } finally {
      sentinel.command("ACL SETUSER default +ping");
      sentinel.command("ACL LOG RESET");
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  /**
   * A master switch is acted on before it is logged: whoever reads the line finds the store
   * asking the new master (RedisSentinelCrashFailoverTest read the line, then asked the store
   * before it had moved). The switch here is a master named by the Sentinel on subscribing
   * again, which the listener says is needed (the master in use is not one any more).
   */
  @Test
  void aMasterSwitchIsActedOnBeforeItIsLogged() throws Exception {
    RedisURI uri = RedisUris.parse("redis-sentinel://127.0.0.1:" + sentinel.port()
        + "?clientName=" + NAME + "#mymaster");
    RedisClient client = RedisClient.create();
    CompletableFuture<String> loggedWhenActing = new CompletableFuture<>();
    try (LogCapture logs = new LogCapture()) {
      SentinelWatch.Listener listener = new SentinelWatch.Listener() {
        @Override
        public void masterSwitched(String host, int port) {
          loggedWhenActing.complete(logs.lines().stream()
              .filter(l -> l.contains("the master moved")).findFirst().orElse(""));
        }

        @Override
        public CompletionStage<String> whyNotMaster() {
          return CompletableFuture.completedFuture("is a replica now (the test says so)");
        }
      };
      try (SentinelWatch watch = new SentinelWatch(client, uri, "the test's master", CHECK_NANOS,
          System::nanoTime, listener)) {
        watch.start();
        sentinel.awaitSubscribedAndPinged(NAME, GENEROUS);
        assertEquals("+OK", sentinel.command("SENTINEL REMOVE mymaster"));
        assertEquals("+OK", sentinel.command("SENTINEL MONITOR mymaster 127.0.0.1 "
            + other.port() + " 1"));
        assertEquals(":1", sentinel.command("CLIENT KILL TYPE pubsub"));
        assertEquals("", loggedWhenActing.get(GENEROUS.toSeconds(), TimeUnit.SECONDS),
            "logged before the store was told");
        RedisFixture.await("the switch logged", GENEROUS,
            () -> logs.all().contains("the master moved from 127.0.0.1:" + master.port()
                + " to 127.0.0.1:" + other.port()));
      }
    } finally {
      sentinel.command("SENTINEL REMOVE mymaster");
      sentinel.command("SENTINEL MONITOR mymaster 127.0.0.1 " + master.port() + " 1");
      sentinel.command("SENTINEL SET mymaster down-after-milliseconds 2000");
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  /**
   * An Error (here the JVM's for a class that failed to initialise) thrown by the first
   * connect, out of Lettuce's connectPubSubAsync on the watch's thread. The store's own client
   * asks a user's DnsResolver on a thread of its own, where any Throwable fails the connect's
   * future instead; a plain RedisClient, as here, asks it on the connecting thread, and Reactor
   * rethrows a LinkageError rather than failing the future, so the watch guards against it
   * whatever client it is given. The watch's set-up must still count as done, so that build()
   * does not wait its 10 s cap for it, and the watch must not stay 'connecting' for ever: the
   * next check starts a round, which subscribes.
   */
  @Test
  void anErrorFromTheFirstConnectNeitherHoldsTheBuildNorStopsLaterRounds() throws Exception {
    RedisURI uri = RedisUris.parse("redis-sentinel://127.0.0.1:" + sentinel.port()
        + "?clientName=" + NAME + "#mymaster");
    AtomicBoolean first = new AtomicBoolean(true);
    ClientResources resources = ClientResources.builder().socketAddressResolver(
        SocketAddressResolver.create(host -> {
          if (first.compareAndSet(true, false)) {
            throw new NoClassDefFoundError("Could not initialize class the.Test's");
          }
          return InetAddress.getAllByName(host);
        })).build();
    RedisClient client = RedisClient.create(resources);
    try (LogCapture logs = new LogCapture();
        SentinelWatch watch = new SentinelWatch(client, uri, "the test's master", CHECK_NANOS,
            System::nanoTime, QUIET)) {
      watch.start();
      // Waits for the set-up (up to its 10 s cap), then not at all for the round.
      CompletableFuture<Void> awaited =
          CompletableFuture.runAsync(() -> watch.awaitFirstRound(0));
      awaited.get(5, TimeUnit.SECONDS);
      sentinel.awaitSubscribedAndPinged(NAME, GENEROUS);
      assertEquals(1, logs.count("WARN", "following Sentinel's master switches failed"),
          logs.all());
      assertEquals(1, logs.lines().stream()
          .filter(l -> l.contains("Could not initialize class")).count(), logs.all());
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      resources.shutdown(0, 2, TimeUnit.SECONDS).get();
    }
  }

  /** After each round in which no Sentinel subscribes: twice as long, up to 30 s. */
  @Test
  void theBackOffDoublesFromTheCheckIntervalUpTo30Seconds() {
    long s = TimeUnit.SECONDS.toNanos(1);
    long[] waits = new long[8];
    for (int round = 1; round <= waits.length; round++) {
      waits[round - 1] = SentinelWatch.backOffNanos(round, s);
    }
    assertArrayEquals(new long[] {s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s, 30 * s},
        waits);
    assertEquals(30 * s, SentinelWatch.backOffNanos(Integer.MAX_VALUE, s), "no overflow");
    long ms = TimeUnit.MILLISECONDS.toNanos(1);
    assertEquals(50 * ms, SentinelWatch.backOffNanos(1, 50 * ms));
    assertEquals(400 * ms, SentinelWatch.backOffNanos(4, 50 * ms));
    assertEquals(60 * s, SentinelWatch.backOffNanos(1, 60 * s),
        "a check interval over the cap is the wait");
    assertEquals(60 * s, SentinelWatch.backOffNanos(5, 60 * s));
  }
}
