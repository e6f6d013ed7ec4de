package dev.outrigger.internal;

import java.util.concurrent.locks.LockSupport;

/**
 * Monotonic time and sleeping, injectable so that time logic is tested deterministically.
 *
 * <p>Every internal class that reads time or waits takes a {@code NanoClock}; production code
 * uses {@link #SYSTEM}, tests a fake that moves time by hand.
 */
public interface NanoClock {

  /** Monotonic nanoseconds, comparable only with other values from the same clock. */
  long nanoTime();

  /**
   * Sleeps about {@code nanos} (nothing when {@code nanos <= 0}) by parking, never spinning.
   *
   * @throws InterruptedException if the thread is interrupted while sleeping; the interrupt
   *     status is cleared as usual
   */
  void sleepNanos(long nanos) throws InterruptedException;

  /** {@link System#nanoTime()} and {@link LockSupport#parkNanos(long)}. */
  NanoClock SYSTEM = new NanoClock() {
    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public void sleepNanos(long nanos) throws InterruptedException {
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
      long end = System.nanoTime() + nanos;
      for (long left = nanos; left > 0; left = end - System.nanoTime()) {
        LockSupport.parkNanos(left);
        if (Thread.interrupted()) {
          throw new InterruptedException();
        }
      }
    }

    @Override
    public String toString() {
      return "NanoClock.SYSTEM";
    }
  };
}
