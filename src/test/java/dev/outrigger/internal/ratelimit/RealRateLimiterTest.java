package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Waiters, keys, server pauses and reconfiguration, with a clock the test moves by hand. */
class RealRateLimiterTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final ManualClock clock = new ManualClock();
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  @AfterEach
  void noWaiterLeftBehindOrFailed() throws InterruptedException {
    for (Thread t : threads) {
      t.interrupt();
      t.join(TimeUnit.SECONDS.toMillis(10));
      assertFalse(t.isAlive(), t + " still running");
    }
    assertNull(failure.get(), () -> "a waiter failed: " + failure.get());
  }

  private long now() {
    return clock.nanoTime();
  }

  /** Starts a virtual thread acquiring {@code n} permits of {@code key}; its result goes to out. */
  private void waiter(RealRateLimiter l, String key, int n, long maxWait, String name,
      BlockingQueue<String> out) {
    Thread t = Thread.ofVirtual().name(name).start(() -> {
      try {
        long r = l.acquire(key, n, maxWait, clock);
        out.add(RealRateLimiter.acquired(r) ? name : name + " refused");
      } catch (InterruptedException e) {
        out.add(name + " interrupted");
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      }
    });
    threads.add(t);
  }

  private static String next(BlockingQueue<String> q) throws InterruptedException {
    return q.poll(10, TimeUnit.SECONDS);
  }

  @Test
  void waitersAreServedInArrivalOrderOnePerInterval() throws InterruptedException {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), now());
    assertTrue(l.tryAcquire("k", 1, now()));
    BlockingQueue<String> done = new LinkedBlockingQueue<>();
    for (int i = 0; i < 5; i++) {
      waiter(l, "k", 1, 10 * S, "w" + i, done);
      clock.awaitSleepers(i + 1);
    }
    assertEquals(-5, l.available("k", now()));
    // A newcomer cannot jump the queue.
    assertFalse(l.tryAcquire("k", 1, now()));
    for (int i = 0; i < 5; i++) {
      clock.advanceMillis(999);
      assertEquals(4 - i + 1, waiting(l));
      clock.advanceMillis(1);
      assertEquals("w" + i, next(done));
    }
    assertTrue(done.isEmpty());
  }

  /** How many permits are promised to waiters. */
  private long waiting(RealRateLimiter l) {
    return -l.available("k", now());
  }

  @Test
  void aLargerRequestQueuesBehindSmallerOnesAndWaitsForAllItsPermits() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(3), now());
    assertTrue(l.tryAcquire("k", 3, now()));
    BlockingQueue<String> done = new LinkedBlockingQueue<>();
    waiter(l, "k", 1, 10 * S, "one", done);
    clock.awaitSleepers(1);
    waiter(l, "k", 3, 10 * S, "three", done);
    clock.awaitSleepers(2);
    clock.advanceMillis(100);
    assertEquals("one", next(done));
    // The first permit came at 100 ms; all three more are refilled at 400 ms.
    clock.advanceMillis(299);
    clock.awaitSleepers(1);
    assertTrue(done.isEmpty());
    clock.advanceMillis(1);
    assertEquals("three", next(done));
  }

  @Test
  void aWaitThatCannotFitFailsAtOnceBehindAQueueAndTakesNoPlaceInIt() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), now());
    assertTrue(l.tryAcquire("k", 1, now()));
    BlockingQueue<String> done = new LinkedBlockingQueue<>();
    waiter(l, "k", 1, 10 * S, "first", done);
    clock.awaitSleepers(1);
    // The next permit is 2 s away: a 1.5 s budget is refused without waiting or consuming.
    assertEquals(-2 * S, l.acquire("k", 1, 1500 * MS, clock));
    assertEquals(-1, l.available("k", now()));
    waiter(l, "k", 1, 10 * S, "second", done);
    clock.awaitSleepers(2);
    clock.advanceMillis(1000);
    assertEquals("first", next(done));
    clock.advanceMillis(1000);
    assertEquals("second", next(done));
  }

  @Test
  void anInterruptedWaiterGivesItsPermitBackWhenNobodyQueuedBehindIt() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), now());
    assertTrue(l.tryAcquire("k", 1, now()));
    BlockingQueue<String> done = new LinkedBlockingQueue<>();
    waiter(l, "k", 1, 10 * S, "w", done);
    clock.awaitSleepers(1);
    assertEquals(-1, l.available("k", now()));
    threads.get(0).interrupt();
    assertEquals("w interrupted", next(done));
    assertEquals(0, l.available("k", now()));
    clock.advanceMillis(1000);
    assertTrue(l.tryAcquire("k", 1, now()));
  }

  @Test
  void keysHaveIndependentBuckets() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(2), now());
    assertTrue(l.tryAcquire("a", 2, now()));
    assertFalse(l.tryAcquire("a", 1, now()));
    assertTrue(l.tryAcquire("b", 2, now()));
    assertTrue(l.tryAcquire(null, 2, now()));
    assertEquals(2, l.keyCount());
    assertEquals(2, l.available("never-used", now()));
  }

  @Test
  void fullBucketsAreDroppedLazilyWhenANewKeyArrives() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(2), now());
    assertTrue(l.tryAcquire("a", 1, now()));
    assertTrue(l.tryAcquire("b", 2, now()));
    assertEquals(2, l.keyCount());
    clock.advanceMillis(1000);
    // "a" is full again (and dropped), "b" still owes one permit (and stays).
    assertTrue(l.tryAcquire("c", 1, now()));
    assertEquals(2, l.keyCount());
    assertEquals(1, l.available("b", now()));
    assertEquals(2, l.available("a", now()));
  }

  @Test
  void keysBeyondTheBoundShareAnOverflowBucketUntilASweepMakesRoom() {
    RealRateLimiter l =
        new RealRateLimiter(RateLimit.perSecond(1).burst(2).maxKeys(2), now());
    assertTrue(l.tryAcquire("a", 1, now()));
    assertTrue(l.tryAcquire("b", 1, now()));
    assertTrue(l.tryAcquire("c", 1, now()));
    assertTrue(l.tryAcquire("d", 1, now()));
    // c and d shared the overflow bucket, which is now empty; the table never grew past 2.
    assertFalse(l.tryAcquire("e", 1, now()));
    assertEquals(2, l.keyCount());
    clock.advanceMillis(1000);
    // a and b have refilled; the sweep drops them and e gets a bucket of its own, which starts
    // where the shared bucket stands (one permit back of two): e may have used it.
    assertFalse(l.tryAcquire("e", 2, now()));
    assertTrue(l.tryAcquire("e", 1, now()));
    assertEquals(1, l.keyCount());
    assertFalse(l.tryAcquire("e", 1, now()));
    clock.advanceMillis(2000);
    assertTrue(l.tryAcquire("e", 2, now()));
  }

  @Test
  void aServerPauseGrantsNothingUntilItEndsThenOnePermitThenTheRate() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(5), now());
    assertEquals(2 * S, l.pause("k", now(), 2 * S));
    assertFalse(l.tryAcquire("k", 1, now()));
    clock.advanceMillis(1999);
    assertFalse(l.tryAcquire("k", 1, now()));
    assertEquals(S / 1000, l.pausedForNanos("k", now()));
    clock.advanceMillis(1);
    assertTrue(l.tryAcquire("k", 1, now()));
    assertFalse(l.tryAcquire("k", 1, now()));
    clock.advanceMillis(100);
    assertTrue(l.tryAcquire("k", 1, now()));
    // Other keys were never paused.
    assertTrue(l.tryAcquire("other", 5, now()));
  }

  @Test
  void overlappingPausesDoNotAddUp() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(5), now());
    assertEquals(2 * S, l.pause("k", now(), 2 * S));
    assertEquals(0, l.pause("k", now(), 2 * S));
    clock.advanceMillis(1000);
    assertEquals(S, l.pause("k", now(), 2 * S));
    clock.advanceMillis(1999);
    assertFalse(l.tryAcquire("k", 1, now()));
    clock.advanceMillis(1);
    assertTrue(l.tryAcquire("k", 1, now()));
  }

  @Test
  void aPauseIsCutToTheMaximumPause() {
    RealRateLimiter l = new RealRateLimiter(
        RateLimit.perSecond(10).maxPause(Duration.ofSeconds(5)), now());
    assertEquals(5 * S, l.pause("k", now(), 3600 * S));
    clock.advanceMillis(5000);
    assertTrue(l.tryAcquire("k", 1, now()));
  }

  @Test
  void aPausePushesWaitersBackInTheirOrderAndTheWaitResumesAfterIt() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), now());
    assertTrue(l.tryAcquire("k", 1, now()));
    BlockingQueue<String> done = new LinkedBlockingQueue<>();
    waiter(l, "k", 1, 20 * S, "w0", done);
    clock.awaitSleepers(1);
    waiter(l, "k", 1, 20 * S, "w1", done);
    clock.awaitSleepers(2);
    // Due at 1 s and 2 s; the server pauses the key for 3 s: they go at 4 s and 5 s.
    assertEquals(3 * S, l.pause("k", now(), 3 * S));
    clock.advanceMillis(3999);
    clock.awaitSleepers(2);
    assertTrue(done.isEmpty());
    clock.advanceMillis(1);
    assertEquals("w0", next(done));
    clock.advanceMillis(999);
    clock.awaitSleepers(1);
    assertTrue(done.isEmpty());
    clock.advanceMillis(1);
    assertEquals("w1", next(done));
    // And a newcomer comes after them, at the rate.
    assertFalse(l.tryAcquire("k", 1, now()));
    clock.advanceMillis(1000);
    assertTrue(l.tryAcquire("k", 1, now()));
  }

  @Test
  void aWaiterPushedBeyondItsLimitByAPauseIsRefused() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), now());
    assertTrue(l.tryAcquire("k", 1, now()));
    BlockingQueue<String> done = new LinkedBlockingQueue<>();
    waiter(l, "k", 1, 2 * S, "w", done);
    clock.awaitSleepers(1);
    l.pause("k", now(), 5 * S);
    clock.advanceMillis(1000);
    assertEquals("w refused", next(done));
  }

  @Test
  void reconfigurationKeepsStoredPermitsUpToTheNewBurst() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(10), now());
    assertTrue(l.tryAcquire("k", 4, now()));
    l.reconfigure(RateLimit.perSecond(10).burst(20), now());
    assertEquals(6, l.available("k", now()));
    l.reconfigure(RateLimit.perSecond(100).burst(3), now());
    assertEquals(3, l.available("k", now()));
    assertEquals(RateLimit.perSecond(100).burst(3), l.limit("k"));
    assertTrue(l.tryAcquire("k", 3, now()));
    clock.advanceMillis(10);
    assertTrue(l.tryAcquire("k", 1, now()));
    assertFalse(l.tryAcquire("k", 1, now()));
  }

  @Test
  void reconfigurationToAFasterRateKeepsWaitersAheadOfNewcomers() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), now());
    assertTrue(l.tryAcquire("k", 1, now()));
    BlockingQueue<String> done = new LinkedBlockingQueue<>();
    waiter(l, "k", 1, 20 * S, "w0", done);
    clock.awaitSleepers(1);
    waiter(l, "k", 1, 20 * S, "w1", done);
    clock.awaitSleepers(2);
    l.reconfigure(RateLimit.perSecond(10).burst(1), now());
    // Newcomers queue behind w1 (due at 2 s), then follow at the new rate.
    waiter(l, "k", 1, 20 * S, "w2", done);
    clock.awaitSleepers(3);
    assertFalse(l.tryAcquire("k", 1, now()));
    clock.advanceMillis(1000);
    assertEquals("w0", next(done));
    clock.advanceMillis(1000);
    assertEquals("w1", next(done));
    clock.advanceMillis(100);
    assertEquals("w2", next(done));
    clock.advanceMillis(100);
    assertTrue(l.tryAcquire("k", 1, now()));
  }

  @Test
  void reconfigurationToASlowerRateKeepsWhatIsOwed() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), now());
    assertTrue(l.tryAcquire("k", 1, now()));
    l.reconfigure(RateLimit.perSecond(1).burst(1), now());
    // The permit taken at the old rate still counts: the next is a full new interval away.
    clock.advanceMillis(999);
    assertFalse(l.tryAcquire("k", 1, now()));
    clock.advanceMillis(1);
    assertTrue(l.tryAcquire("k", 1, now()));
  }

  @Test
  void aKeyOverrideChangesOnlyThatKeyAndOutlivesItsBucket() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(1), now());
    l.reconfigure("vip", RateLimit.perSecond(100).burst(5), now());
    assertEquals(RateLimit.perSecond(100).burst(5), l.limit("vip"));
    assertEquals(RateLimit.perSecond(1).burst(1), l.limit("other"));
    assertTrue(l.tryAcquire("vip", 5, now()));
    assertTrue(l.tryAcquire("other", 1, now()));
    assertFalse(l.tryAcquire("other", 1, now()));
    clock.advanceMillis(2000);
    assertTrue(l.tryAcquire("new", 1, now()));
    // The sweep dropped the idle buckets of vip and other; vip's override stays.
    assertEquals(1, l.keyCount());
    assertEquals(5, l.available("vip", now()));
    assertTrue(l.tryAcquire("vip", 5, now()));
    // A global reconfiguration leaves the override alone.
    l.reconfigure(RateLimit.perSecond(2).burst(2), now());
    assertEquals(RateLimit.perSecond(100).burst(5), l.limit("vip"));
    assertEquals(0, l.available("vip", now()));
  }

  @Test
  void removingAnOverrideReturnsTheKeyToTheLimitKeepingItsState() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1).burst(3), now());
    l.reconfigure("k", RateLimit.perSecond(100).burst(10), now());
    assertTrue(l.tryAcquire("k", 8, now()));
    assertEquals(1, l.overrideCount());
    l.removeOverride("k", now());
    assertEquals(0, l.overrideCount());
    assertEquals(RateLimit.perSecond(1).burst(3), l.limit("k"));
    // 2 permits were left; they carry over (the new burst of 3 does not cut them).
    assertEquals(2, l.available("k", now()));
    l.removeOverride("k", now());
    l.removeOverride("never-overridden", now());
    assertEquals(2, l.available("k", now()));
  }

  @Test
  void reconfigurationCanAddAndRemoveBandwidths() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(10), now());
    assertTrue(l.tryAcquire("k", 4, now()));
    l.reconfigure(RateLimit.perSecond(10).burst(10)
        .and(RateLimit.per(8, Duration.ofMinutes(1))), now());
    // 6 left in the per-second bandwidth, a full 8 in the new per-minute one.
    assertEquals(6, l.available("k", now()));
    assertTrue(l.tryAcquire("k", 6, now()));
    clock.advanceMillis(1000);
    assertEquals(2, l.available("k", now()));
    l.reconfigure(RateLimit.perSecond(10).burst(10), now());
    assertEquals(10, l.available("k", now()));
  }

  @Test
  void anAdaptedRateIsALayerUnderTheCeilingThatNaNRemovesWhateverTheCeiling() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(100).burst(20), now());
    l.adapt("k", 70, now());
    assertEquals(RateLimit.perSecond(70).burst(20), l.limit("k"));
    l.reconfigure("k", RateLimit.perSecond(200).burst(20), now());
    assertEquals(RateLimit.perSecond(70).burst(20), l.limit("k"), "raised: the rate holds");
    l.adapt("k", Double.NaN, now());
    assertEquals(RateLimit.perSecond(200).burst(20), l.limit("k"), "done: the new ceiling");
    assertEquals(0, l.adaptedCount());
    assertEquals(1, l.overrideCount());
  }

  @Test
  void aNewKeyThatNeverSharedTheOverflowBucketStartsFullAndUnpaused() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).maxKeys(1), now());
    assertTrue(l.tryAcquire("a", 1, now()));   // "a" fills the table
    l.pause("noisy", now(), 60 * S);            // "noisy" is in the overflow bucket: 60 s
    clock.advanceMillis(2000);                  // sweep due; "a" is full again and dropped
    assertTrue(l.tryAcquire("fresh", 10, now()), "another key's pause, or its permits");
    assertFalse(l.tryAcquire("noisy", 1, now()), "noisy keeps its pause in a bucket of its own");
  }

  @Test
  void anAdaptedKeyKeepsTheServerPauseItTookInTheOverflowBucket() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).maxKeys(1), now());
    assertTrue(l.tryAcquire("a", 1, now()));
    assertTrue(l.tryAcquire("b", 1, now()));   // "b" is in the overflow bucket
    l.pause("b", now(), 30 * S);                // a 429 with Retry-After: 30 ...
    l.adapt("b", 5.0, now());                   // ... then the rate adapts to it
    clock.advanceMillis(10);
    assertFalse(l.tryAcquire("b", 1, now()), "b was granted 10 ms into a 30 s server pause");
  }
}
