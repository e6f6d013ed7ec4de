package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
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
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * With fail-fast, the first failure comes once the batch deadline has passed (a task's call
 * ending on that deadline, or a real failure racing it) and before a waiter cancelled the batch:
 * the tasks it cuts were cut by the deadline and read as its (not "an earlier task failed"), the
 * tasks still running keep their grace to end on the deadline by themselves, and join()'s cause is
 * that first failure. Before the deadline, the first failure still cancels the rest as CANCELLED.
 * Time is a fake clock; tasks wait on latches, not on it.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FailFastAfterTheDeadlineTest {
  private final AtomicLong now = new AtomicLong();
  private final CountDownLatch bothStarted = new CountDownLatch(2);
  private final CountDownLatch releaseFirst = new CountDownLatch(1);
  private final CountDownLatch releaseSecond = new CountDownLatch(1);
  /** Tasks 0, 2 and 3 have ended: the first failed and the queue was cut. */
  private final CountDownLatch threeEnded = new CountDownLatch(1);

  /**
   * Two running tasks (the first ends with {@code firstThrows}, once released; the second, a
   * deadline-aware one, ends as an Outrigger call would once released) and two queued behind them.
   */
  private Batch<Integer> batch(Exception firstThrows) {
    Batch<Integer> batch = new Batch<>(2, true,
        Deadline.after(Duration.ofSeconds(1), now::get), (completed, failed, total) -> {
          if (completed == 3) {
            threeEnded.countDown();
          }
        });
    batch.submit(() -> {
      bothStarted.countDown();
      releaseFirst.await();
      throw firstThrows;
    });
    batch.submit(() -> {
      bothStarted.countDown();
      releaseSecond.await(); // interrupted only if the batch cut it
      return endOnTheDeadline();
    });
    batch.submit(() -> 2);
    batch.submit(() -> 3);
    return batch;
  }

  /** What an Outrigger call does in a task: fail once the task's deadline has passed. */
  private static Integer endOnTheDeadline() {
    if (Deadline.current().orElseThrow().isExpired()) {
      throw new DeadlineExceededException("the call's deadline passed", null, 1);
    }
    return 1;
  }

  private List<Result<Integer>> runPastTheDeadline(Batch<Integer> batch) throws Exception {
    assertTrue(bothStarted.await(10, TimeUnit.SECONDS));
    now.set(Duration.ofSeconds(1).toNanos()); // the deadline passes; its grace has not
    releaseFirst.countDown(); // the first failure, before any waiter's cancellation
    assertTrue(threeEnded.await(10, TimeUnit.SECONDS));
    releaseSecond.countDown();
    batch.awaitAll();
    return batch.results();
  }

  private static void assertCutByTheDeadline(Result<Integer> r) {
    Throwable e = r.error();
    assertInstanceOf(DeadlineExceededException.class, e, String.valueOf(e));
    assertTrue(e.getMessage().contains("was not started: the batch deadline ran out"),
        e.getMessage());
  }

  @Test
  void aTaskEndingOnTheDeadlineCutsTheRestAsTheDeadlineNotAsAnEarlierFailure() throws Exception {
    DeadlineExceededException onTheDeadline =
        new DeadlineExceededException("the first task's call ran out of time", null, 1);
    Batch<Integer> batch = batch(onTheDeadline);
    List<Result<Integer>> rs = runPastTheDeadline(batch);

    assertSame(onTheDeadline, rs.get(0).error());
    // Not interrupted: it kept its grace and ended on the deadline by itself.
    assertInstanceOf(DeadlineExceededException.class, rs.get(1).error(),
        String.valueOf(rs.get(1).error()));
    assertCutByTheDeadline(rs.get(2));
    assertCutByTheDeadline(rs.get(3));
    assertSame(onTheDeadline, batch.firstFailure());
  }

  @Test
  void aRealFailureRacingTheDeadlineIsJoinsCauseAndTheRestReadTheDeadline() throws Exception {
    IllegalStateException real = new IllegalStateException("HTTP 500");
    Batch<Integer> batch = batch(real);
    List<Result<Integer>> rs = runPastTheDeadline(batch);

    assertSame(real, rs.get(0).error());
    assertInstanceOf(DeadlineExceededException.class, rs.get(1).error(),
        String.valueOf(rs.get(1).error()));
    assertCutByTheDeadline(rs.get(2));
    assertCutByTheDeadline(rs.get(3));
    assertSame(real, batch.firstFailure(), "join() throws the first real failure");
  }

  @Test
  void aFailureBeforeTheDeadlineStillCancelsTheRest() throws Exception {
    IllegalStateException real = new IllegalStateException("HTTP 500");
    AtomicReference<Throwable> secondSaw = new AtomicReference<>();
    Batch<Integer> batch = new Batch<>(2, true,
        Deadline.after(Duration.ofSeconds(1), now::get), null);
    batch.submit(() -> {
      bothStarted.countDown();
      releaseFirst.await();
      throw real;
    });
    batch.submit(() -> {
      bothStarted.countDown();
      try {
        releaseSecond.await(); // never released: only the first failure ends it
      } catch (InterruptedException e) {
        secondSaw.set(e);
        throw e;
      }
      return 1;
    });
    batch.submit(() -> 2);
    assertTrue(bothStarted.await(10, TimeUnit.SECONDS));
    releaseFirst.countDown();
    batch.awaitAll();

    List<Result<Integer>> rs = batch.results();
    assertSame(real, rs.get(0).error());
    assertInstanceOf(InterruptedException.class, secondSaw.get());
    Throwable cut = rs.get(2).error();
    assertInstanceOf(CancellationException.class, cut, String.valueOf(cut));
    assertSame(real, cut.getCause());
    assertSame(real, batch.firstFailure());
    assertEquals(3, batch.completed());
  }
}
