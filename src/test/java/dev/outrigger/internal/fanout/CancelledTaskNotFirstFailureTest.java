package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.Result;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * With fail-fast, a task that completes in the instant a cancellation (close(), the batch
 * deadline) has published its reason but not yet taken the first-failure slot fails because of
 * that cancellation: it must not become the batch's first failure. The hook holds the canceller
 * in that instant while the task completes.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CancelledTaskNotFirstFailureTest {

  @Test
  void aQueuedTaskStartedAsCloseBeginsIsNotTheFirstFailure() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch bothReported = new CountDownLatch(2);
    Batch<Integer> batch = new Batch<>(1, true, null, (completed, failed, total) -> {
      bothReported.countDown();
    });
    batch.submit(() -> {
      started.countDown();
      release.await();
      return 0;
    });
    batch.submit(() -> 1); // queued behind the first, which holds the one slot
    assertTrue(started.await(10, TimeUnit.SECONDS));
    batch.afterCancelPublished = () -> {
      batch.afterCancelPublished = null;
      // The first task returns; its thread starts the queued one, which finds the batch
      // cancelled and fails as "not started".
      release.countDown();
      try {
        assertTrue(bothReported.await(10, TimeUnit.SECONDS));
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    };
    // What FanOut.close() does from the owner's thread.
    batch.close();
    batch.cancel(Batch.Cancel.CLOSED);
    batch.awaitAllUninterruptibly();

    assertNull(batch.firstFailure(), "a close() is no failure: join() must return the results");
    List<Result<Integer>> rs = batch.results();
    assertEquals(0, rs.get(0).value());
    assertTrue(rs.get(1).error() instanceof CancellationException, String.valueOf(rs.get(1)));
  }

  @Test
  void aChildSubmittedAsTheDeadlineCancelsIsNotTheFirstFailure() throws Exception {
    AtomicLong now = new AtomicLong();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch childReported = new CountDownLatch(1);
    Batch<Integer> batch = new Batch<>(Integer.MAX_VALUE, true,
        Deadline.after(Duration.ofSeconds(1), now::get), (completed, failed, total) -> {
          childReported.countDown();
        });
    batch.submit(() -> {
      started.countDown();
      // Ignores the deadline: only the waiter's cancellation reaches it.
      release.await();
      batch.submit(() -> 1); // a child, submitted once the cancellation is published
      return 0;
    });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    batch.afterCancelPublished = () -> {
      batch.afterCancelPublished = null;
      release.countDown();
      try {
        assertTrue(childReported.await(10, TimeUnit.SECONDS));
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    };
    // Past the deadline and its grace: the wait cancels the batch for the deadline at once.
    now.set(Duration.ofSeconds(1).toNanos() + Batch.DEADLINE_GRACE_NANOS);
    batch.awaitAll();

    Throwable first = batch.firstFailure();
    assertTrue(first instanceof DeadlineExceededException, String.valueOf(first));
    assertFalse(first.getMessage().contains("was not started"),
        "the child's not-started failure taken for the batch's: " + first.getMessage());
    assertEquals(0, batch.results().get(0).value());
  }
}
