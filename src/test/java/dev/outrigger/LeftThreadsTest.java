package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.Logger;
import okhttp3.internal.concurrent.Task;
import okhttp3.internal.concurrent.TaskQueue;
import okhttp3.internal.concurrent.TaskRunner;
import org.junit.jupiter.api.Test;

/**
 * The leak check tells OkHttp's shared TaskRunner threads from a client's own, on a TaskRunner
 * of its own (OkHttp's class, as every OkHttp client in the JVM shares one): a thread that waits
 * for its next task is shared whatever name it still carries; one that runs a task is counted.
 */
class LeftThreadsTest {
  private static final String CLOSER = "OkHttp ConnectionPool connection closer";

  /** Waits (up to 10 s) for a live thread named {@code name} that {@code state} accepts. */
  private static Thread awaitThread(String name, java.util.function.Predicate<Thread> state) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      for (Thread t : LeftThreads.live()) {
        if (t.getName().equals(name) && state.test(t)) {
          return t;
        }
      }
      assertTrue(System.nanoTime() - end < 0, "no thread " + name + " as awaited");
      LockSupport.parkNanos(10_000_000L);
    }
  }

  private static boolean inAwaitTaskToRun(Thread t) {
    return Arrays.stream(t.getStackTrace())
        .anyMatch(f -> f.getMethodName().equals("awaitTaskToRun"));
  }

  @Test
  void aTaskRunnerThreadWaitingForItsNextTaskIsSharedWhateverItsName() throws Exception {
    Set<Thread> before = LeftThreads.live();
    TaskRunner.RealBackend backend = new TaskRunner.RealBackend(r -> {
      Thread t = new Thread(r, "OkHttp TaskRunner");
      t.setDaemon(true);
      return t;
    });
    TaskRunner runner = new TaskRunner(backend, Logger.getLogger(TaskRunner.class.getName()));
    TaskQueue queue = runner.newQueue();
    CountDownLatch release = new CountDownLatch(1);
    try {
      // As a pool's clean-up: it runs, then asks to run again in five minutes. The thread that
      // ran it waits for that (it coordinates the runner) and keeps the task's name meanwhile.
      queue.schedule(new Task(CLOSER, true) {
        @Override
        public long runOnce() {
          return TimeUnit.MINUTES.toNanos(5);
        }
      }, 0);
      Thread waiting = awaitThread(CLOSER, LeftThreadsTest::inAwaitTaskToRun);
      assertFalse(LeftThreads.since(before, t -> false, Duration.ofMillis(100)).contains(waiting),
          "a TaskRunner thread waiting for its next task counted as left behind");

      // A task that runs on (as an HTTP/2 connection's reader) is someone's: counted.
      TaskQueue reader = runner.newQueue();
      reader.schedule(new Task("OkHttp Http2Connection reader", true) {
        @Override
        public long runOnce() {
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return -1;
        }
      }, 0);
      Thread running = awaitThread("OkHttp Http2Connection reader", t -> !inAwaitTaskToRun(t));
      assertTrue(LeftThreads.since(before, t -> false, Duration.ofMillis(100)).contains(running),
          "a TaskRunner thread running a task not counted");
    } finally {
      release.countDown();
      queue.cancelAll();
      backend.shutdown();
    }
  }
}
