package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Result;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A task whose thread fails to start ({@code Thread.start} throwing OutOfMemoryError "unable to
 * create native thread") fails with that reason, and gives its slot back to the queue: no queued
 * task is left waiting for a slot nobody will hand it, or join() would wait for good.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ThreadStartFailureTest {
  private static final OutOfMemoryError NO_THREAD =
      new OutOfMemoryError("unable to create native thread");

  @Test
  void aTaskQueuedWhileTheDirectStartFailsStillRuns() throws Exception {
    Batch<Integer> batch = new Batch<>(1, false, null, null);
    batch.starter = t -> {
      if (t.getName().equals("outrigger-fanout-0")) {
        // Task 0 took the one free slot at submit; a task submitted now finds none and queues.
        batch.submit(() -> 1);
        throw NO_THREAD;
      }
      t.start();
    };
    batch.submit(() -> 0);

    assertEquals(2, batch.awaitAll());
    List<Result<Integer>> rs = batch.results();
    assertSame(NO_THREAD, rs.get(0).error());
    assertEquals(1, rs.get(1).value());
  }

  @Test
  void aListenerErrorForATaskNotStartedDoesNotStrandTheQueue() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch firstStarted = new CountDownLatch(1);
    Batch<Integer> batch = new Batch<>(1, false, null, (completed, failed, total) -> {
      if (failed == 1 && completed == 2) {
        throw new AssertionError("a test's listener failing on the task not started");
      }
    });
    batch.starter = t -> {
      if (t.getName().equals("outrigger-fanout-1")) {
        throw NO_THREAD;
      }
      t.start();
    };
    batch.submit(() -> {
      firstStarted.countDown();
      release.await();
      return 0;
    });
    assertTrue(firstStarted.await(10, TimeUnit.SECONDS));
    batch.submit(() -> 1); // queued; its start fails when task 0 ends
    batch.submit(() -> 2); // queued behind it: must still get the slot
    release.countDown();

    assertEquals(3, batch.awaitAll());
    List<Result<Integer>> rs = batch.results();
    assertEquals(0, rs.get(0).value());
    assertInstanceOf(OutOfMemoryError.class, rs.get(1).error());
    assertEquals(2, rs.get(2).value());
  }

  @Test
  void submitThrowsTheListenersFirstErrorWithTheDrainsSuppressed() throws Exception {
    Batch<Integer> batch = new Batch<>(1, false, null, (completed, failed, total) -> {
      throw new AssertionError("a test's listener failing on task " + (completed - 1));
    });
    batch.starter = t -> {
      if (t.getName().equals("outrigger-fanout-0")) {
        // Task 0 took the one free slot at submit; a task submitted now finds none and queues,
        // and its start fails too once task 0 gives the slot back.
        batch.submit(() -> 1);
      }
      throw NO_THREAD;
    };

    AssertionError e = assertThrows(AssertionError.class, () -> batch.submit(() -> 0));
    assertEquals("a test's listener failing on task 0", e.getMessage());
    assertEquals(1, e.getSuppressed().length);
    assertEquals("a test's listener failing on task 1", e.getSuppressed()[0].getMessage());
    assertEquals(2, batch.awaitAll());
    assertSame(NO_THREAD, batch.results().get(1).error());
  }

  @Test
  void aTaskThreadPassesOnTheListenersFirstErrorWithTheDrainsSuppressed() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch firstStarted = new CountDownLatch(1);
    CompletableFuture<Throwable> uncaught = new CompletableFuture<>();
    Batch<Integer> batch = new Batch<>(1, false, null, (completed, failed, total) -> {
      throw new AssertionError("a test's listener failing on task " + (completed - 1));
    });
    batch.starter = t -> {
      if (t.getName().equals("outrigger-fanout-1")) {
        throw NO_THREAD;
      }
      t.setUncaughtExceptionHandler((thread, e) -> uncaught.complete(e));
      t.start();
    };
    batch.submit(() -> {
      firstStarted.countDown();
      release.await();
      return 0;
    });
    assertTrue(firstStarted.await(10, TimeUnit.SECONDS));
    batch.submit(() -> 1); // queued; its start fails when task 0 ends, in task 0's drain
    release.countDown();

    assertEquals(2, batch.awaitAll());
    Throwable e = uncaught.get(10, TimeUnit.SECONDS);
    assertEquals("a test's listener failing on task 0", e.getMessage());
    assertEquals(1, e.getSuppressed().length);
    assertEquals("a test's listener failing on task 1", e.getSuppressed()[0].getMessage());
  }
}
