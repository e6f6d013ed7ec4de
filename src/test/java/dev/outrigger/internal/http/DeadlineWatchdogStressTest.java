package dev.outrigger.internal.http;

import static dev.outrigger.HoldingServer.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The shared watchdog under many threads' attempts at once, with random deadlines and random
 * ends: an attempt that ended (its {@code done()} said so) is never cancelled, one that outlives
 * its deadline is cancelled exactly once, and no timer is lost between its stack, its owner
 * taking it off again and the watchdog taking the whole stack. What it asserts does not depend
 * on timing: an attempt that waits for its cut waits as long as it takes (30 s at most, which a
 * lost timer never ends), and the ones racing their deadline may end either way.
 */
class DeadlineWatchdogStressTest {
  private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

  /** The cancels OkHttp reported, by call: the watchdog cancels a call at most once. */
  private final Map<Call, AtomicInteger> cancels = new ConcurrentHashMap<>();
  private final OkHttpClient okhttp = new OkHttpClient.Builder()
      .eventListener(new EventListener() {
        @Override
        public void canceled(Call call) {
          cancels.computeIfAbsent(call, c -> new AtomicInteger()).incrementAndGet();
        }
      })
      .build();
  private boolean acquired;

  @BeforeEach
  void start() {
    DeadlineWatchdog.acquire();
    acquired = true;
  }

  @AfterEach
  void stop() {
    if (acquired) {
      DeadlineWatchdog.release();
    }
  }

  /** A call never executed: its cancel is all that happens to it. */
  private Call call() {
    return okhttp.newCall(new Request.Builder().url("http://127.0.0.1:9/unsent").build());
  }

  /** One attempt's timer and what its end said. */
  private record Attempt(Call call, DeadlineWatchdog.Timer timer, boolean endedFirst) {}

  /**
   * One attempt on the calling thread: some end at once (their timer mostly still on top of its
   * stack), some after a while racing their deadline, some only once cut (they must be).
   */
  private static Attempt attempt(Call call) {
    return attempt(call, ThreadLocalRandom.current().nextInt(4));
  }

  private static Attempt attempt(Call call, int kind) {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long timeout = kind == 3 ? 1 : r.nextLong(1, 20 * MS);
    DeadlineWatchdog.Timer timer = DeadlineWatchdog.watch(call, timeout);
    if (kind == 1) {
      LockSupport.parkNanos(r.nextLong(1, 20 * MS));
    } else if (kind >= 2) {
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!timer.fired() && System.nanoTime() - giveUp < 0) {
        LockSupport.parkNanos(MS / 4);
      }
      assertTrue(timer.fired(), "an attempt past its deadline was not cut within 30 s");
    }
    return new Attempt(call, timer, timer.done());
  }

  @Test
  void everyAttemptPastItsDeadlineIsCutOnceAndNoEndedOneIs() throws Exception {
    int threads = 64;
    int attempts = 150;
    ConcurrentLinkedQueue<Attempt> ended = new ConcurrentLinkedQueue<>();
    startTogether(threads, () -> {
      for (int a = 0; a < attempts; a++) {
        ended.add(attempt(call()));
      }
    });
    assertEquals(threads * attempts, ended.size());

    int cut = (int) ended.stream().filter(a -> !a.endedFirst()).count();
    // The cancels run on threads of their own, after the timers fired.
    await("every cut attempt's call cancelled",
        () -> cancels.values().stream().mapToInt(AtomicInteger::get).sum() >= cut);
    DeadlineWatchdog.Loop loop = DeadlineWatchdog.loop();
    // Nothing in flight: the thread parks until woken, not once a tick.
    await("the watchdog idles once the attempts have ended", () -> loop.idle
        && loop.nothingPushed() && loop.thread.getState() == Thread.State.WAITING);
    // The last client's close returns once the cancels the thread started have run, and the
    // thread ends.
    DeadlineWatchdog.release();
    acquired = false;
    await("the watchdog's thread ends", () -> !loop.thread.isAlive());

    for (Attempt a : ended) {
      AtomicInteger n = cancels.get(a.call());
      int cancelled = n == null ? 0 : n.get();
      if (a.endedFirst()) {
        assertEquals(0, cancelled, "an attempt that ended first was cancelled");
        assertFalse(a.timer().fired(), "an attempt that ended first counts as cut");
      } else {
        assertTrue(a.timer().fired(), "done() refused an attempt the watchdog did not cut");
        assertEquals(1, cancelled, "an attempt cut was cancelled " + cancelled + " times");
      }
    }
    assertEquals(cut, cancels.size(), "calls cancelled that no timer fired for");
  }

  @Test
  void attemptsStartingAsTheWatchdogGoesIdleAreCut() throws Exception {
    // No other traffic: a timer lost, or a push that neither wakes the idling thread nor is
    // seen by it, leaves the attempt uncut for good. The thread idles at its first look a
    // whole tick after the last push, one to two ticks after it: the pauses spread around
    // that, and up to three attempts start at once, racing to wake it.
    long tick = DeadlineWatchdog.TICK_NANOS;
    for (int round = 0; round < 100; round++) {
      ThreadLocalRandom r = ThreadLocalRandom.current();
      LockSupport.parkNanos(r.nextLong(tick / 2, 5 * tick / 2));
      int n = r.nextInt(1, 4);
      startTogether(n, () -> {
        Attempt a = attempt(call(), ThreadLocalRandom.current().nextInt(2, 4));
        assertFalse(a.endedFirst(), "done() took an attempt the watchdog had cut");
      });
    }
  }

  /**
   * Runs {@code body} on {@code threads} virtual threads released at once, waits for them all,
   * and fails with the first thing one threw.
   */
  private static void startTogether(int threads, Executable body) throws InterruptedException {
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> running = new ArrayList<>();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    for (int i = 0; i < threads; i++) {
      running.add(Thread.ofVirtual().start(() -> {
        try {
          go.await();
          body.execute();
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    go.countDown();
    for (Thread t : running) {
      t.join();
    }
    assertTrue(failures.isEmpty(), () -> failures.peek().toString());
  }
}
