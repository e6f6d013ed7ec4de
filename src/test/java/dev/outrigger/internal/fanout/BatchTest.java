package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.FanOut;
import dev.outrigger.Result;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** The batch behind {@link FanOut}, driven directly where an interleaving must be exact. */
@SuppressWarnings("try") // close() inside a try block on purpose: what it does is tested
class BatchTest {
  @Test
  void resultsAreThoseOfTheTasksTheWaitSawEvenWhenMoreAreSubmittedMeanwhile() throws Exception {
    Batch<Integer> batch = new Batch<>(16, false, null, null);
    batch.submit(() -> 0);
    batch.submit(() -> 1);
    int n = batch.awaitAll();
    assertEquals(2, n);
    // Another thread submits between join()'s wait and its snapshot: a task not ended yet.
    CountDownLatch release = new CountDownLatch(1);
    batch.submit(() -> {
      release.await();
      return 2;
    });
    try {
      List<Result<Integer>> rs = batch.results(n);
      assertEquals(List.of(0, 1), rs.stream().map(Result::value).toList());
    } finally {
      release.countDown();
    }
    assertEquals(3, batch.awaitAll());
    assertEquals(3, batch.results(3).size());
  }

  @Test
  void aFinishedTasksThreadIsNotKeptByTheBatch() throws Exception {
    List<WeakReference<Thread>> threads = new CopyOnWriteArrayList<>();
    try (FanOut<Integer> fan = FanOut.<Integer>builder().maxConcurrency(64).build()) {
      for (int i = 0; i < 2_000; i++) {
        int n = i;
        fan.submit(() -> {
          threads.add(new WeakReference<>(Thread.currentThread()));
          return n;
        });
      }
      assertEquals(2_000, fan.join().size());
      // A collection clears the weak references it finds unreachable: no wait needed after it.
      long reachable = 0;
      for (int i = 0; i < 10; i++) {
        System.gc();
        reachable = threads.stream().filter(w -> w.get() != null).count();
        if (reachable == 0) {
          break;
        }
      }
      // The FanOut is still open and holds every result: the dead threads must not be held
      // with them (a 100,000-task batch would keep 100,000).
      assertEquals(0, reachable, "finished tasks' threads still reachable");
    }
  }

  @Test
  void aTaskThatNeverStartedFailsWithACancellationThatCarriesNoStackTrace() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (FanOut<Integer> fan = FanOut.<Integer>builder().maxConcurrency(1).build()) {
      fan.submit(() -> {
        release.await();
        return 0;
      });
      for (int i = 1; i <= 100; i++) {
        int n = i;
        fan.submit(() -> n);
      }
      fan.close(); // cancels the queued tasks; interrupts the running one
      List<Result<Integer>> rs = fan.join();
      for (int i = 1; i <= 100; i++) {
        Throwable e = rs.get(i).error();
        assertTrue(e instanceof java.util.concurrent.CancellationException, String.valueOf(e));
        assertTrue(e.getMessage().contains("was not started: the FanOut was closed"),
            e.getMessage());
        assertEquals(0, e.getStackTrace().length, "the canceller's stack says nothing");
      }
    } finally {
      release.countDown();
    }
  }
}
