package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * With no progress listener, a task that has completed has run all of the caller's code: what its
 * thread has left (giving its slot back, starting the next queued task) is the batch's own.
 * A waiter with an interrupt pending once every task has completed gets the normal end of
 * join() and of the completion stream, not an InterruptedException (a CancellationException
 * from the stream), and keeps the interrupt status.
 *
 * <p>The starter holds task 0's thread in its last steps (it has just started task 1) until the
 * waiter is parked in the wait, so every task has completed but task 0 has not ended.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InterruptAfterEveryTaskCompletedTest {

  @AfterEach
  void clearInterrupt() {
    Thread.interrupted();
  }

  @Test
  void theCompletionStreamEndsNormally() throws Exception {
    CountDownLatch interrupting = new CountDownLatch(1);
    Batch<Integer> batch = taskZeroHeldInItsLastSteps(interrupting);
    assertNotNull(batch.nextCompleted());
    assertNotNull(batch.nextCompleted());

    interrupting.countDown();
    Thread.currentThread().interrupt();
    assertNull(batch.nextCompleted(), "every completion delivered: the stream ends");
    assertTrue(Thread.currentThread().isInterrupted(), "the pending interrupt was consumed");
  }

  @Test
  void joinReturnsTheResults() throws Exception {
    CountDownLatch interrupting = new CountDownLatch(1);
    Batch<Integer> batch = taskZeroHeldInItsLastSteps(interrupting);
    assertNotNull(batch.nextCompleted()); // both completed, whatever the order
    assertNotNull(batch.nextCompleted());

    interrupting.countDown();
    Thread.currentThread().interrupt();
    assertEquals(2, batch.awaitAll());
    assertTrue(Thread.currentThread().isInterrupted(), "the pending interrupt was consumed");
    assertEquals(0, batch.results().get(0).value());
    assertEquals(1, batch.results().get(1).value());
  }

  /**
   * Task 0 holds the one slot until task 1 is queued; its thread, ending, starts task 1 and stays
   * in the starter until this (the waiter's) thread, once {@code interrupting}, is parked: which
   * it never is if it throws.
   */
  private static Batch<Integer> taskZeroHeldInItsLastSteps(CountDownLatch interrupting) {
    Thread waiter = Thread.currentThread();
    CountDownLatch queued = new CountDownLatch(1);
    Batch<Integer> batch = new Batch<>(1, false, null, null);
    batch.submit(() -> {
      queued.await();
      return 0;
    });
    batch.starter = t -> {
      t.start();
      try {
        interrupting.await();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      while (waiter.getState() != Thread.State.WAITING
          && waiter.getState() != Thread.State.TIMED_WAITING) {
        Thread.yield();
      }
    };
    batch.submit(() -> 1);
    queued.countDown();
    return batch;
  }
}
