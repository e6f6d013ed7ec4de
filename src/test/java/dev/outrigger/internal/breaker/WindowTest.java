package dev.outrigger.internal.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The windows' arithmetic, and their totals under concurrent recording. */
class WindowTest {
  private static final long S = 1_000_000_000L;

  @Test
  void theFastModuloEqualsTheRemainderForEverySizeAndLowSequence() {
    SplittableRandom random = new SplittableRandom(42);
    int[] sizes = {1, 2, 3, 7, 10, 20, 100, 127, 128, 1000, 65_537, 999_983, 1_000_000};
    for (int size : sizes) {
      CountWindow w = new CountWindow(size, 1);
      for (int i = 0; i < 20_000; i++) {
        long seq = i < 10_000 ? i : random.nextLong(0, 1L << 32);
        assertEquals(seq % size, w.index(seq), "size " + size + " seq " + seq);
      }
      assertEquals(((1L << 32) - 1) % size, w.index((1L << 32) - 1));
    }
  }

  @Test
  void countWindowTotalsMatchItsSlotsAfterConcurrentRecording() throws Exception {
    int size = 64;
    CountWindow w = new CountWindow(size, 1);
    hammer(8, 20_000, (random, t) -> w.record(random.nextInt(4), 0));

    // Fill the window with one outcome: any drift in the totals would remain visible.
    for (int i = 0; i < size; i++) {
      w.record(Window.FAILED | Window.SLOW, 0);
    }
    assertEquals(new Window.Counts(size, size, size), w.counts(0));
    for (int i = 0; i < size; i++) {
      w.record(0, 0);
    }
    assertEquals(new Window.Counts(size, 0, 0), w.counts(0));
  }

  @Test
  void successesPendingOnOtherThreadsAreCountedBeforeALaterFailure() throws Exception {
    CountWindow w = new CountWindow(100, 1);
    w.record(0, 0);
    Thread other = Thread.ofPlatform().start(() -> {
      for (int i = 0; i < 10; i++) {
        w.record(0, 0); // pends in the other thread's cell
      }
    });
    other.join();
    assertTrue(w.record(Window.FAILED, 0));
    assertEquals(new Window.Counts(12, 1, 0), w.counts(0));
  }

  @Test
  void aFullBatchOfSuccessesEvictsEveryOlderFailure() {
    CountWindow w = new CountWindow(4, 1);
    for (int i = 0; i < 4; i++) {
      w.record(Window.FAILED, 0);
    }
    for (int i = 0; i < CountWindow.BATCH; i++) {
      w.record(0, 0);
    }
    assertEquals(new Window.Counts(4, 0, 0), w.counts(0));
  }

  @Test
  void timeWindowCountsEveryCallOfOneSecondUnderContention() throws Exception {
    TimeWindow w = new TimeWindow(10, 1, 0);
    hammer(8, 10_000, (random, t) -> w.record(Window.FAILED, 3 * S + 17));
    assertEquals(new Window.Counts(80_000, 80_000, 0), w.counts(3 * S + 17));
  }

  @Test
  void timeWindowCountsEveryPendingSuccessOfOneSecond() throws Exception {
    TimeWindow w = new TimeWindow(10, 1, 0);
    hammer(8, 10_001, (random, t) -> w.record(random.nextInt(10) == 0 ? Window.SLOW : 0, 3 * S));
    Window.Counts k = w.counts(3 * S);
    assertEquals(80_008, k.calls());
    assertEquals(0, k.failed());
    assertTrue(k.slow() > 0);
  }

  @Test
  void timeWindowPlacesPendingSuccessesInTheSecondTheyHappened() {
    TimeWindow w = new TimeWindow(3, 1, 0);
    w.record(0, 0);
    for (int i = 0; i < 5; i++) {
      w.record(0, S / 2); // pending, second 0
    }
    w.record(0, S + 1); // second 1: the head moves
    assertEquals(7, w.counts(2 * S).calls());
    assertEquals(1, w.counts(3 * S).calls()); // second 0 left the window
  }

  @Test
  void timeWindowTotalsReturnToZeroOnceEverySecondHasExpired() throws Exception {
    TimeWindow w = new TimeWindow(5, 1, 0);
    AtomicLong clock = new AtomicLong();
    // Threads record while time moves across many windows' worth of seconds.
    hammer(8, 20_000, (random, t) -> {
      long now = t == 0 ? clock.addAndGet(S / 1000) : clock.get();
      w.record(random.nextInt(4), now);
    });
    long later = clock.get() + 5 * S;
    assertEquals(Window.Counts.EMPTY, w.counts(later));
    w.record(Window.SLOW, later);
    assertEquals(new Window.Counts(1, 0, 1), w.counts(later));
  }

  interface Step {
    void run(SplittableRandom random, int thread);
  }

  /** Runs {@code step} {@code perThread} times on each of {@code threads} threads at once. */
  static void hammer(int threads, int perThread, Step step) throws Exception {
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> started = new ArrayList<>();
    List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      started.add(Thread.ofPlatform().start(() -> {
        SplittableRandom random = new SplittableRandom(id);
        try {
          start.await();
          for (int i = 0; i < perThread; i++) {
            step.run(random, id);
          }
        } catch (Throwable e) {
          errors.add(e);
        }
      }));
    }
    start.countDown();
    for (Thread t : started) {
      t.join();
    }
    assertEquals(List.of(), errors);
  }
}
