package dev.outrigger.internal.http;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import okio.AsyncTimeout;

/**
 * Keeps Okio's timeout watchdog from being woken by every socket read.
 *
 * <p>OkHttp's read and write timeouts (and its call timeout, where {@link DeadlineWatchdog}
 * falls back to it) are Okio {@code AsyncTimeout}s: every socket read or write enters one shared
 * priority queue of deadlines, watched by one Okio thread. When a new deadline becomes the head
 * of that queue, Okio signals the watchdog, which costs a thread wake-up (several microseconds)
 * on the calling thread. With one call at a time the queue is empty between reads, so every
 * read would pay it. This keeper parks a sentinel deadline {@link #PERIOD_MILLIS} ahead at the
 * head of the queue and re-arms it when it fires: a read's deadline (seconds, usually) then
 * lands behind it and no signal is needed. Only timeouts shorter than the sentinel's remaining
 * time still wake the watchdog, so precision is unchanged.
 *
 * <p>The sentinel runs while at least one {@code ApiClient} is open ({@link #acquire} and
 * {@link #release} count them); after the last closes, Okio's watchdog idles out as usual.
 */
public final class WatchdogKeeper {
  static final long PERIOD_MILLIS = 200;

  private static final SharedWhileUsed<Sentinel> SENTINEL = new SharedWhileUsed<>(() -> {
    Sentinel s = new Sentinel();
    s.arm();
    return s;
  }, Sentinel::stop);

  private WatchdogKeeper() {}

  public static void acquire() {
    SENTINEL.acquire();
  }

  public static void release() {
    SENTINEL.release();
  }

  /** Whether a sentinel is armed (for tests). */
  static boolean running() {
    return SENTINEL.current() != null;
  }

  private static final class Sentinel extends AsyncTimeout {
    private final ReentrantLock lock = new ReentrantLock();
    private boolean stopped;

    Sentinel() {
      timeout(PERIOD_MILLIS, TimeUnit.MILLISECONDS);
    }

    void arm() {
      lock.lock();
      try {
        if (!stopped) {
          enter();
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    protected void timedOut() {
      // Called on Okio's watchdog thread once the sentinel's time is up: re-arm it.
      lock.lock();
      try {
        exit();
        if (!stopped) {
          enter();
        }
      } finally {
        lock.unlock();
      }
    }

    void stop() {
      lock.lock();
      try {
        stopped = true;
        exit();
      } finally {
        lock.unlock();
      }
    }
  }
}
