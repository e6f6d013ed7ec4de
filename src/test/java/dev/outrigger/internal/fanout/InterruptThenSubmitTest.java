package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A waiter interrupted once every task has completed waits, uninterruptibly, for their threads'
 * last steps only: not for a task another thread submits meanwhile, whose code may run for good.
 * It returns the tasks it waited for, its interrupt status set. Meanwhile it sleeps until those
 * last steps end and wake it: parked without a timeout, not waking on a timer to look again.
 *
 * <p>The starter holds task 0's thread in its last steps (it has just started task 1) until the
 * waiter has swallowed its interrupt and waits, and another thread has submitted task 2, which
 * blocks until the test ends; it then notes how the waiter is parked, and lets task 0 end.
 * A task submitted meanwhile that ends at once does not end the wait either: the waiter waits
 * for the tasks it returns, not for as many ends.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InterruptThenSubmitTest {

  @Test
  void theWaitDoesNotTakeInATaskSubmittedMeanwhile() throws Exception {
    Thread waiter = Thread.currentThread();
    CountDownLatch queued = new CountDownLatch(1);
    CountDownLatch waiting = new CountDownLatch(1);
    CountDownLatch taskTwoRunning = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    AtomicReference<Thread.State> parkedAs = new AtomicReference<>();
    Batch<Integer> batch = new Batch<>(1, false, null, null);
    batch.submit(() -> {
      queued.await();
      return 0;
    });
    batch.starter = t -> {
      t.start();
      if (t.getName().equals("outrigger-fanout-1")) {
        try {
          waiting.await();
          taskTwoRunning.await();
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
        parkedAs.set(parked(waiter));
      }
    };
    batch.submit(() -> 1);
    queued.countDown();
    Thread submitter = Thread.ofPlatform().start(() -> {
      try {
        waiting.await();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      parked(waiter);
      batch.submit(() -> {
        taskTwoRunning.countDown();
        never.await();
        return 2;
      });
    });
    try {
      batch.nextCompleted(); // both completed, whatever the order
      batch.nextCompleted();
      waiting.countDown();
      Thread.currentThread().interrupt();
      assertEquals(2, batch.awaitAll(), "the tasks there when interrupted, every one ended");
      assertTrue(Thread.interrupted(), "the interrupt status is kept");
      assertEquals(1, batch.results(2).get(1).value());
      assertEquals(Thread.State.WAITING, parkedAs.get(),
          "the waiter for the last steps woke on a timer to look again");
    } finally {
      never.countDown();
      submitter.join();
      Thread.interrupted();
    }
  }

  /**
   * Task 2, submitted meanwhile, ends at once: with task 1 that makes two ends, as many as the
   * waiter returns, while task 0's thread is still in its last steps. The starter holds task 0's
   * thread there until task 2's thread has ended and the waiter has either returned or gone back
   * to sleep (in the batch's condition for ends), then lets it go.
   */
  @Test
  void aTaskSubmittedMeanwhileThatEndsDoesNotEndTheWait() throws Exception {
    Thread waiter = Thread.currentThread();
    CountDownLatch queued = new CountDownLatch(1);
    CountDownLatch waiting = new CountDownLatch(1);
    CountDownLatch returned = new CountDownLatch(1);
    CompletableFuture<Thread> taskTwo = new CompletableFuture<>();
    AtomicBoolean taskZeroLetGo = new AtomicBoolean();
    Batch<Integer> batch = new Batch<>(1, false, null, null);
    batch.submit(() -> {
      queued.await();
      return 0;
    });
    batch.starter = t -> {
      t.start();
      if (t.getName().equals("outrigger-fanout-1")) {
        try {
          waiting.await();
          taskTwo.get().join(); // its end counted
          while (returned.getCount() > 0 && !waitsForAnEnd(batch)) {
            Thread.yield();
          }
        } catch (Exception e) {
          throw new AssertionError(e);
        }
        taskZeroLetGo.set(true);
      }
    };
    batch.submit(() -> 1);
    queued.countDown();
    Thread submitter = Thread.ofPlatform().start(() -> {
      try {
        waiting.await();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      parked(waiter);
      batch.submit(() -> {
        taskTwo.complete(Thread.currentThread());
        return 2;
      });
    });
    try {
      batch.nextCompleted(); // both completed, whatever the order
      batch.nextCompleted();
      waiting.countDown();
      Thread.currentThread().interrupt();
      assertEquals(2, batch.awaitAll(), "the tasks there when interrupted");
      assertTrue(taskZeroLetGo.get(), "returned while task 0's thread was in its last steps");
      assertTrue(Thread.interrupted(), "the interrupt status is kept");
    } finally {
      Thread.interrupted(); // still set if an assertion failed: the join would throw it
      returned.countDown();
      submitter.join();
    }
  }

  /** Whether a thread sleeps in the batch's condition for ends (looked at under its lock). */
  private static boolean waitsForAnEnd(Batch<?> batch) throws ReflectiveOperationException {
    ReentrantLock lock = (ReentrantLock) field(batch, "lock");
    Condition allEnded = (Condition) field(batch, "allEnded");
    lock.lock();
    try {
      return lock.hasWaiters(allEnded);
    } finally {
      lock.unlock();
    }
  }

  private static Object field(Batch<?> batch, String name) throws ReflectiveOperationException {
    Field f = Batch.class.getDeclaredField(name);
    f.setAccessible(true);
    return f.get(batch);
  }

  /** Waits until {@code t} is parked, and returns how (with a timeout or without). */
  private static Thread.State parked(Thread t) {
    while (true) {
      Thread.State s = t.getState();
      if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
        return s;
      }
      Thread.yield();
    }
  }
}
