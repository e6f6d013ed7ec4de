package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.FanOut;
import dev.outrigger.Result;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A progress listener that throws an {@code Error} (an assertion in a test's listener, say): the
 * Error reaches the caller, but never at the cost of the batch's promises.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutListenerErrorTest {

  /** What a buggy listener throws: an Error, which the batch does not swallow. */
  static final class ListenerBug extends Error {
    ListenerBug() {
      super("listener bug");
    }
  }

  @Test
  void closeStillWaitsForEveryTaskWhenTheListenerThrowsAnError() throws Exception {
    CountDownLatch running = new CountDownLatch(1);
    // Counted by the listener for each queued task close() cancels: the running task, once
    // interrupted, waits for both (at most 10 s) so it is still running while close() cancels.
    CountDownLatch queuedReported = new CountDownLatch(2);
    AtomicBoolean ended = new AtomicBoolean();
    ListenerBug bug = new ListenerBug();
    FanOut<Integer> fan = FanOut.<Integer>builder()
        .maxConcurrency(1)
        .progress((completed, failed, total) -> {
          if (!Thread.currentThread().getName().startsWith("outrigger-fanout-")) {
            queuedReported.countDown();
            throw bug;
          }
        })
        .build();
    fan.submit(() -> {
      try {
        running.countDown();
        new CountDownLatch(1).await();
        return 0;
      } catch (InterruptedException e) {
        queuedReported.await(10, TimeUnit.SECONDS);
        throw e;
      } finally {
        ended.set(true);
      }
    });
    fan.submit(() -> 1);
    fan.submit(() -> 2);
    assertTrue(running.await(10, TimeUnit.SECONDS));
    try {
      assertSame(bug, assertThrows(ListenerBug.class, fan::close));
      assertTrue(ended.get(), "close() returned while a task still ran");
      assertEquals(0, queuedReported.getCount(), "a queued task was left unreported");
    } finally {
      queuedReported.countDown();
      queuedReported.countDown();
    }
    List<Result<Integer>> results = fan.join();
    assertInstanceOf(InterruptedException.class, results.get(0).error());
    assertInstanceOf(CancellationException.class, results.get(1).error());
    assertInstanceOf(CancellationException.class, results.get(2).error());
    assertTrue(fan.toString().contains("running=0"), fan.toString());
  }

  // With fail-fast, the first failure's cancellation completes the queued tasks before the
  // listener is told of that failure. An Error from the listener for one of them skipped the
  // failing task's own report: the listener was told of 1 of 2 tasks.
  @Test
  void theFirstFailureIsReportedEvenWhenTheListenerThrowsForATaskItCancelled() throws Exception {
    List<Integer> reports = new CopyOnWriteArrayList<>();
    ListenerBug bug = new ListenerBug();
    AtomicReference<Throwable> uncaught = new AtomicReference<>();
    CountDownLatch handled = new CountDownLatch(1);
    CountDownLatch bothSubmitted = new CountDownLatch(1);
    IllegalStateException failure = new IllegalStateException("task 0 failed");
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
      uncaught.set(e);
      handled.countDown();
    });
    try (FanOut<Integer> fan = FanOut.<Integer>builder()
        .maxConcurrency(1)
        .failFast(true)
        .progress((completed, failed, total) -> {
          reports.add(completed);
          if (completed == 2) { // the queued task, completed by task 0's cancellation
            throw bug;
          }
        })
        .build()) {
      fan.submit(() -> {
        bothSubmitted.await();
        throw failure;
      });
      fan.submit(() -> 1); // queued: task 0 holds the only slot
      bothSubmitted.countDown();
      assertSame(failure, assertThrows(IllegalStateException.class, fan::join));
      // The Error still reaches the failing task's thread's handler.
      assertTrue(handled.await(10, TimeUnit.SECONDS));
      assertSame(bug, uncaught.get());
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
    assertEquals(List.of(1, 2), reports.stream().sorted().toList(),
        "the listener was not told of every task");
  }
}
