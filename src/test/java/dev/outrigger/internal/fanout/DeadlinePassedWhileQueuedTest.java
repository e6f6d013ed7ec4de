package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.Result;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The batch deadline passes while tasks wait in the queue, and a slot frees before any waiter
 * cancels the batch: every queued task fails as the deadline's (README: "a task that has not
 * started never starts. Its result is a DeadlineExceededException ... the batch deadline ran
 * out"), with fail-fast too, where the first such task is no task's failure. Time is a fake
 * clock; nothing waits for it.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class DeadlinePassedWhileQueuedTest {

  @Test
  void withFailFastEveryQueuedTaskFailsAsTheDeadlinesNotAsAnEarlierTasksFailure()
      throws Exception {
    AtomicLong now = new AtomicLong();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Batch<Integer> batch =
        new Batch<>(1, true, Deadline.after(Duration.ofSeconds(1), now::get), null);
    batch.submit(() -> {
      started.countDown();
      release.await(); // ignores the deadline, and returns within the grace
      return 0;
    });
    for (int i = 1; i <= 3; i++) {
      batch.submit(() -> 1);
    }
    assertTrue(started.await(10, TimeUnit.SECONDS));
    now.set(Duration.ofSeconds(1).toNanos()); // the deadline passes; the grace has not
    release.countDown(); // the slot frees: the next queued task finds the deadline passed
    batch.awaitAll();

    List<Result<Integer>> rs = batch.results();
    assertEquals(0, rs.get(0).value());
    for (int i = 1; i <= 3; i++) {
      Throwable e = rs.get(i).error();
      assertTrue(e instanceof DeadlineExceededException, i + ": " + e);
      assertTrue(e.getMessage().contains("was not started: the batch deadline ran out"),
          e.getMessage());
    }
    // join() throws the batch's deadline, not the first queued task's failure.
    Throwable first = batch.firstFailure();
    assertTrue(first instanceof DeadlineExceededException, String.valueOf(first));
    assertFalse(first.getMessage().contains("was not started"), first.getMessage());
  }

  @Test
  void aTaskStillRunningIsLeftItsGraceWhenAQueuedTaskFindsTheDeadlinePassed() throws Exception {
    AtomicLong now = new AtomicLong();
    CountDownLatch started = new CountDownLatch(2);
    CountDownLatch releaseFirst = new CountDownLatch(1);
    CountDownLatch releaseSecond = new CountDownLatch(1);
    CountDownLatch twoEnded = new CountDownLatch(1);
    Batch<Integer> batch = new Batch<>(2, true, Deadline.after(Duration.ofSeconds(1), now::get),
        (completed, failed, total) -> {
          if (completed == 2) {
            twoEnded.countDown();
          }
        });
    batch.submit(() -> {
      started.countDown();
      releaseFirst.await();
      return 0;
    });
    batch.submit(() -> {
      started.countDown();
      releaseSecond.await(); // interrupted only by a waiter, once the grace too has passed
      return 1;
    });
    batch.submit(() -> 2);
    assertTrue(started.await(10, TimeUnit.SECONDS));
    now.set(Duration.ofSeconds(1).toNanos());
    releaseFirst.countDown();
    // The queued task found the deadline passed and ended; the second task keeps running.
    assertTrue(twoEnded.await(10, TimeUnit.SECONDS));
    assertEquals(2, batch.completed());
    releaseSecond.countDown();
    batch.awaitAll();
    assertEquals(1, batch.results().get(1).value(), "interrupted before its grace ran out");
    assertTrue(batch.results().get(2).error() instanceof DeadlineExceededException);
  }

  @Test
  void aListenerErrorWhileTheQueueIsCancelledForTheDeadlineStillLetsTheWaitEnd()
      throws Exception {
    AtomicLong now = new AtomicLong();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicLong reports = new AtomicLong();
    // A listener with a failed assertion in it: it throws for every report after the first.
    Batch<Integer> batch = new Batch<>(1, true,
        Deadline.after(Duration.ofSeconds(1), now::get), (completed, failed, total) -> {
          if (reports.incrementAndGet() > 1) {
            throw new AssertionError("listener failed at report " + reports.get());
          }
        });
    batch.submit(() -> {
      started.countDown();
      release.await();
      return 0;
    });
    for (int i = 1; i <= 3; i++) {
      batch.submit(() -> 1);
    }
    assertTrue(started.await(10, TimeUnit.SECONDS));
    now.set(Duration.ofSeconds(1).toNanos());
    // The slot frees: task 1 finds the deadline passed and cancels the queue (tasks 2 and 3),
    // whose reports throw; every task still ends, and the wait returns (the class's timeout
    // fails the test if it hangs).
    release.countDown();
    batch.awaitAll();
    assertEquals(4, batch.completed());
    for (int i = 1; i <= 3; i++) {
      assertTrue(batch.results().get(i).error() instanceof DeadlineExceededException,
          String.valueOf(batch.results().get(i).error()));
    }
  }
}
