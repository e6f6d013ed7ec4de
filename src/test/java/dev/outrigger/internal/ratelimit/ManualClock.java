package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.fail;

import dev.outrigger.internal.NanoClock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A clock moved only by {@link #advance}; unlike {@code FakeClock}, {@link #sleepNanos} blocks
 * until the clock has been advanced past the sleeper's wake time, so several threads can wait on
 * it at once and a test decides when each may go. {@link #awaitSleepers} lets the test wait
 * until threads have started sleeping.
 */
final class ManualClock implements NanoClock {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private volatile long now = 1_000_000_000L;
  private int sleepers;

  @Override
  public long nanoTime() {
    return now;
  }

  @Override
  public void sleepNanos(long nanos) throws InterruptedException {
    lock.lock();
    try {
      long until = now + nanos;
      sleepers++;
      changed.signalAll();
      try {
        while (now - until < 0) {
          changed.await();
        }
      } finally {
        sleepers--;
        changed.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  void advance(long nanos) {
    lock.lock();
    try {
      now += nanos;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  void advanceMillis(long millis) {
    advance(TimeUnit.MILLISECONDS.toNanos(millis));
  }

  /** Waits (up to 10 s of real time) until at least {@code n} threads are sleeping. */
  void awaitSleepers(int n) throws InterruptedException {
    lock.lock();
    try {
      long left = TimeUnit.SECONDS.toNanos(10);
      while (sleepers < n) {
        if (left <= 0) {
          fail("expected " + n + " sleepers, but " + sleepers + " are sleeping");
        }
        left = changed.awaitNanos(left);
      }
    } finally {
      lock.unlock();
    }
  }
}
