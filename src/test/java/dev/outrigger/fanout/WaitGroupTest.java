package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Deadline;
import dev.outrigger.WaitGroup;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class WaitGroupTest {

  @Test
  void doneBelowZeroIsAnIllegalStateAndLeavesTheCountAtZero() {
    WaitGroup wg = new WaitGroup();
    IllegalStateException e = assertThrows(IllegalStateException.class, wg::done);
    assertTrue(e.getMessage().contains("below zero"), e.getMessage());
    assertEquals(0, wg.count());

    wg.add(1);
    wg.done();
    assertThrows(IllegalStateException.class, wg::done);
    assertEquals(0, wg.count());
  }

  @Test
  void addRejectsANegativeCountNamingIt() {
    WaitGroup wg = new WaitGroup();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> wg.add(-2));
    assertTrue(e.getMessage().contains("-2"), e.getMessage());
    assertEquals(0, wg.count());
  }

  @Test
  void addBeyondIntegerMaxIsRejected() {
    WaitGroup wg = new WaitGroup();
    wg.add(Integer.MAX_VALUE);
    assertThrows(IllegalStateException.class, () -> wg.add(1));
    assertEquals(Integer.MAX_VALUE, wg.count());
  }

  @Test
  void awaitRejectsAMissingTimeout() {
    WaitGroup wg = new WaitGroup();
    assertThrows(NullPointerException.class, () -> wg.await(null));
    assertThrows(NullPointerException.class, () -> wg.go(null));
  }

  // As CountDownLatch.await and RateLimiter.acquire take it: await(Duration.between(now, end))
  // just past the end must not throw.
  @Test
  void aNegativeTimeoutIsZero() throws InterruptedException {
    WaitGroup wg = new WaitGroup();
    assertTrue(wg.await(Duration.ofMillis(-1)), "nothing to wait for");
    wg.add(1);
    assertFalse(wg.await(Duration.ofMillis(-1)), "no time to wait");
    wg.done();
    assertTrue(wg.await(Duration.ofSeconds(-5)));
  }

  @Test
  void awaitReturnsAtOnceAtZero() throws InterruptedException {
    WaitGroup wg = new WaitGroup();
    wg.await();
    assertTrue(wg.await(Duration.ZERO));
  }

  @Test
  void awaitWithTimeoutReportsFalseWhileTasksAreOutstanding() throws InterruptedException {
    WaitGroup wg = new WaitGroup();
    wg.add(1);
    assertFalse(wg.await(Duration.ZERO));
    assertFalse(wg.await(Duration.ofMillis(20)));
    wg.done();
    assertTrue(wg.await(Duration.ZERO));
  }

  @Test
  void awaitWaitsForEveryTaskStartedWithGo() throws InterruptedException {
    WaitGroup wg = new WaitGroup();
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger finished = new AtomicInteger();
    AtomicInteger virtualThreads = new AtomicInteger();
    for (int i = 0; i < 100; i++) {
      wg.go(() -> {
        if (Thread.currentThread().isVirtual()) {
          virtualThreads.incrementAndGet();
        }
        awaitUninterruptibly(release);
        finished.incrementAndGet();
      });
    }
    assertEquals(100, wg.count());
    assertFalse(wg.await(Duration.ofMillis(10)));
    release.countDown();
    wg.await();
    assertEquals(100, finished.get());
    assertEquals(100, virtualThreads.get());
    assertEquals(0, wg.count());
  }

  @Test
  void aTaskThatThrowsIsStillCountedDown() throws InterruptedException {
    WaitGroup wg = new WaitGroup();
    AtomicReference<Throwable> uncaught = new AtomicReference<>();
    CountDownLatch reported = new CountDownLatch(1);
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
      uncaught.set(e);
      reported.countDown();
    });
    try {
      wg.go(() -> {
        throw new IllegalStateException("boom");
      });
      assertTrue(wg.await(Duration.ofSeconds(10)));
      assertTrue(reported.await(10, TimeUnit.SECONDS));
      assertEquals("boom", uncaught.get().getMessage());
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
  }

  @Test
  void goCarriesTheCallersDeadlineScopeIntoTheTask() throws InterruptedException {
    WaitGroup wg = new WaitGroup();
    AtomicReference<Deadline> seen = new AtomicReference<>();
    AtomicBoolean outsideHasNone = new AtomicBoolean();
    Deadline.within(Duration.ofSeconds(30), () -> {
      wg.go(() -> seen.set(Deadline.current().orElse(null)));
      return null;
    });
    wg.go(() -> outsideHasNone.set(Deadline.current().isEmpty()));
    wg.await();
    assertNotNull(seen.get(), "the task inside the scope saw no deadline");
    long left = seen.get().remainingNanos();
    assertTrue(left > 0 && left <= Duration.ofSeconds(30).toNanos(), "remaining " + left);
    assertTrue(outsideHasNone.get(), "a task started outside any scope saw a deadline");
  }

  @Test
  void isReusableOnceBackAtZero() throws InterruptedException {
    WaitGroup wg = new WaitGroup();
    for (int round = 0; round < 3; round++) {
      AtomicInteger ran = new AtomicInteger();
      for (int i = 0; i < 10; i++) {
        wg.go(ran::incrementAndGet);
      }
      wg.await();
      assertEquals(10, ran.get());
      assertEquals(0, wg.count());
    }
  }

  @Test
  void aWaiterOfAFinishedRoundIsReleasedEvenIfANewRoundStartsAtOnce() throws Exception {
    WaitGroup wg = new WaitGroup();
    wg.add(1);
    CountDownLatch waiting = new CountDownLatch(1);
    AtomicBoolean released = new AtomicBoolean();
    Thread waiter = Thread.ofVirtual().start(() -> {
      waiting.countDown();
      try {
        wg.await();
        released.set(true);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    waiting.await();
    awaitParked(waiter);
    // Round one ends and round two begins before the waiter can look at the count again.
    wg.done();
    wg.add(1);
    waiter.join(Duration.ofSeconds(10));
    assertTrue(released.get(), "the waiter of round one stayed blocked by round two");
    wg.done();
  }

  @Test
  void awaitIsInterruptible() throws Exception {
    WaitGroup wg = new WaitGroup();
    wg.add(1);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread waiter = Thread.ofVirtual().start(() -> {
      try {
        wg.await();
      } catch (InterruptedException e) {
        thrown.set(Thread.currentThread().isInterrupted() ? new AssertionError("still set") : e);
      }
    });
    waiter.interrupt();
    waiter.join(Duration.ofSeconds(10));
    assertTrue(thrown.get() instanceof InterruptedException, String.valueOf(thrown.get()));
    wg.done();
  }

  // The release and the interrupt race: the waiter is signalled (the count reached zero) while
  // the test holds the group's lock, then interrupted before it can take the lock back. It has
  // been released, so it returns normally, and the interrupt is not lost: its status is set.
  @Test
  void anInterruptThatLosesTheRaceToTheReleaseIsLeftSet() throws Exception {
    for (Duration timeout : new Duration[] {null, Duration.ofSeconds(30)}) {
      WaitGroup wg = new WaitGroup();
      wg.add(1);
      AtomicReference<Object> outcome = new AtomicReference<>();
      AtomicBoolean interruptedAfter = new AtomicBoolean();
      Thread waiter = Thread.ofVirtual().start(() -> {
        try {
          if (timeout == null) {
            wg.await();
            outcome.set("returned");
          } else {
            outcome.set(wg.await(timeout));
          }
        } catch (InterruptedException e) {
          outcome.set(e);
        }
        interruptedAfter.set(Thread.currentThread().isInterrupted());
      });
      awaitParked(waiter);
      ReentrantLock lock = lockOf(wg);
      lock.lock();
      try {
        wg.done(); // signals the waiter under the lock this thread holds (re-entered)
        waiter.interrupt();
      } finally {
        lock.unlock();
      }
      waiter.join();
      assertEquals(timeout == null ? "returned" : Boolean.TRUE, outcome.get(),
          "timeout " + timeout);
      assertTrue(interruptedAfter.get(), "the interrupt was lost, timeout " + timeout);
    }
  }

  // Go users expect the Java convention: a thread told to stop learns it at its next await,
  // even one with nothing to wait for, as CountDownLatch.await checks the flag on entry.
  @Test
  void anInterruptPendingOnEntryThrowsAsCountDownLatchDoesEvenAtZero() {
    for (int count = 0; count <= 1; count++) {
      WaitGroup wg = new WaitGroup();
      wg.add(count);
      CountDownLatch latch = new CountDownLatch(count);
      for (Duration timeout : new Duration[] {null, Duration.ofSeconds(10), Duration.ZERO,
          Duration.ofMillis(-1)}) {
        String what = "count " + count + ", timeout " + timeout;
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, timeout == null ? latch::await
            : () -> latch.await(timeout.toNanos(), TimeUnit.NANOSECONDS), "latch, " + what);
        assertFalse(Thread.interrupted(), "the latch left the interrupt set, " + what);
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class,
            timeout == null ? wg::await : () -> wg.await(timeout), what);
        assertFalse(Thread.interrupted(), "the interrupt status was not cleared, " + what);
      }
    }
  }

  @Test
  void concurrentAddAndDoneBalanceToZero() throws InterruptedException {
    WaitGroup wg = new WaitGroup();
    WaitGroup outer = new WaitGroup();
    for (int t = 0; t < 8; t++) {
      outer.go(() -> {
        for (int i = 0; i < 10_000; i++) {
          wg.add(1);
          wg.done();
        }
      });
    }
    outer.await();
    assertEquals(0, wg.count());
    assertTrue(wg.await(Duration.ZERO));
  }

  /** Waits until {@code t} is parked (in {@code await}); no sleeping, just yielding. */
  static void awaitParked(Thread t) {
    while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
      if (!t.isAlive()) {
        throw new AssertionError(t + " ended instead of waiting");
      }
      Thread.yield();
    }
  }

  private static ReentrantLock lockOf(WaitGroup wg) throws ReflectiveOperationException {
    Field f = WaitGroup.class.getDeclaredField("lock");
    f.setAccessible(true);
    return (ReentrantLock) f.get(wg);
  }

  private static void awaitUninterruptibly(CountDownLatch latch) {
    boolean interrupted = false;
    while (true) {
      try {
        latch.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
