package dev.outrigger.internal.http;

import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.QuietWarn;
import dev.outrigger.internal.Stripes;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.SocketTimeoutException;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import okhttp3.Call;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cancels each attempt's OkHttp call when its time is up, without a lock on the call path.
 *
 * <p>OkHttp's own call timeout is an Okio {@code AsyncTimeout}: every one in the JVM enters and
 * leaves a single priority queue under a single lock, twice per attempt, and callers on different
 * cores queue on it (measured: ~1 µs per call with two threads, and most of the gap to raw OkHttp
 * at concurrency 64; docs/benchmarks.md). Here an attempt pushes its {@link Timer} onto a
 * lock-free stack (one compare-and-set) and, when it ends, takes it off again if it is still on
 * top, or else marks it done (another). There are {@link #HEADS} such stacks, each on cache
 * lines of its own, and a thread pushes onto the one its id picks, so attempts on different
 * cores rarely write the same line. One daemon thread, shared by every client, takes the pushed
 * timers every {@link #TICK_NANOS} while any are pending or were pushed in the last tick (it
 * parks until woken only after a tick with no push), ignores those already done (most calls end
 * well within a tick), keeps the rest in a heap of its own and cancels a call whose deadline
 * passed. A timer due sooner than the thread's next wake-up wakes it, so a short deadline is as
 * punctual as a long one.
 *
 * <p>The thread does not cancel a late call itself: {@code Call.cancel()} runs the call's
 * {@code EventListener.canceled} (the user's, given with {@code okHttpClient(...)}) on the thread
 * that cancels, and one listener that blocks there would hold back every other deadline in the
 * JVM. Each cancel is handed to a platform daemon thread ({@link #CANCEL_THREAD}), taken from
 * a pool of at most {@link #MAX_CANCELLERS} started only when a deadline cuts an attempt and
 * ended a second after their last cancel: an attempt that ends in time pays nothing for it.
 * Platform, not virtual, threads: a cancel must run even when every carrier is pinned (on JDK
 * 21, by a virtual thread blocked in a socket read inside {@code synchronized}), since it is
 * what ends those reads. With every pool thread held in a listener, a cancel runs on the
 * watchdog's own thread, as it did before.
 *
 * <p>The thread starts with the first client ({@link #acquire()}) and stops when the last one
 * closes ({@link #release()}), once the attempts it watches have ended; the stop also waits for
 * the cancels under way. An attempt that finds no thread to take it falls back to OkHttp's call
 * timeout (or to the call timeout its OkHttpClient gave it, when that one is shorter).
 */
public final class DeadlineWatchdog {
  /** How often the thread takes new timers while any are pending. */
  static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
  /**
   * Stacks timers are pushed onto: twice the processors, rounded up to a power of two, at most
   * 16.
   */
  static final int HEADS = Stripes.count(2, 16);
  /** References from one stack's head to the next: 128 bytes or more apart. */
  private static final int HEAD_STRIDE = 32;
  /** How long {@link Loop#stop()} waits for the thread to end (or to say it drains). */
  static final long STOP_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);
  /** The name of the threads cancels run on. */
  static final String CANCEL_THREAD = "outrigger-deadline-cancel";
  /** At most this many cancels run at once off the watchdog's thread. */
  static final int MAX_CANCELLERS = 8;
  /** Done timers left in the heap are swept out once it holds this many. */
  private static final int SWEEP_AT = 4096;

  private static final Logger log = LoggerFactory.getLogger(DeadlineWatchdog.class);
  private static final SharedWhileUsed<Loop> LOOP = new SharedWhileUsed<>(() -> {
    Loop l = new Loop();
    l.thread.start();
    return l;
  }, Loop::stop);

  private DeadlineWatchdog() {}

  /** Registers a user (a client); the first one starts the thread. */
  public static void acquire() {
    LOOP.acquire();
  }

  /**
   * Unregisters a user; the last one stops the thread, which ends once the attempts it watches
   * have ended. With none in flight this returns once the thread and the cancels it started have
   * ended (a cancel still running a second later, held in an {@code EventListener.canceled}
   * that does not return, is left and logged at WARN); it does not wait for an attempt in
   * flight.
   */
  public static void release() {
    LOOP.release();
  }

  /** The stack the calling thread pushes onto. */
  static int headOfCurrentThread() {
    return Stripes.ofCurrentThread(HEADS);
  }

  /** Whether the thread runs (for tests). */
  static boolean running() {
    return LOOP.current() != null;
  }

  /** The running loop, or null (for tests). */
  static Loop loop() {
    return LOOP.current();
  }

  /**
   * Cancels {@code call} once {@code timeoutNanos} (of {@link System#nanoTime()}) have passed,
   * unless {@link Timer#done()} comes first. Call it before {@code call.execute()}: with no
   * watchdog running (no client open, or the last one closing) it falls back to OkHttp's own
   * call timeout, so a deadline is enforced either way; a shorter call timeout the call has
   * already (its OkHttpClient's) is kept, and bounds it first.
   */
  public static Timer watch(Call call, long timeoutNanos) {
    return watch(call, System.nanoTime() + timeoutNanos, timeoutNanos);
  }

  /**
   * As {@link #watch(Call, long)}, for a caller that read {@link System#nanoTime()} already:
   * cancels {@code call} at {@code deadlineNanos} on that clock. If no watchdog takes the timer,
   * OkHttp's call timeout is what is left until {@code deadlineNanos}, read then, and at most
   * {@code timeoutNanos}.
   */
  public static Timer watch(Call call, long deadlineNanos, long timeoutNanos) {
    Timer t = new Timer(call, deadlineNanos);
    Loop l = LOOP.current();
    if (l == null || !l.push(t)) {
      // What is left now, not the caller's timeout: a call made again within an attempt (a
      // stale connection's re-send) gets the rest of the attempt's time, not the whole again.
      long left = Math.min(timeoutNanos, Math.max(1, deadlineNanos - System.nanoTime()));
      // The call's own timeout, the call timeout of an OkHttpClient the user supplied, is a
      // promise too: it stands when it is the shorter, ending the attempt as it would beside the
      // watchdog (a TIMEOUT, not the deadline's cut).
      long own = call.timeout().timeoutNanos();
      if (own == 0 || left <= own) {
        t.fallback = true;
        call.timeout().timeout(left, TimeUnit.NANOSECONDS);
      }
    }
    return t;
  }

  /** One attempt's registration. */
  public static final class Timer {
    private static final int ARMED = 0;
    private static final int DONE = 1;
    private static final int FIRED = 2;
    private static final VarHandle STATE;

    static {
      try {
        STATE = MethodHandles.lookup().findVarHandle(Timer.class, "state", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private volatile int state; // ARMED
    private Call call;
    final long deadlineNanos;
    Timer next;
    /** Where the stack it was pushed onto has its head ({@link Loop#push}). */
    int at;
    /**
     * OkHttp's call timeout enforces this one: no watchdog was there to take it. False when the
     * call's own call timeout was shorter and was kept: its firing is not this timer's.
     */
    boolean fallback;

    Timer(Call call, long deadlineNanos) {
      this.call = call;
      this.deadlineNanos = deadlineNanos;
    }

    /**
     * The attempt ended: never cancel it. False if the watchdog already did. A timer still on
     * top of the stack it was pushed onto is taken off again, so the watchdog never walks it.
     */
    public boolean done() {
      Loop l = LOOP.current();
      if (l != null && l.unpush(this)) {
        // The watchdog never took it, so it cannot fire it: no compare-and-set needed.
        STATE.setRelease(this, DONE);
        call = null;
        return true;
      }
      if (STATE.compareAndSet(this, ARMED, DONE)) {
        call = null;
        return true;
      }
      return false;
    }

    /** Whether the watchdog cancelled the call because its time was up. */
    public boolean fired() {
      return state == FIRED;
    }

    /**
     * Whether {@code failure} of the attempt means its time ran out: the watchdog cancelled it,
     * or, where OkHttp's call timeout stood in, that timeout fired (OkHttp then throws an
     * {@code InterruptedIOException} that is not a socket's own read timeout).
     */
    public boolean timedOut(IOException failure) {
      return fired() || (fallback && failure instanceof InterruptedIOException
          && !(failure instanceof SocketTimeoutException));
    }

    boolean armed() {
      return state == ARMED;
    }

    /**
     * Marks the timer fired unless the attempt ended first, and then has {@code loop} cancel the
     * call; runs on the watchdog's thread.
     */
    void fire(Loop loop) {
      if (STATE.compareAndSet(this, ARMED, FIRED)) {
        Call c = call;
        call = null;
        loop.cancel(c);
      }
    }
  }

  static final class Loop implements Runnable {
    private static final VarHandle IDLE;

    static {
      try {
        IDLE = MethodHandles.lookup().findVarHandle(Loop.class, "idle", boolean.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** The mark of a stack pushed onto since the thread last looked. */
    private static final Timer PUSHED = new Timer(null, 0);

    final Thread thread;
    /**
     * The stacks' heads, stack {@code k} at {@code k * HEAD_STRIDE}; next to each, at
     * {@code k * HEAD_STRIDE + 1}, {@link #PUSHED} once a timer was pushed onto it since the
     * thread last looked (the timer may have been taken off again, {@link #unpush}).
     */
    private final AtomicReferenceArray<Timer> pushed =
        new AtomicReferenceArray<>(HEADS * HEAD_STRIDE);
    private final PriorityQueue<Timer> heap =
        new PriorityQueue<>((a, b) -> Long.compare(a.deadlineNanos - b.deadlineNanos, 0));
    /** When the thread will look next: a timer due before then wakes it. */
    private volatile long nextWakeNanos = System.nanoTime();
    /**
     * Parked with nothing to watch: the next push must wake it. False until the thread first
     * parks so: before then it is starting and takes what was pushed without being woken. (A
     * {@code true} start here once left a thread that never idled being woken by every push:
     * ~10 µs of CPU per call at concurrency 64.) The push that wakes it clears it, so the
     * pushes that follow before the thread runs again do not wake it too. Package-private for
     * tests.
     */
    volatile boolean idle;
    /** Timers the thread took off the stacks, done or not (for tests). */
    private final java.util.concurrent.atomic.LongAdder taken =
        new java.util.concurrent.atomic.LongAdder();
    /** Pushes that woke the thread (for tests). */
    private final java.util.concurrent.atomic.LongAdder wakeUps =
        new java.util.concurrent.atomic.LongAdder();
    /** No new users: end once nothing armed is left. */
    private volatile boolean stopping;
    /** The thread ended (or is ending): a push must not count on it. */
    private volatile boolean exited;
    /** Set by the thread when it was told to stop with attempts still in flight. */
    private volatile boolean draining;
    /** Counted down when the thread's loop has ended. */
    private final java.util.concurrent.CountDownLatch ended =
        new java.util.concurrent.CountDownLatch(1);
    /** The threads running a cancel now ({@link #cancel}). */
    private final Set<Thread> cancelling = ConcurrentHashMap.newKeySet();
    /** Cancels handed to the pool and not yet ended: stop() waits for them. */
    private final java.util.concurrent.atomic.AtomicInteger cancelsUnderWay =
        new java.util.concurrent.atomic.AtomicInteger();
    /**
     * The cancels' threads: none until a deadline cuts an attempt, each ended a second after its
     * last cancel, all by {@link #stop()}. A cancel none of them can take (all held) runs on the
     * watchdog's thread.
     */
    private final java.util.concurrent.ThreadPoolExecutor cancellers =
        new java.util.concurrent.ThreadPoolExecutor(0, MAX_CANCELLERS, 1, TimeUnit.SECONDS,
            new java.util.concurrent.SynchronousQueue<>(), r -> {
              Thread t = Thread.ofPlatform().daemon().name(CANCEL_THREAD)
                  .inheritInheritableThreadLocals(false).unstarted(r);
              t.setContextClassLoader(null);
              return t;
            });
    private int sweepAt = SWEEP_AT;
    /** The log of cancels that threw: the first at once, then at most one a minute. */
    final QuietWarn cancelFailures;

    Loop() {
      this(NanoClock.SYSTEM);
    }

    /** A loop whose log of failed cancels is timed on {@code logClock} (a test's). */
    Loop(NanoClock logClock) {
      cancelFailures = new QuietWarn(log, logClock, "later failures");
      thread = Thread.ofPlatform().daemon().name("outrigger-deadlines")
          .inheritInheritableThreadLocals(false).unstarted(this);
      // Not the starting thread's class loader: an application server may unload that one.
      thread.setContextClassLoader(null);
    }

    /** Takes {@code t}; false if the thread has ended, so the caller must bound the call itself. */
    boolean push(Timer t) {
      int at = headOfCurrentThread() * HEAD_STRIDE;
      t.at = at;
      Timer head;
      do {
        head = pushed.get(at);
        t.next = head;
      } while (!pushed.compareAndSet(at, head, t));
      if (pushed.getPlain(at + 1) == null) {
        // On the head's cache line, written once per look of the thread.
        pushed.setRelease(at + 1, PUSHED);
      }
      if (exited) {
        // The thread may have gone without seeing t. If it did see it, t is watched twice:
        // harmless, the first to fire wins.
        return false;
      }
      // One push wakes an idle thread: the pushes that find it idle before it runs again (it
      // may take milliseconds on a busy machine, a burst of attempts meanwhile) would each make
      // a system call for nothing.
      if ((idle && IDLE.compareAndSet(this, true, false))
          || t.deadlineNanos - nextWakeNanos < 0) {
        // The wake first: with the flag cleared, nothing else would wake the thread, so a
        // throw from the count (an OutOfMemoryError as its cells grow) must not come between.
        LockSupport.unpark(thread);
        wakeUps.increment();
      }
      return true;
    }

    /**
     * Cancels {@code call} on a thread of the pool, so that a cancel that blocks (in the user's
     * {@code EventListener.canceled}, which OkHttp runs on the cancelling thread) holds back no
     * other call's deadline; here, when every pool thread is held. Only a deadline that cuts an
     * attempt gets here.
     */
    void cancel(Call call) {
      // Counted before it is handed over: stop() must not miss one that is about to run.
      cancelsUnderWay.incrementAndGet();
      try {
        cancellers.execute(() -> {
          Thread self = Thread.currentThread();
          cancelling.add(self);
          try {
            cancelNow(call);
          } finally {
            cancelling.remove(self);
            cancelsUnderWay.decrementAndGet();
          }
        });
      } catch (RuntimeException | OutOfMemoryError e) {
        // Every pool thread is held (or none can start): the cancel still happens, here.
        cancelsUnderWay.decrementAndGet();
        cancelNow(call);
      }
    }

    private void cancelNow(Call call) {
      try {
        call.cancel();
      } catch (RuntimeException | Error e) {
        // A hook that throws on every cancel (an EventListener.canceled of the user's) must not
        // log a stack trace for every deadline that cuts an attempt.
        cancelFailures.warn("cancelling a call past its deadline failed", e);
      }
    }

    /** The cancels under way (for tests). */
    Set<Thread> cancelling() {
      return cancelling;
    }

    /** Whether the cuts' pool has ended, every thread of it gone (for tests). */
    boolean cancellersEnded() {
      return cancellers.isTerminated();
    }

    /** How many timers the thread took off the stacks so far. */
    long taken() {
      return taken.sum();
    }

    /** How many pushes woke the thread so far. */
    long wakeUps() {
      return wakeUps.sum();
    }

    /**
     * Ends the thread once every attempt it watches has ended. With nothing in flight that is at
     * once, and this returns when the thread and the cancels it started have ended (waiting up
     * to {@link #STOP_WAIT_NANOS} in all, even if the calling thread is interrupted: its
     * interrupt status is kept); an attempt still in flight keeps the thread (enforcing its
     * deadline) until it ends, and this returns as soon as the thread says so and the cancels
     * started so far have ended, without waiting for the attempt. A cancel that has not returned
     * by then (held in an {@code EventListener.canceled} of the user's that blocks), or a thread
     * that neither ended nor said so, is left running, and logged at WARN with where it is.
     */
    void stop() {
      stopping = true;
      LockSupport.unpark(thread);
      boolean interrupted = false;
      // Not Thread.join: on JDK 21 it waits on the thread's monitor, which would pin the
      // carrier of a virtual thread closing a client.
      // Until the thread has ended, or has said it drains attempts still in flight (it then
      // ends by itself after them), or a second has passed.
      long giveUp = System.nanoTime() + STOP_WAIT_NANOS;
      boolean over = false;
      while (!over && !draining && System.nanoTime() - giveUp < 0) {
        try {
          over = ended.await(10, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          // A closer that was interrupted (a cancelled task closing its client) waits all the
          // same: close() must not return with this thread still running for no reason.
          interrupted = true;
        }
      }
      if (over) {
        // The loop has ended and the thread is returning from run(): the few instructions
        // left take microseconds, so that close() leaves no thread of its own behind.
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        while (thread.isAlive() && System.nanoTime() - until < 0) {
          LockSupport.parkNanos(50_000);
        }
      }
      // The cancels the thread started: each ends when OkHttp's cancel (and the listener's
      // canceled()) returns, so within the same second, unless a listener blocks.
      while (cancelsUnderWay.get() > 0 && System.nanoTime() - giveUp < 0) {
        if (Thread.interrupted()) {
          interrupted = true;
        }
        LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(1));
      }
      if (!draining && thread.isAlive()) {
        // Left behind, and nothing else would say so: where it is says what holds it.
        log.warn("the deadline watchdog thread {} did not end within {} ms of the last "
            + "ApiClient's close(); it is left running and ends once what holds it returns",
            thread.getName(), TimeUnit.NANOSECONDS.toMillis(STOP_WAIT_NANOS), where(thread));
      }
      for (Thread t : cancelling) {
        log.warn("a cancel of a call past its deadline ({}) did not return within {} ms of the "
            + "last ApiClient's close(), held in an EventListener.canceled that blocks, say; it "
            + "is left running and ends once that returns", t,
            TimeUnit.NANOSECONDS.toMillis(STOP_WAIT_NANOS), where(t));
      }
      // The pool's idle threads end now, a held one once its cancel returns; a cancel the
      // draining thread still makes runs on that thread. Waited for within the same second
      // (a lock's condition, not a monitor: no carrier is pinned), so close() leaves none.
      cancellers.shutdown();
      while (!cancellers.isTerminated() && System.nanoTime() - giveUp < 0) {
        try {
          cancellers.awaitTermination(
              Math.max(1, giveUp - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }

    /** Where {@code t} is, as a throwable to log: it says what holds it. */
    private static Throwable where(Thread t) {
      Throwable at = new Throwable(t.getName() + " is here");
      at.setStackTrace(t.getStackTrace());
      return at;
    }

    @Override
    public void run() {
      try {
        while (!exited) {
          try {
            watch();
          } catch (RuntimeException | Error e) {
            // Deadlines would silently stop being enforced if this thread died: log, go on.
            log.error("deadline watchdog failed; continuing", e);
            LockSupport.parkNanos(this, TICK_NANOS);
          }
        }
      } finally {
        ended.countDown();
      }
    }

    private void watch() {
      while (true) {
        boolean took = takePushed();
        long now = System.nanoTime();
        while (!heap.isEmpty()) {
          Timer head = heap.peek();
          if (!head.armed()) {
            heap.poll();
          } else if (head.deadlineNanos - now <= 0) {
            heap.poll().fire(this);
          } else {
            break;
          }
        }
        if (heap.size() >= sweepAt) {
          heap.removeIf(t -> !t.armed());
          // Thousands in flight: sweep again only once the heap has doubled.
          sweepAt = Math.max(SWEEP_AT, heap.size() * 2);
        }
        if (heap.isEmpty()) {
          if (stopping) {
            // A push after this flag falls back to OkHttp's timeout; one before it is taken.
            exited = true;
            if (nothingPushed()) {
              return;
            }
            exited = false;
            continue;
          }
          if (!took) {
            // Nothing pushed for a whole tick: sleep until a push wakes us (a push after this
            // check sees idle).
            idle = true;
            if (nothingPushed() && !stopping) {
              LockSupport.park(this);
            }
            idle = false;
            continue;
          }
          // Attempts come and go, each done before we saw it: look again in a tick rather than
          // idle. Idling at once had the next push wake us, a system call on the attempt's
          // thread, as often as every tenth attempt of a thread calling without pause.
        } else if (stopping && !draining) {
          // Told to stop with attempts still in flight: stop() need not wait for them.
          draining = true;
        }
        long wake = now + TICK_NANOS;
        if (!heap.isEmpty() && heap.peek().deadlineNanos - wake < 0) {
          wake = heap.peek().deadlineNanos;
        }
        nextWakeNanos = wake;
        // A timer pushed before its pusher could see the new wake-up time did not wake us:
        // take it now, and look again at once if it is due sooner.
        takePushed();
        if (!heap.isEmpty() && heap.peek().deadlineNanos - wake < 0) {
          continue;
        }
        long sleep = wake - System.nanoTime();
        if (sleep > 0) {
          LockSupport.parkNanos(this, sleep);
        }
      }
    }

    /**
     * Takes {@code t}, whose attempt ended, off its stack if it is still on top, as it is when
     * the attempt ends before the thread looks and no other attempt pushed onto that stack
     * since (a thread calling alone): the thread then never walks it, which cost it a cache miss
     * for each attempt (~100 ns of its CPU per call, measured). Whether it was taken off.
     */
    boolean unpush(Timer t) {
      return pushed.get(t.at) == t && pushed.compareAndSet(t.at, t, t.next);
    }

    /**
     * Moves the pushed timers still armed into the heap; whether any timer was pushed since the
     * last look (even one taken off again).
     */
    private boolean takePushed() {
      boolean took = false;
      for (int at = 0; at < HEADS * HEAD_STRIDE; at += HEAD_STRIDE) {
        if (pushed.get(at + 1) != null) {
          pushed.set(at + 1, null);
          took = true;
        }
        if (pushed.get(at) == null) {
          continue;
        }
        took = true;
        int n = 0;
        for (Timer t = pushed.getAndSet(at, null); t != null; n++) {
          Timer next = t.next;
          t.next = null;
          if (t.armed()) {
            heap.add(t);
          }
          t = next;
        }
        taken.add(n);
      }
      return took;
    }

    /**
     * Whether every stack is empty. Each head is read after the caller's own volatile write
     * ({@link #idle}, {@link #exited}), and a pusher reads that flag after its compare-and-set,
     * so either this sees the push or the pusher sees the flag.
     */
    boolean nothingPushed() {
      for (int at = 0; at < HEADS * HEAD_STRIDE; at += HEAD_STRIDE) {
        if (pushed.get(at) != null) {
          return false;
        }
      }
      return true;
    }
  }
}
