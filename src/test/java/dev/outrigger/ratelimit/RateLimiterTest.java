package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.RateLimiter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The standalone limiter through its public API, on a nanosecond supplier moved by hand. */
class RateLimiterTest {
  private static final long MS = 1_000_000L;

  private final AtomicLong nanos = new AtomicLong(5_000_000_000L);

  private void advanceMillis(long ms) {
    nanos.addAndGet(ms * MS);
  }

  @Test
  void theContractExampleBehavesAsDocumented() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(3), nanos::get);
    assertTrue(limiter.tryAcquire(2));
    assertFalse(limiter.tryAcquire(2));
    assertFalse(limiter.tryAcquire(4));
    assertEquals(1, limiter.availablePermits());
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> limiter.acquire(2, Duration.ofMillis(50)));
    assertEquals(Duration.ofMillis(100), e.wouldWait());
    assertEquals(0, e.attempts());
    assertEquals(1, limiter.availablePermits());
    advanceMillis(100);
    assertEquals(Duration.ZERO, limiter.acquire(2, Duration.ofMillis(500)));
  }

  @Test
  void moreThanTheBurstIsRefusedAtOnceWithNoWaitThatCouldEverDo() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(3), nanos::get);
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> limiter.acquire(4, Duration.ofDays(1)));
    assertNull(e.wouldWait());
    assertTrue(e.getMessage().contains("exceed the burst"), e.getMessage());
    assertEquals(3, limiter.availablePermits());
  }

  /**
   * No wait is longer than 30 days, whatever the timeout: the refusal says so, not that the wait
   * was longer than a timeout it was not longer than.
   */
  @Test
  void aWaitRefusedForTheThirtyDayCapSaysSoWhateverTheTimeout() {
    RateLimiter limiter =
        RateLimiter.of(RateLimit.per(1, Duration.ofDays(365)).burst(1), nanos::get);
    assertTrue(limiter.tryAcquire());
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> limiter.acquire(Duration.ofDays(400)));
    assertEquals(Duration.ofDays(365), e.wouldWait());
    assertEquals("waiting for 1 permit(s) of " + limiter.limit() + " would take 31536000 s, "
        + "more than the longest wait a RateLimiter allows (30 days)", e.getMessage());
    RateLimitedException shorter = assertThrows(RateLimitedException.class,
        () -> limiter.acquire(Duration.ofDays(2)));
    assertTrue(shorter.getMessage().endsWith("more than the timeout of 172800 s"),
        shorter.getMessage());
  }

  /**
   * A negative timeout is zero: the refusal says so, and what timeout would have waited, rather
   * than only that a wait was longer than "-1000 ms".
   */
  @Test
  void aWaitRefusedForANegativeTimeoutSaysItWaitsForNothingAndWhatToPass() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(2).burst(1), nanos::get);
    assertTrue(limiter.tryAcquire());
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> limiter.acquire(Duration.ofSeconds(-1)));
    assertEquals(Duration.ofMillis(500), e.wouldWait());
    assertEquals("waiting for 1 permit(s) of " + limiter.limit() + " would take 500 ms, more "
        + "than the timeout of -1000 ms: a negative timeout waits for nothing, as zero does; pass "
        + "a timeout of at least 500 ms to wait for them", e.getMessage());
    // Beyond the 30-day cap no timeout would do: the message does not offer one.
    RateLimiter yearly =
        RateLimiter.of(RateLimit.per(1, Duration.ofDays(365)).burst(1), nanos::get);
    assertTrue(yearly.tryAcquire());
    RateLimitedException capped = assertThrows(RateLimitedException.class,
        () -> yearly.acquire(Duration.ofSeconds(-1)));
    assertEquals("waiting for 1 permit(s) of " + yearly.limit() + " would take 31536000 s, more "
        + "than the timeout of -1000 ms: a negative timeout waits for nothing, as zero does; and "
        + "no wait may be longer than the longest a RateLimiter allows (30 days)",
        capped.getMessage());
  }

  /**
   * The wait is written as other messages write time, cut to the millisecond; the timeout it
   * offers is rounded up, so that it is enough.
   */
  @Test
  void aRefusalWritesItsWaitInMillisecondsAndOffersATimeoutThatIsEnough() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(1), nanos::get);
    assertTrue(limiter.tryAcquire());
    nanos.addAndGet(300_000);
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> limiter.acquire(Duration.ofMillis(-1)));
    assertEquals(Duration.ofNanos(99_700_000), e.wouldWait());
    assertEquals("waiting for 1 permit(s) of " + limiter.limit() + " would take 99 ms, more "
        + "than the timeout of -1 ms: a negative timeout waits for nothing, as zero does; pass a "
        + "timeout of at least 100 ms to wait for them", e.getMessage());
  }

  @Test
  void permitsBelowOneAreRejectedNamingThem() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10));
    assertEquals("permits must be at least 1, but was 0", assertThrows(
        IllegalArgumentException.class, () -> limiter.tryAcquire(0)).getMessage());
    assertThrows(IllegalArgumentException.class, () -> limiter.acquire(-1, Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> limiter.tryAcquire("k", 0));
  }

  @Test
  void theDefaultClockIsSystemNanoTimeAndTheBucketStartsFull() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(1).burst(5));
    assertTrue(limiter.tryAcquire(5));
    assertFalse(limiter.tryAcquire());
  }

  @Test
  void waitersFollowTheSuppliedClockAndAreServedInArrivalOrder() throws Exception {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(1).burst(1), nanos::get);
    assertTrue(limiter.tryAcquire());
    BlockingQueue<String> done = new LinkedBlockingQueue<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      String name = "w" + i;
      threads.add(Thread.ofVirtual().start(() -> {
        limiter.acquire(Duration.ofSeconds(10));
        done.add(name);
      }));
      int queued = i + 1;
      awaitTrue(() -> limiter.availablePermits() == -queued);
    }
    for (int i = 0; i < 4; i++) {
      advanceMillis(1000);
      assertEquals("w" + i, done.poll(10, TimeUnit.SECONDS));
    }
    for (Thread t : threads) {
      t.join();
    }
  }

  @Test
  void anInterruptedAcquireEndsAsCancelledAndGivesItsPermitBack() throws Exception {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(1).burst(1), nanos::get);
    assertTrue(limiter.tryAcquire());
    BlockingQueue<Throwable> out = new LinkedBlockingQueue<>();
    Thread t = Thread.ofVirtual().start(() -> {
      try {
        limiter.acquire(Duration.ofSeconds(10));
        out.add(new AssertionError("acquired"));
      } catch (Throwable e) {
        out.add(e);
        out.add(new Throwable("interrupted=" + Thread.currentThread().isInterrupted()));
      }
    });
    awaitTrue(() -> limiter.availablePermits() == -1);
    t.interrupt();
    Throwable e = out.poll(10, TimeUnit.SECONDS);
    assertInstanceOf(CancellationException.class, e);
    assertInstanceOf(InterruptedException.class, e.getCause());
    assertEquals("interrupted=true", out.poll(10, TimeUnit.SECONDS).getMessage());
    assertEquals(0, limiter.availablePermits());
  }

  @Test
  void concurrentTryAcquireNeverGrantsMoreThanTheBucketHolds() throws Exception {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(1000).burst(100), nanos::get);
    AtomicInteger granted = new AtomicInteger();
    int threads = 8;
    for (int round = 0; round < 3; round++) {
      CountDownLatch start = new CountDownLatch(1);
      List<Thread> ts = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        ts.add(Thread.ofPlatform().start(() -> {
          try {
            start.await();
          } catch (InterruptedException e) {
            return;
          }
          for (int j = 0; j < 10_000; j++) {
            if (limiter.tryAcquire()) {
              granted.incrementAndGet();
            }
          }
        }));
      }
      start.countDown();
      for (Thread t : ts) {
        t.join();
      }
      advanceMillis(100);
    }
    // The burst, then twice 100 ms of refill at 1000/s; the clock never moved during a round.
    assertEquals(100 + 100 + 100, granted.get());
  }

  @Test
  void keysHaveTheirOwnBucketsAndOverrides() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(1).burst(1), nanos::get);
    assertTrue(limiter.tryAcquire("a", 1));
    assertFalse(limiter.tryAcquire("a", 1));
    assertTrue(limiter.tryAcquire("b", 1));
    assertTrue(limiter.tryAcquire());
    limiter.reconfigure("a", RateLimit.perSecond(10).burst(2));
    assertEquals(RateLimit.perSecond(10).burst(2), limiter.limit("a"));
    advanceMillis(100);
    assertTrue(limiter.tryAcquire("a", 1));
    assertFalse(limiter.tryAcquire("b", 1));
    limiter.removeOverride("a");
    assertEquals(RateLimit.perSecond(1).burst(1), limiter.limit("a"));
  }

  @Test
  void aPauseStopsAKeyUntilItEnds() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(5), nanos::get);
    limiter.pause("k", Duration.ofSeconds(2));
    assertFalse(limiter.tryAcquire("k", 1));
    assertTrue(limiter.tryAcquire("other", 1));
    advanceMillis(2000);
    assertTrue(limiter.tryAcquire("k", 1));
    limiter.pause(Duration.ofMillis(300));
    assertFalse(limiter.tryAcquire());
    advanceMillis(300);
    assertTrue(limiter.tryAcquire());
  }

  @Test
  void reconfigurationAtRunTimeKeepsTheBucketsState() {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(10), nanos::get);
    assertTrue(limiter.tryAcquire(7));
    limiter.reconfigure(RateLimit.perSecond(100).burst(20));
    assertEquals(3, limiter.availablePermits());
    assertEquals(RateLimit.perSecond(100).burst(20), limiter.limit());
    advanceMillis(100);
    assertEquals(13, limiter.availablePermits());
    assertTrue(limiter.toString().startsWith("RateLimiter[RateLimit[100.0/s, burst 20]"));
  }

  // Lowering a key to a very slow rate while permits are owed to a waiter: README (Changing
  // limits while running) says the bucket keeps what it owes to waiters and that nobody new is
  // served before a waiter that booked under the old rate.
  @Test
  void aKeyLoweredToAVerySlowRateWhileAWaiterIsOwedPermitsServesNobodyNewBeforeIt()
      throws Exception {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(10), nanos::get);
    assertTrue(limiter.tryAcquire("tenant", 10));
    // A waiter books the next 10 permits, due in 1 s.
    CompletableFuture<Duration> waiter = CompletableFuture.supplyAsync(
        () -> limiter.acquire("tenant", 10, Duration.ofSeconds(5)),
        r -> Thread.ofVirtual().start(r));
    awaitTrue(() -> limiter.availablePermits("tenant") == -10);

    // The operator all but blocks the tenant: one permit every 10,000 days.
    limiter.reconfigure("tenant", RateLimit.per(1, Duration.ofDays(10_000)).burst(1));
    boolean newcomerServed = limiter.tryAcquire("tenant", 1);

    // Let the waiter go at its time before asserting, so that no thread is left waiting.
    nanos.addAndGet(1000 * MS);
    assertEquals(Duration.ofSeconds(1), waiter.get(10, TimeUnit.SECONDS));
    assertFalse(newcomerServed,
        "a newcomer was served before the waiter that booked under the old rate");
    assertFalse(limiter.tryAcquire("tenant", 1), "the debt at the new rate is still owed");
  }

  private static void awaitTrue(BooleanSupplier condition) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - end > 0) {
        throw new AssertionError("condition not met within 10 s");
      }
      Thread.yield();
    }
  }

  @Test
  void reconfiguringKeepsEachQuotaWhateverItsPlaceInTheList() {
    RateLimit perMinute = RateLimit.per(5, Duration.ofMinutes(1));
    RateLimiter dropped = RateLimiter.of(RateLimit.perSecond(10).and(perMinute), nanos::get);
    RateLimiter reordered = RateLimiter.of(RateLimit.perSecond(10).and(perMinute), nanos::get);
    assertTrue(dropped.tryAcquire(5));
    assertTrue(reordered.tryAcquire(5));
    advanceMillis(1000);
    // The per-second cap dropped, or the same two bands listed the other way round: the
    // minute's quota, used up, stays used up.
    dropped.reconfigure(perMinute);
    reordered.reconfigure(perMinute.and(RateLimit.perSecond(20)));
    advanceMillis(1000);
    assertFalse(dropped.tryAcquire());
    assertFalse(reordered.tryAcquire());
    // A quota of a new period starts full, as a new one does.
    RateLimiter added = RateLimiter.of(RateLimit.perSecond(10), nanos::get);
    assertTrue(added.tryAcquire(10));
    added.reconfigure(RateLimit.perSecond(10).and(RateLimit.per(100, Duration.ofHours(1))));
    assertFalse(added.tryAcquire(), "the per-second band keeps what it used");
    advanceMillis(1000);
    assertTrue(added.tryAcquire(10));
  }

  @Test
  void aPeriodOverFiftyYearsGetsTheBurstThatRefillsInFifty() {
    RateLimit century = RateLimit.per(10, Duration.ofDays(365L * 100));
    assertEquals(5, century.burst(), "a permit every 3,650 days: 5 refill in 50 years");
    RateLimiter l = RateLimiter.of(century, nanos::get);
    assertTrue(l.tryAcquire(5));
    assertFalse(l.tryAcquire(), "no 11th permit from a wrapped refill");
  }

  @Test
  void aNullKeyIsRefusedByEveryKeyedMethodAlike() {
    // acquire(null, ...) used to take from the unkeyed bucket where tryAcquire(null, ...) threw.
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(3), () -> 0L);
    assertThrows(NullPointerException.class, () -> limiter.tryAcquire(null, 1));
    assertThrows(NullPointerException.class,
        () -> limiter.acquire(null, 1, Duration.ofSeconds(1)));
    assertTrue(limiter.tryAcquire(3), "the unkeyed bucket was left full");
  }
}
