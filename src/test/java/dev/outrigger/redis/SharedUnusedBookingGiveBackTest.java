package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.NanoClock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A call whose shared wait Redis booked and that will not use it, refused once the answer
 * arrived (the round trip left less of its deadline than the wait) or interrupted in its sleep,
 * gives the booking back when nothing was booked after it, as the local bucket gives back a
 * reservation; it used to stay in line, and the key lost that permit for nobody. The round trip
 * is made slow on the client's clock, moved by hand.
 */
class SharedUnusedBookingGiveBackTest {
  private static final long M = TimeUnit.MINUTES.toNanos(1);

  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  // One per 10 minutes, burst 1: a call after one that emptied the bucket waits about 10 minutes
  // (less the real time between them, which building a client takes some of); minutes, so that
  // no step of the test, however slow, moves a wait across a bound asserted.
  private final RateLimit limit = RateLimit.per(1, Duration.ofMinutes(10)).burst(1);
  private final FakeClock clock = new FakeClock();

  private RedisRateLimitStore store() {
    return stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofMinutes(1)));
  }

  private String key() {
    return server.getHostName() + ":" + server.getPort();
  }

  /**
   * Refuses a call of a client on {@code store} whose round trip takes 10 of its 15 minutes,
   * after {@code meanwhile} ran as Redis answered: the wait it booked (about 10 minutes) no
   * longer fits.
   */
  private void refused(RedisRateLimitStore store, Runnable meanwhile) {
    RateLimitStore slow = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit l, int permits, long maxWaitNanos)
          throws InterruptedException {
        long r = store.reserve(key, l, permits, maxWaitNanos);
        meanwhile.run();
        clock.advanceMillis(TimeUnit.MINUTES.toMillis(10));
        return r;
      }

      @Override
      public long pause(String key, RateLimit l, long pauseNanos) {
        return store.pause(key, l, pauseNanos);
      }

      @Override
      public void giveBack(String key, RateLimit l, int permits, long waitNanos) {
        store.giveBack(key, l, permits, waitNanos);
      }
    };
    try (ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .rateLimit(limit.store(slow))
        .build()) {
      assertThrows(RateLimitedException.class,
          () -> client.get("/x").deadline(Duration.ofMinutes(15)).execute(String.class));
    }
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void aWaitRefusedAfterTheRoundTripGivesItsPermitBack() throws Exception {
    RedisRateLimitStore store = store();
    assertEquals(0, store.reserve(key(), limit, 1, 0)); // empties the bucket

    refused(store, () -> { });

    // Asked on the same connection, after the give-back: the next permit is the refused one.
    long next = store.reserve(key(), limit, 1, 60 * M);
    assertTrue(next > 0 && next <= 10 * M, "the next call waits " + next / 1e9 + " s: "
        + "behind the refused call's booking");
  }

  @Test
  void aWaitInterruptedInItsSleepGivesItsPermitBack() throws Exception {
    RedisRateLimitStore store = store();
    assertEquals(0, store.reserve(key(), limit, 1, 0));
    NanoClock interrupting = new NanoClock() {
      @Override
      public long nanoTime() {
        return System.nanoTime();
      }

      @Override
      public void sleepNanos(long nanos) throws InterruptedException {
        throw new InterruptedException(); // interrupted as soon as it sleeps for its permit
      }
    };
    try (ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), interrupting)
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .rateLimit(limit.store(store))
        .build()) {
      assertThrows(TransportException.class,
          () -> client.get("/x").deadline(Duration.ofMinutes(15)).execute(String.class));
      Thread.interrupted();
    }

    long next = store.reserve(key(), limit, 1, 60 * M);
    assertTrue(next > 0 && next <= 10 * M, "the next call waits " + next / 1e9 + " s: "
        + "behind the interrupted call's booking");
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void aWaitRefusedAfterAnotherReplicaBookedBehindItKeepsItsBooking() throws Exception {
    RedisRateLimitStore store = store();
    RedisRateLimitStore replicaB = store();
    assertEquals(0, store.reserve(key(), limit, 1, 0));
    long[] bWaits = new long[1];

    refused(store, () -> {
      try {
        bWaits[0] = replicaB.reserve(key(), limit, 1, 60 * M);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    });

    assertTrue(bWaits[0] > 15 * M, "B booked behind the call: " + bWaits[0] / 1e9 + " s");
    // Given back under B's booking, it would make room for a third call beside B's.
    long next = store.reserve(key(), limit, 1, 60 * M);
    assertTrue(next > 25 * M, "the next call waits " + next / 1e9 + " s: beside the "
        + "booking of the other replica, which the give-back undid");
  }

  @Test
  void aPermitGivenBackAfterAPauseIsNotGrantedInsideIt() throws Exception {
    RedisRateLimitStore store = store();
    RedisRateLimitStore replicaB = store();
    assertEquals(0, store.reserve(key(), limit, 1, 0));

    // A 15 minute pause, told as Redis answers the call, ends before the call's booking does
    // (due in 10, its bucket full again in 20): the booking stays where it is, and the pause
    // leaves one permit at its end.
    refused(store, () -> assertTrue(replicaB.pause(key(), limit, 15 * M) > 0));

    long next = store.reserve(key(), limit, 1, 60 * M);
    assertTrue(next > 14 * M, "the next call waits " + next / 1e9 + " s: granted inside the "
        + "pause, with the permit given back");
  }
  @Test
  void aGiveBackLeavesABandwidthThatDidNotWaitAsItFoundIt() throws Exception {
    // Two permits per 20 min, and a slower bandwidth with a large burst (1 an hour, 100 stored)
    // that the first never empties here: only the first makes a call wait.
    RateLimit twoBands = RateLimit.per(1, Duration.ofMinutes(10)).burst(2)
        .and(RateLimit.per(1, Duration.ofMinutes(60)).burst(100));
    RedisRateLimitStore store = store();
    assertEquals(0, store.reserve(key(), twoBands, 2, 0)); // empties the first bandwidth
    long booked = store.reserve(key(), twoBands, 1, 60 * M);
    assertTrue(booked > 0, "booked in line: " + booked);

    store.giveBack(key(), twoBands, 1, booked);

    // As before the booking: two permits once the first bandwidth refilled (20 min), the slower
    // one with 98 left. The give-back used to raise the slower one to a single permit at the
    // key's first use (read as a pause's end), so two permits waited a whole hour's interval.
    long two = store.reserve(key(), twoBands, 2, 0);
    assertTrue(two < 0 && -two <= 20 * M, "two permits would wait " + -two / 1e9 + " s");
  }
}
