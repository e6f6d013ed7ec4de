package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.FanOut;
import java.lang.reflect.Field;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * With fail-fast, a task that failed on its own and was counted completed before close() began
 * is the batch's first failure: close() saw every task completed and cancelled nothing, so
 * nothing of the close() caused it, and join() must throw it (README: after close() join()
 * returns the results only for "the batch's own cancellations"). Batch reads {@code closed}
 * before it counts the task completed; read after the count (and the hand-over to the
 * completions stream), a close() beginning in between made the genuine failure vanish: join()
 * returned the results as if no task had failed.
 *
 * <p>The test holds the failing task's thread at the completion-order queue (between the count
 * and the {@code closed} read; a consumer of completions() already sees it there) until the
 * owner's close() has marked the batch closed.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FailureBeforeCloseKeptTest {

  /** Holds the first add until released. */
  static final class HoldingQueue<E> extends LinkedBlockingQueue<E> {
    final CountDownLatch inAdd = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    @Override
    public boolean add(E e) {
      inAdd.countDown();
      try {
        release.await();
      } catch (InterruptedException ex) {
        throw new AssertionError(ex);
      }
      return super.add(e);
    }
  }

  @Test
  void aFailureCountedBeforeCloseBeganIsStillTheFirstFailure() throws Exception {
    FanOut<Integer> fan = FanOut.<Integer>builder().failFast(true).build();
    Field batchField = FanOut.class.getDeclaredField("batch");
    batchField.setAccessible(true);
    Batch<?> batch = (Batch<?>) batchField.get(fan);
    Field queueField = Batch.class.getDeclaredField("completionOrder");
    queueField.setAccessible(true);
    HoldingQueue<Object> queue = new HoldingQueue<>();
    queueField.set(batch, queue);
    Field closedField = Batch.class.getDeclaredField("closed");
    closedField.setAccessible(true);

    IllegalStateException genuine = new IllegalStateException("genuine failure");
    fan.submit(() -> {
      throw genuine;
    });
    assertTrue(queue.inAdd.await(10, TimeUnit.SECONDS));
    // The task has failed and is counted completed: close() will find nothing to cancel.
    assertEquals(1, batch.completed());
    assertEquals(1, batch.failed());

    Thread closer = Thread.ofPlatform().start(fan::close);
    while (!closedField.getBoolean(batch)) {
      Thread.onSpinWait();
    }
    queue.release.countDown();
    closer.join();

    IllegalStateException thrown = assertThrows(IllegalStateException.class, fan::join,
        "join() returned the results: the fail-fast failure that came before close() was lost");
    assertSame(genuine, thrown);
  }
}
