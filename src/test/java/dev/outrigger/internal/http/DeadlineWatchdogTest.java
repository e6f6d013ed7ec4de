package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.HoldingServer;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The watchdog over real OkHttp calls to a real server: it cancels late calls, only those. */
class DeadlineWatchdogTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final OkHttpClient okhttp = new OkHttpClient();

  @BeforeEach
  void start() {
    DeadlineWatchdog.acquire();
  }

  @AfterEach
  void stop() {
    DeadlineWatchdog.release();
    okhttp.connectionPool().evictAll();
  }

  /** A call never executed: what a timer holds does not matter until it fires. */
  private Call unsentCall() {
    return okhttp.newCall(new Request.Builder().url(server.url("/unsent")).build());
  }

  private Call slowCall() {
    server.enqueue(new MockResponse.Builder().body("late").headersDelay(5, TimeUnit.SECONDS)
        .build());
    return okhttp.newCall(new Request.Builder().url(server.url("/slow")).build());
  }

  @Test
  void cancelsACallStillRunningAtItsDeadline() {
    Call call = slowCall();
    long start = System.nanoTime();
    DeadlineWatchdog.Timer timer = DeadlineWatchdog.watch(call, TimeUnit.MILLISECONDS.toNanos(200));
    long tookMs = millisUntilItFails(call, start);

    assertTrue(timer.fired());
    assertTrue(call.isCanceled());
    assertFalse(timer.done(), "a fired timer cannot be marked done");
    assertTrue(tookMs >= 190 && tookMs < 1_000, "cancelled after " + tookMs + " ms");
  }

  @Test
  void neverCancelsACallMarkedDone() throws Exception {
    server.enqueue(new MockResponse.Builder().body("ok").build());
    Call call = okhttp.newCall(new Request.Builder().url(server.url("/quick")).build());
    // Room for the JVM's first OkHttp call (class loading, a loaded machine): only its end
    // before the deadline matters here, not how soon.
    DeadlineWatchdog.Timer timer = DeadlineWatchdog.watch(call, TimeUnit.SECONDS.toNanos(1));
    try (Response r = call.execute()) {
      assertEquals("ok", r.body().string());
    }
    assertTrue(timer.done());

    // A later timer firing proves the watchdog went past the first one's deadline.
    Call later = slowCall();
    DeadlineWatchdog.Timer laterTimer =
        DeadlineWatchdog.watch(later, TimeUnit.MILLISECONDS.toNanos(1_100));
    assertThrows(IOException.class, later::execute);
    assertTrue(laterTimer.fired());
    assertFalse(timer.fired());
    assertFalse(call.isCanceled());
  }

  @Test
  void aShortDeadlineBehindLongOnesStillFiresOnTime() {
    // Long timers first: the watchdog sleeps up to a tick; a shorter one must wake it.
    List<DeadlineWatchdog.Timer> longOnes = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      longOnes.add(DeadlineWatchdog.watch(
          okhttp.newCall(new Request.Builder().url(server.url("/never")).build()),
          TimeUnit.SECONDS.toNanos(60)));
    }
    Call call = slowCall();
    long start = System.nanoTime();
    DeadlineWatchdog.Timer timer = DeadlineWatchdog.watch(call, TimeUnit.MILLISECONDS.toNanos(50));
    long tookMs = millisUntilItFails(call, start);

    assertTrue(timer.fired());
    assertTrue(tookMs < 1_000, "cancelled after " + tookMs + " ms");
    longOnes.forEach(t -> assertTrue(t.done(), "the long timers are still armed"));
  }

  @Test
  void timersPushedOntoEveryStackFireAndDoneOnesNeverDo() throws Exception {
    // Threads whose ids pick each of the stacks push one armed timer and one done timer each:
    // the watchdog must take from every stack.
    List<DeadlineWatchdog.Timer> armed = new CopyOnWriteArrayList<>();
    List<DeadlineWatchdog.Timer> done = new CopyOnWriteArrayList<>();
    List<Call> calls = new CopyOnWriteArrayList<>();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    boolean[] seen = new boolean[DeadlineWatchdog.HEADS];
    // Counts the armed timers' calls cancelled (the watchdog marks a timer fired, then cancels).
    CountDownLatch cancelled = new CountDownLatch(DeadlineWatchdog.HEADS);
    OkHttpClient counting = okhttp.newBuilder().eventListener(new EventListener() {
      @Override
      public void canceled(Call call) {
        cancelled.countDown();
      }
    }).build();
    for (int i = 0; i < 1_000 && armed.size() < seen.length; i++) {
      Thread t = Thread.ofPlatform().start(() -> {
        try {
          int head = DeadlineWatchdog.headOfCurrentThread();
          if (seen[head]) {
            return;
          }
          seen[head] = true;
          Call call = counting.newCall(new Request.Builder().url(server.url("/unsent")).build());
          calls.add(call);
          armed.add(DeadlineWatchdog.watch(call, TimeUnit.MILLISECONDS.toNanos(50)));
          // Marked done at once; a thread descheduled for the whole 50 ms in between (a loaded
          // machine) finds its timer fired, and pushes another.
          DeadlineWatchdog.Timer finished;
          int tries = 0;
          do {
            finished = DeadlineWatchdog.watch(unsentCall(), TimeUnit.MILLISECONDS.toNanos(50));
          } while (!finished.done() && ++tries < 20);
          if (tries == 20) {
            throw new AssertionError("20 timers 50 ms from their deadline could not be marked "
                + "done");
          }
          done.add(finished);
        } catch (Throwable e) {
          errors.add(e);
        }
      });
      t.join(); // one thread at a time: seen[] is written and read in turn
    }
    assertEquals(List.of(), errors);
    assertEquals(DeadlineWatchdog.HEADS, armed.size(), "threads on every stack");
    assertTrue(cancelled.await(5, TimeUnit.SECONDS), "every armed timer's call cancelled");
    for (int i = 0; i < armed.size(); i++) {
      assertTrue(armed.get(i).fired(), "armed timer " + i + " (each on its own stack) fired");
      assertTrue(calls.get(i).isCanceled(), "its call " + i + " was cancelled");
    }
    done.forEach(t -> assertFalse(t.fired(), "a timer marked done never fires"));
  }

  @Test
  void theThreadRunsWhileAUserHoldsIt() {
    assertTrue(DeadlineWatchdog.running());
    assertTrue(threadAlive(), "outrigger-deadlines runs while a client is open");
    DeadlineWatchdog.acquire();
    DeadlineWatchdog.release();
    assertTrue(DeadlineWatchdog.running(), "one user still holds it");
  }

  @Test
  void aStoppedLoopKeepsWatchingWhatIsInFlightThenEnds() throws Exception {
    DeadlineWatchdog.Loop loop = new DeadlineWatchdog.Loop();
    loop.thread.start();
    DeadlineWatchdog.Timer inFlight =
        new DeadlineWatchdog.Timer(slowCall(), System.nanoTime() + 60_000_000_000L);
    assertTrue(loop.push(inFlight));

    loop.stop(); // returns within 100 ms: an attempt is still in flight

    assertTrue(loop.thread.isAlive(), "an attempt in flight keeps its deadline enforced");
    inFlight.done();
    loop.thread.join(5_000);
    assertFalse(loop.thread.isAlive(), "the thread ends once nothing it watches is in flight");
  }

  /**
   * A loop with a cancel held: the call's listener blocks in {@code canceled()} (on the thread
   * that cancels, as OkHttp reports it) until {@code release}.
   */
  private DeadlineWatchdog.Loop loopHeldInACancel(CountDownLatch release) throws Exception {
    CountDownLatch inCancel = new CountDownLatch(1);
    OkHttpClient holding = okhttp.newBuilder().eventListener(new EventListener() {
      @Override
      public void canceled(Call call) {
        inCancel.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }).build();
    DeadlineWatchdog.Loop loop = new DeadlineWatchdog.Loop();
    loop.thread.start();
    Call call = holding.newCall(new Request.Builder().url(server.url("/unsent")).build());
    assertTrue(loop.push(new DeadlineWatchdog.Timer(call, System.nanoTime())));
    assertTrue(inCancel.await(5, TimeUnit.SECONDS), "the watchdog must cancel the call");
    return loop;
  }

  @Test
  void stopLeavesNoThreadOfTheCutsPoolBehind() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    release.countDown(); // the cancel returns at once: its thread then idles in the pool
    DeadlineWatchdog.Loop loop = loopHeldInACancel(release);
    HoldingServer.await("the cut ends", () -> loop.cancelling().isEmpty());
    assertFalse(loop.cancellersEnded(), "a thread of the pool idles for a second after a cut");

    loop.stop();

    assertTrue(loop.cancellersEnded(), "stop() returned with a thread of the cuts' pool alive");
    assertFalse(loop.thread.isAlive());
  }

  @Test
  void anInterruptedCloserStillWaitsForTheCancelsToEnd() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    DeadlineWatchdog.Loop loop = loopHeldInACancel(release);
    Thread closer = Thread.currentThread();
    // Lets the watchdog go once the closer waits in stop(), not before.
    Thread releaser = Thread.ofVirtual().start(() -> {
      while (closer.getState() != Thread.State.TIMED_WAITING) {
        Thread.onSpinWait();
      }
      release.countDown();
    });
    try {
      closer.interrupt(); // a cancelled task closing its client, say

      loop.stop();

      assertTrue(Thread.interrupted(), "the closer's interrupt status is kept");
      assertFalse(loop.thread.isAlive(), "stop() returned with the watchdog still running");
      assertEquals(Set.of(), loop.cancelling(),
          "stop() returned with a cancel still running: an interrupted close() did not wait");
    } finally {
      Thread.interrupted();
      release.countDown();
      releaser.join(5_000);
      loop.thread.join(5_000);
    }
  }

  @Test
  void aCancelStillRunningWhenStopGivesUpIsReported() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    DeadlineWatchdog.Loop loop = loopHeldInACancel(release);
    try (dev.outrigger.LogCapture log = new dev.outrigger.LogCapture(
        DeadlineWatchdog.class.getName())) {
      loop.stop();

      assertFalse(loop.thread.isAlive(), "a cancel held on a thread of its own holds no loop");
      assertEquals(1, loop.cancelling().size(), "held in the listener, the cancel cannot end");
      assertEquals(1, log.count("WARN", "did not return within 1000 ms"),
          "a cancel left running after close() must be reported: " + log.all());
    } finally {
      release.countDown();
    }
    HoldingServer.await("the cancel ends once the listener returns",
        () -> loop.cancelling().isEmpty());
  }

  /**
   * A cancel that throws on every cut (an {@code EventListener.canceled} of the user's): the
   * first is logged at WARN with its stack trace, the next ones within the minute only counted,
   * and the first after it says how many went unlogged. Each one was a WARN with a stack trace,
   * one per deadline that cut an attempt.
   */
  @Test
  void cancelsThatThrowAreLoggedAtMostOnceAMinute() throws Exception {
    dev.outrigger.internal.FakeClock logClock = new dev.outrigger.internal.FakeClock();
    java.util.concurrent.atomic.AtomicInteger cancels =
        new java.util.concurrent.atomic.AtomicInteger();
    OkHttpClient throwing = okhttp.newBuilder().eventListener(new EventListener() {
      @Override
      public void canceled(Call call) {
        cancels.incrementAndGet();
        throw new IllegalStateException("canceled() broke");
      }
    }).build();
    DeadlineWatchdog.Loop loop = new DeadlineWatchdog.Loop(logClock);
    loop.thread.start();
    try (dev.outrigger.LogCapture log = new dev.outrigger.LogCapture(
        DeadlineWatchdog.class.getName())) {
      for (int i = 1; i <= 3; i++) {
        Call call = throwing.newCall(new Request.Builder().url(server.url("/unsent")).build());
        assertTrue(loop.push(new DeadlineWatchdog.Timer(call, System.nanoTime())));
        int n = i;
        HoldingServer.await("cancel " + n, () -> cancels.get() == n
            && loop.cancelling().isEmpty());
      }
      assertEquals(1, log.count("WARN", "cancelling a call past its deadline failed"),
          log.all());
      assertEquals(1, log.count("WARN", "later failures are logged at most once a minute"),
          log.all());

      logClock.advance(TimeUnit.MINUTES.toNanos(1));
      Call call = throwing.newCall(new Request.Builder().url(server.url("/unsent")).build());
      assertTrue(loop.push(new DeadlineWatchdog.Timer(call, System.nanoTime())));
      HoldingServer.await("cancel 4", () -> cancels.get() == 4 && loop.cancelling().isEmpty());
      assertEquals(2, log.count("WARN", "cancelling a call past its deadline failed"),
          log.all());
      assertEquals(1, log.count("WARN", "and 2 more times since the last one logged"),
          log.all());
    } finally {
      loop.stop();
    }
  }

  @Test
  void aBusyWatchdogIsNotWokenByEveryAttempt() {
    // Timers pushed before the thread first runs, as when calls start with the first client:
    // the thread must not count as idle (parked with nothing to watch) until it has parked so.
    // The armed first timer keeps it from ever running dry, however the pushes and the thread
    // interleave, so no push below has a reason to wake it.
    DeadlineWatchdog.Loop loop = new DeadlineWatchdog.Loop();
    DeadlineWatchdog.Timer inFlight =
        new DeadlineWatchdog.Timer(unsentCall(), System.nanoTime() + 60_000_000_000L);
    assertTrue(loop.push(inFlight));
    loop.thread.start();
    try {
      for (int i = 0; i < 1_000; i++) {
        DeadlineWatchdog.Timer quick =
            new DeadlineWatchdog.Timer(unsentCall(), System.nanoTime() + 60_000_000_000L);
        assertTrue(loop.push(quick));
        quick.done();
      }

      assertEquals(0, loop.wakeUps(),
          "with an attempt in flight and no deadline due before its next tick, the watchdog "
              + "must be left asleep");
    } finally {
      inFlight.done();
      loop.stop();
    }
  }

  @Test
  void attemptsEndingBeforeTheWatchdogLooksDoNotWakeItOneByOne() throws Exception {
    // One thread calling without pause: each attempt ends before the watchdog takes its timer,
    // so the watchdog finds nothing armed each time it looks. It must not idle then (the next
    // push would have to wake it, a system call on the attempt's thread), but look again a
    // tick later: only a tick with no push at all lets it idle. Each push below comes once the
    // watchdog has taken the one before and sleeps again (within a tick, unless this thread
    // stalls for longer, which the bound allows for a few times).
    DeadlineWatchdog.Loop loop = new DeadlineWatchdog.Loop();
    loop.thread.start();
    try {
      for (int i = 0; i < 20; i++) {
        DeadlineWatchdog.Timer quick =
            new DeadlineWatchdog.Timer(unsentCall(), System.nanoTime() + 60_000_000_000L);
        assertTrue(loop.push(quick));
        quick.done();
        HoldingServer.await("the watchdog took the timer and sleeps", () -> loop.nothingPushed()
            && (loop.thread.getState() == Thread.State.WAITING
                || loop.thread.getState() == Thread.State.TIMED_WAITING));
      }

      assertTrue(loop.wakeUps() <= 5,
          "20 attempts, one after another, woke the watchdog " + loop.wakeUps() + " times");
    } finally {
      loop.stop();
    }
  }

  @Test
  void pushesFindingTheWatchdogIdleWakeItOnce() {
    // Pushes that find the thread idle before it has run again (a burst of attempts while it is
    // being scheduled): the first wakes it, the others need not. Its thread is never started
    // here, so none of them can find it awake.
    DeadlineWatchdog.Loop loop = new DeadlineWatchdog.Loop();
    loop.idle = true;
    for (int i = 0; i < 3; i++) {
      assertTrue(loop.push(
          new DeadlineWatchdog.Timer(unsentCall(), System.nanoTime() + 60_000_000_000L)));
    }

    assertEquals(1, loop.wakeUps());
  }

  @Test
  void attemptsEndingBeforeTheWatchdogLooksAreNotWalkedByIt() throws Exception {
    // A thread calling alone: each attempt's timer is still on top of its stack when the
    // attempt ends, and comes off it there, so the watchdog's thread never reads it (a cache
    // miss on another core for each attempt). Only a look falling between a push and its done
    // takes one.
    DeadlineWatchdog.Loop loop = DeadlineWatchdog.loop();
    long before = loop.taken();
    for (int i = 0; i < 1_000; i++) {
      DeadlineWatchdog.Timer quick = DeadlineWatchdog.watch(unsentCall(), 60_000_000_000L);
      assertTrue(quick.done());
      assertFalse(quick.fired());
    }
    HoldingServer.await("the watchdog took what was left", loop::nothingPushed);

    long taken = loop.taken() - before;
    assertTrue(taken < 100, "the watchdog took " + taken + " of 1,000 timers done at once");
  }

  @Test
  void afterItsThreadEndedAnAttemptFallsBackToOkHttpsCallTimeout() {
    DeadlineWatchdog.Loop loop = new DeadlineWatchdog.Loop();
    loop.thread.start();
    loop.stop();
    assertFalse(loop.thread.isAlive(), "with nothing in flight, stop() ends the thread at once");
    Call call = slowCall();
    assertFalse(loop.push(new DeadlineWatchdog.Timer(call, System.nanoTime())),
        "an ended thread must refuse new timers");
  }

  @Test
  void aTimerNotTakenByAWatchdogStillBoundsTheCallThroughOkHttp() {
    // What watch() does when no watchdog runs: OkHttp's own call timeout takes over.
    Call call = slowCall();
    call.timeout().timeout(200, TimeUnit.MILLISECONDS);
    long start = System.nanoTime();
    InterruptedIOException e = assertThrows(InterruptedIOException.class, call::execute);
    long tookMs = (System.nanoTime() - start) / 1_000_000;
    assertEquals("timeout", e.getMessage());
    assertTrue(tookMs < 2_000, "took " + tookMs + " ms");
  }

  /** Runs {@code call}, which must fail, and returns the milliseconds since {@code start}. */
  private static long millisUntilItFails(Call call, long start) {
    assertThrows(IOException.class, call::execute);
    return (System.nanoTime() - start) / 1_000_000;
  }

  private static boolean threadAlive() {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().equals("outrigger-deadlines") && t.isAlive());
  }
}
