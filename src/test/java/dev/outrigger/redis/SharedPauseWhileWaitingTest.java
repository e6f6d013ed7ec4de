package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.internal.NanoClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A call already sleeping for a shared permit (Redis booked it one due later) while a server
 * pause of its key is told to the store, by another replica (another store on the same Redis)
 * or by another call of its own while Redis is unavailable. README (A rate limit shared through
 * Redis): as with the local bucket, it does not go inside the pause, nor with the permit the
 * pause leaves ready; it books again when the pause ends, in line. The pause is told from the
 * waiter's own first sleep (a real clock, as Redis's is, with a hook), so it comes while it waits.
 */
class SharedPauseWhileWaitingTest {
  private static final long S = TimeUnit.SECONDS.toNanos(1);

  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final Arrivals arrivals = new Arrivals();
  private final HookClock clock = new HookClock();
  private final List<String> events = new CopyOnWriteArrayList<>();
  // One per 2 s, burst 1: a call after one that emptied the bucket waits up to 2 s, which the
  // steps between them (on a loaded machine) must not use up.
  private final RateLimit limit = RateLimit.per(1, Duration.ofSeconds(2)).burst(1);
  private ApiClient client;

  @BeforeEach
  void setUp() {
    server.setDispatcher(arrivals);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }

  private RedisRateLimitStore store() {
    return stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofMinutes(1)));
  }

  private ApiClient client(RedisRateLimitStore store) {
    client = ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .rateLimit(limit.store(store))
        .addListener(new CallListener() {
          @Override
          public void rateLimitWaited(CallContext call, String key, Duration waited) {
            events.add("waited");
          }

          @Override
          public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
            events.add("rejected");
          }
        })
        .build();
    return client;
  }

  private String key() {
    return server.getHostName() + ":" + server.getPort();
  }

  @Test
  void aWaiterIsHeldByAPauseAnotherReplicaToldRedisWhileItSlept() throws Exception {
    ApiClient a = client(store());
    RedisRateLimitStore replicaB = store();
    assertEquals(0, replicaB.reserve(key(), limit, 1, 0)); // replica B empties the bucket
    long[] told = new long[1];
    clock.onFirstSleep = () -> {
      // While A's call sleeps for its permit, replica B gets a 429 with Retry-After: 3.
      told[0] = System.nanoTime();
      assertTrue(replicaB.pause(key(), limit, 3 * S) > 0);
    };

    assertEquals("ok", a.get("/a").deadline(Duration.ofSeconds(20)).execute(String.class));

    long sentAfter = arrivals.sorted().get(0).nanos() - told[0];
    assertTrue(sentAfter >= 3 * S, "the waiter was sent " + sentAfter / 1e6 + " ms after the "
        + "other replica told Redis of a 3 s pause of its key: inside it");
    assertEquals(List.of("waited"), events);
  }

  @Test
  void aWaiterThatAPauseHoldsPastItsDeadlineIsRefusedHavingWaited() throws Exception {
    ApiClient a = client(store());
    RedisRateLimitStore replicaB = store();
    assertEquals(0, replicaB.reserve(key(), limit, 1, 0));
    clock.onFirstSleep = () -> assertTrue(replicaB.pause(key(), limit, 5 * S) > 0);

    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> a.get("/a").deadline(Duration.ofSeconds(3)).execute(String.class));

    assertEquals(0, e.attempts());
    // The whole wait: what it slept, then the pause's end (about 5 s after it began).
    assertTrue(e.wouldWait().compareTo(Duration.ofSeconds(4)) > 0, e.getMessage());
    assertTrue(e.getMessage().contains("left before the deadline"), e.getMessage());
    assertEquals(0, arrivals.size());
    assertEquals(List.of("waited", "rejected"), events);
  }

  @Test
  void aWaiterIsHeldByAPauseToldToTheFallbackWhileRedisIsUnavailable() throws Exception {
    RedisRateLimitStore store = store();
    redis.stop();
    ApiClient a = client(store);
    long[] told = new long[1];
    clock.onFirstSleep = () -> {
      // The fallback starts empty: the first call waits 2 s. Meanwhile another call of this
      // client gets a 429 with Retry-After: 3, which only the fallback can hold.
      told[0] = System.nanoTime();
      assertTrue(store.pause(key(), limit, 3 * S) > 0);
      assertTrue(store.degraded());
    };

    assertEquals("ok", a.get("/only").deadline(Duration.ofSeconds(20)).execute(String.class));

    long sentAfter = arrivals.sorted().get(0).nanos() - told[0];
    assertTrue(sentAfter >= 3 * S, "the waiter was sent " + sentAfter / 1e6 + " ms after a 3 s"
        + " pause of its key was told to the fallback: inside it");
  }

  /**
   * Held by a pause, a waiter books again when it ends (heldFor): its first booking lapses
   * inside the pause. Pushed back with the pause instead, it stayed in line ahead of the new
   * one, and every held waiter was charged twice: after a pause holding {@code n} waiters, the
   * key sent nothing for {@code n} more intervals (a pause at saturation cost twice its length).
   */
  @Test
  void waitersHeldByAPauseAreChargedOnceWhenTheyBookAgain() throws Exception {
    // 1/s, burst 1 (a second apart, which the steps between must not use up): replica B
    // empties the bucket, and three calls of replica A book the next permits, due about 1, 2
    // and 3 s later.
    RateLimit onePerSecond = RateLimit.perSecond(1).burst(1);
    long interval = S;
    RedisRateLimitStore replicaA = store();
    RedisRateLimitStore replicaB = store();
    assertEquals(0, replicaB.reserve(key(), onePerSecond, 1, 0));
    for (int i = 1; i <= 3; i++) {
      assertTrue(replicaA.reserve(key(), onePerSecond, 1, 10 * S) > 0, "waiter " + i);
    }
    // B gets a 429 with Retry-After: 4 before the first is due: it holds all three.
    assertTrue(replicaB.pause(key(), onePerSecond, 4 * S) > 0);
    long hold = replicaA.heldFor(key(), onePerSecond, 0, 10 * S);
    assertTrue(hold > 0, "not held: " + hold);
    NanoClock.SYSTEM.sleepNanos(hold);

    // At its end they book again: the first takes the permit the pause leaves, and a new call
    // comes three intervals later, after the other two (at most: time has passed since).
    long first = replicaA.reserve(key(), onePerSecond, 1, 10 * S);
    assertTrue(first < interval / 2, "the first held waiter waits " + first / 1e6 + " ms "
        + "after the pause: behind the bookings it made before it");
    assertTrue(replicaA.reserve(key(), onePerSecond, 1, 10 * S) >= 0);
    assertTrue(replicaA.reserve(key(), onePerSecond, 1, 10 * S) >= 0);
    long next = replicaB.reserve(key(), onePerSecond, 1, 10 * S);
    assertTrue(next < 3 * interval + interval / 2, "a new call waits " + next / 1e6 + " ms "
        + "after the pause, behind three waiters charged twice");
  }

  /** {@link NanoClock#SYSTEM}, running {@link #onFirstSleep} when a sleep first begins. */
  private static final class HookClock implements NanoClock {
    volatile Runnable onFirstSleep;

    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public void sleepNanos(long nanos) throws InterruptedException {
      Runnable r = onFirstSleep;
      onFirstSleep = null;
      if (r != null) {
        r.run();
      }
      NanoClock.SYSTEM.sleepNanos(nanos);
    }
  }
}
