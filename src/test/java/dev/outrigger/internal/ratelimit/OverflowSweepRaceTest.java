package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A key that uses the overflow bucket while a sweep finds it full and clears the record of its
 * keys: the use is not forgotten, so the key's own bucket later starts where the shared one
 * stands, not full. The sweep's hook runs the use between the sweep's check and its clear.
 *
 * <p>One scenario: 10/s, burst 20, three keys. At t0 "a1".."a3" empty their own buckets (full
 * again at t0 + 2 s) and "x" takes 1 from the overflow bucket. At t0 + 1 s a new key's sweep
 * finds the shared bucket full again and, between its check and its clear, "b" uses it. At
 * t0 + 2 s the next sweep drops "a1".."a3" and "b" gets a bucket of its own.
 */
class OverflowSweepRaceTest {
  private static final long S = 1_000_000_000L;

  private final ManualClock clock = new ManualClock();
  private final long t0 = clock.nanoTime();
  private final RealRateLimiter l =
      new RealRateLimiter(RateLimit.perSecond(10).burst(20).maxKeys(3), t0);
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private Thread waiter;

  @AfterEach
  void noWaiterLeftBehindOrFailed() throws InterruptedException {
    if (waiter != null) {
      waiter.interrupt();
      waiter.join(TimeUnit.SECONDS.toMillis(10));
      assertFalse(waiter.isAlive(), "the waiter is still running");
    }
    assertNull(failure.get(), () -> "the waiter failed: " + failure.get());
  }

  /** Runs the scenario with {@code use} (of "b", at t0 + 1 s) during the first sweep. */
  private void useDuringSweep(Runnable use) {
    useDuringSweep(0, use);
  }

  /** The same, with {@code touched} more keys that used the overflow bucket at t0. */
  private void useDuringSweep(int touched, Runnable use) {
    for (String a : new String[] {"a1", "a2", "a3"}) {
      assertTrue(l.tryAcquire(a, 20, t0));
    }
    for (int i = 0; i < touched; i++) {
      assertFalse(l.tryAcquire("k" + i, 21, t0)); // touch the overflow, take nothing
    }
    assertTrue(l.tryAcquire("x", 1, t0));      // "x" uses the overflow bucket: full at t0 + 0.1 s
    boolean[] ran = {false};
    l.afterOverflowCheck = () -> {
      l.afterOverflowCheck = null;
      ran[0] = true;
      use.run();
    };
    clock.advance(S);
    l.tryAcquire("c", 1, clock.nanoTime());    // a new key: the sweep is due
    assertTrue(ran[0], "the sweep found the overflow bucket full and cleared its record");
    clock.advance(S);                          // "a1".."a3" are full: the next sweep drops them
  }

  @Test
  void aKeyThatTookFromTheOverflowBucketDuringASweepStartsWhereItStands() {
    useDuringSweep(() -> assertTrue(l.tryAcquire("b", 20, clock.nanoTime())));
    long t2 = clock.nanoTime();
    // The shared bucket holds 10 at t0 + 2 s (b took 20 a second ago); b's starts there.
    assertTrue(l.tryAcquire("b", 1, t2));
    assertEquals(9, l.available("b", t2), "b started full after emptying the shared bucket");
    // The sweep still forgets what it should: x's take was repaid before it, and "fresh"
    // never used the shared bucket. Both start full.
    assertTrue(l.tryAcquire("x", 20, t2), "x's repaid take was held against it");
    assertTrue(l.tryAcquire("fresh", 20, t2), "a key that never used the shared bucket");
    assertEquals(3, l.keyCount());
  }

  @Test
  void aKeyThatTookFromTheOverflowBucketDuringASweepWhenTheRecordIsFullStartsWhereItStands() {
    // 4096 keys fill the record of keys: b's use is one that no record names.
    useDuringSweep(4096, () -> assertTrue(l.tryAcquire("b", 20, clock.nanoTime())));
    long t2 = clock.nanoTime();
    assertTrue(l.tryAcquire("b", 1, t2));
    assertEquals(9, l.available("b", t2),
        "b, unrecorded (the record was full), started full after emptying the shared bucket");
  }

  @Test
  void aKeyThatReservedInTheOverflowBucketDuringASweepStartsWhereItStands() throws Exception {
    useDuringSweep(() -> {
      long t1 = clock.nanoTime();
      assertTrue(l.tryAcquire("y", 20, t1));    // "y" empties the shared bucket
      // "b" reserves 10 behind it (a wait of 1 s) and sleeps on the clock.
      waiter = Thread.ofVirtual().start(() -> {
        try {
          assertTrue(RealRateLimiter.acquired(l.acquire("b", 10, 10 * S, clock)));
        } catch (Throwable e) {
          failure.set(e);
        }
      });
      try {
        clock.awaitSleepers(1);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    });
    waiter.join(TimeUnit.SECONDS.toMillis(10));        // woken at t0 + 2 s: served
    assertFalse(waiter.isAlive(), "b's wait did not end when its permits came");
    assertNull(failure.get(), () -> "b's wait failed: " + failure.get());
    // 30 permits taken from the shared bucket at t0 + 1 s: none left at t0 + 2 s, nor in b's.
    assertFalse(l.tryAcquire("b", 1, clock.nanoTime()),
        "b started full after reserving from the shared bucket");
  }

  @Test
  void aServerPauseTakenInTheOverflowBucketDuringASweepGoesWithTheKey() {
    useDuringSweep(() -> assertEquals(30 * S, l.pause("b", clock.nanoTime(), 30 * S)));
    assertFalse(l.tryAcquire("b", 1, clock.nanoTime()),
        "b was granted 1 s into a 30 s server pause taken in the shared bucket");
  }
}
