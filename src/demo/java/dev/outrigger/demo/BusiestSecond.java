package dev.outrigger.demo;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counts events in 100 ms slots from the first one, to find the most in any one second (ten
 * consecutive slots). Thread-safe. An hour of slots; later events count in the last one.
 */
final class BusiestSecond {
  private final AtomicLongArray perTenth = new AtomicLongArray(36_000);
  /** When the first event came (0 until then): slots are timed from it. */
  private final AtomicLong firstNanos = new AtomicLong();

  /** Counts one event now. */
  void record() {
    firstNanos.compareAndSet(0, System.nanoTime());
    perTenth.incrementAndGet(slot(elapsedMs()));
  }

  /** Milliseconds since the first event (0 before it). */
  long elapsedMs() {
    long first = firstNanos.get();
    return first == 0 ? 0 : (System.nanoTime() - first) / 1_000_000;
  }

  private int slot(long ms) {
    return (int) Math.min(perTenth.length() - 1, ms / 100);
  }

  /** The most events in any one-second window so far. */
  long busiest() {
    long best = 0;
    int last = slot(elapsedMs());
    long window = 0;
    for (int i = 0; i <= last; i++) {
      window += perTenth.get(i);
      if (i >= 10) {
        window -= perTenth.get(i - 10);
      }
      best = Math.max(best, window);
    }
    return best;
  }
}
