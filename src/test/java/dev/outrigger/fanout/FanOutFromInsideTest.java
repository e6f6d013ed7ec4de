package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.Result;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A FanOut closed or joined from inside (one of its own tasks, its progress listener), the
 * batch's own cancellations under fail-fast, and a "no limit" batch deadline. A task that "takes
 * long" waits on a latch nobody counts down: only an interrupt ends it.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
@SuppressWarnings("try") // close() inside a try block on purpose: what it does is tested
class FanOutFromInsideTest {

  private static String waitForInterrupt() throws InterruptedException {
    new CountDownLatch(1).await();
    throw new AssertionError("unreachable");
  }

  @Test
  void closeFromInsideATaskCancelsTheOthersAndReturns() throws Exception {
    CountDownLatch slowStarted = new CountDownLatch(1);
    List<Result<String>> results;
    try (FanOut<String> fan = FanOut.<String>builder().build()) {
      fan.submit(() -> {
        slowStarted.countDown();
        return waitForInterrupt();
      });
      fan.submit(() -> {
        slowStarted.await();
        fan.close(); // "the first answer wins": used to wait for this very task, forever
        return "fast";
      });
      results = fan.join();
    }
    assertInstanceOf(InterruptedException.class, results.get(0).error());
    assertEquals("fast", results.get(1).value());
  }

  @Test
  void closeFromTheProgressListenerCancelsTheOthersAndReturns() throws Exception {
    AtomicReference<FanOut<String>> self = new AtomicReference<>();
    CountDownLatch slowStarted = new CountDownLatch(1);
    FanOut<String> fan = FanOut.<String>builder()
        .progress((completed, failed, total) -> {
          if (completed == 1) {
            self.get().close(); // on the fast task's thread, before that task counts as ended
          }
        })
        .build();
    self.set(fan);
    List<Result<String>> results;
    try (fan) {
      fan.submit(() -> {
        slowStarted.countDown();
        return waitForInterrupt();
      });
      slowStarted.await();
      fan.submit(() -> "fast");
      results = fan.join();
    }
    assertInstanceOf(InterruptedException.class, results.get(0).error());
    assertEquals("fast", results.get(1).value());
  }

  @Test
  void joinFromInsideATaskThrowsInsteadOfWaitingForItself() throws Exception {
    List<Result<Object>> results;
    try (FanOut<Object> fan = FanOut.builder().build()) {
      AtomicReference<FanOut<Object>> self = new AtomicReference<>(fan);
      fan.submit(() -> self.get().join());
      results = fan.join();
    }
    IllegalStateException e =
        assertInstanceOf(IllegalStateException.class, results.get(0).error());
    assertTrue(e.getMessage().contains("would wait for itself"), e.getMessage());
  }

  @Test
  void aNoLimitBatchDeadlineDoesNotCancelTheBatch() throws Exception {
    CountDownLatch go = new CountDownLatch(1);
    try (FanOut<String> fan =
        FanOut.<String>builder().deadline(Duration.ofNanos(Long.MAX_VALUE)).build()) {
      fan.submit(() -> {
        go.await();
        return "done";
      });
      CompletableFuture<List<Result<String>>> joined = new CompletableFuture<>();
      Thread joiner = Thread.ofVirtual().start(() -> {
        try {
          joined.complete(fan.join());
        } catch (Throwable e) {
          joined.completeExceptionally(e);
        }
      });
      // Once join() waits, let the task end. The deadline's remaining time plus join()'s grace
      // used to overflow, so join() cancelled the batch at once.
      while (joiner.getState() != Thread.State.WAITING
          && joiner.getState() != Thread.State.TIMED_WAITING) {
        Thread.onSpinWait();
      }
      go.countDown();
      Result<String> r = joined.get(20, TimeUnit.SECONDS).get(0);
      assertTrue(r.isSuccess(), "the task failed: " + r);
      assertEquals("done", r.value());
    }
  }

  @Test
  void failFastJoinPastTheBatchDeadlineThrowsTheDeadlineNotTheInterrupt() {
    try (FanOut<String> fan = FanOut.<String>builder()
        .failFast(true).deadline(Duration.ofMillis(100)).build()) {
      fan.submit(FanOutFromInsideTest::waitForInterrupt); // ignores the deadline
      Throwable t = assertThrows(Throwable.class, fan::join);
      Throwable failure = t instanceof CompletionException ? t.getCause() : t;
      assertInstanceOf(DeadlineExceededException.class, failure, String.valueOf(failure));
    }
  }

  @Test
  void failFastJoinAfterCloseReturnsTheResults() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    FanOut<String> fan = FanOut.<String>builder().failFast(true).build();
    fan.submit(() -> {
      started.countDown();
      return waitForInterrupt();
    });
    started.await();
    fan.close();
    // No task failed on its own: close()'s interrupt is not "the first failure".
    List<Result<String>> results = fan.join();
    assertInstanceOf(InterruptedException.class, results.get(0).error());
  }

  @Test
  void closeFromInsideATaskLeavesThatTaskUninterrupted() throws Exception {
    List<Result<Boolean>> results;
    try (FanOut<Boolean> fan = FanOut.<Boolean>builder().build()) {
      AtomicReference<FanOut<Boolean>> self = new AtomicReference<>(fan);
      fan.submit(() -> {
        self.get().close(); // cancels the others, not its caller: the winner goes on
        return Thread.currentThread().isInterrupted();
      });
      results = fan.join();
    }
    assertEquals(false, results.get(0).value(), "close() from inside interrupted its caller");
  }

  @Test
  void completionsFromInsideATaskThrowsInsteadOfWaitingForItself() throws Exception {
    List<Result<Object>> results;
    try (FanOut<Object> fan = FanOut.builder().build()) {
      AtomicReference<FanOut<Object>> self = new AtomicReference<>(fan);
      fan.submit(() -> self.get().completions().count());
      results = fan.join();
    }
    IllegalStateException e =
        assertInstanceOf(IllegalStateException.class, results.get(0).error());
    assertTrue(e.getMessage().contains("would wait for itself"), e.getMessage());
  }

  @Test
  void theOwnersCloseStillEndsATaskThatClosedTheBatchFromInside() throws Exception {
    CountDownLatch closedInside = new CountDownLatch(1);
    FanOut<String> fan = FanOut.<String>builder().build();
    fan.submit(() -> {
      fan.close();
      closedInside.countDown();
      return waitForInterrupt(); // goes on after its close(), until the owner's
    });
    closedInside.await();
    fan.close(); // used to wait for ever: the first cancellation had spared the task
    List<Result<String>> results = fan.join();
    assertInstanceOf(InterruptedException.class, results.get(0).error());
  }

  @Test
  void theBatchDeadlineStillEndsATaskThatClosedTheBatchFromInside() throws Exception {
    // The batch deadline (that of the scope it is built in) runs on a fake clock, moved past it
    // once the task has closed the batch: on the real clock, a task a loaded machine started
    // after the deadline found it passed and failed as not started, never closing the batch.
    FakeClock clock = new FakeClock();
    FanOut<String> fan = Deadline.within(Deadline.after(Duration.ofMillis(200), clock::nanoTime),
        () -> FanOut.<String>builder().build());
    CountDownLatch closedInside = new CountDownLatch(1);
    fan.submit(() -> {
      fan.close();
      closedInside.countDown();
      return waitForInterrupt();
    });
    assertTrue(closedInside.await(10, TimeUnit.SECONDS));
    clock.advance(Duration.ofSeconds(1).toNanos()); // past the deadline and join()'s grace
    List<Result<String>> results = fan.join(); // the deadline's cut ends the spared task
    assertInstanceOf(InterruptedException.class, results.get(0).error());
    fan.close();
  }

  @Test
  void theOwnersCloseRacingACloseFromInsideStillEndsThatTask() throws Exception {
    // The owner's close() lands while the task's own close() is still interrupting the others:
    // it must still end that task (it used to find nothing to do and wait for ever).
    for (int round = 0; round < 20; round++) {
      int n = 2000;
      java.util.concurrent.atomic.AtomicInteger started =
          new java.util.concurrent.atomic.AtomicInteger();
      CountDownLatch go = new CountDownLatch(1);
      FanOut<String> fan = FanOut.<String>builder().build();
      fan.submit(() -> {
        started.incrementAndGet();
        go.await();
        fan.close();
        return waitForInterrupt();
      });
      for (int i = 1; i < n; i++) {
        fan.submit(() -> {
          started.incrementAndGet();
          return waitForInterrupt();
        });
      }
      while (started.get() < n) {
        Thread.onSpinWait();
      }
      go.countDown();
      while (!fan.toString().contains("cancelled")) {
        Thread.onSpinWait();
      }
      CompletableFuture<Void> owner = CompletableFuture.runAsync(fan::close);
      try {
        owner.get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        throw new AssertionError("round " + round + ": the owner's close() hangs: " + fan);
      }
    }
  }

  @Test
  void aLaterCloseFromInsideLeavesTheTaskThatClosedFirstUninterrupted() throws Exception {
    AtomicReference<FanOut<String>> self = new AtomicReference<>();
    CountDownLatch othersStarted = new CountDownLatch(1);
    CountDownLatch listenerClosed = new CountDownLatch(1);
    FanOut<String> fan = FanOut.<String>builder()
        .progress((completed, failed, total) -> {
          self.get().close(); // "done when one ends", on the ended task's thread
          listenerClosed.countDown();
        })
        .build();
    self.set(fan);
    List<Result<String>> results;
    try (fan) {
      fan.submit(() -> {
        othersStarted.countDown();
        return waitForInterrupt();
      });
      fan.submit(() -> {
        othersStarted.await();
        fan.close(); // the first close, from inside: this task goes on
        listenerClosed.await(); // until the listener's close() from inside has come too
        return "winner";
      });
      results = fan.join();
    }
    assertEquals("winner", results.get(1).isSuccess() ? results.get(1).value()
        : String.valueOf(results.get(1).error()));
  }
}
