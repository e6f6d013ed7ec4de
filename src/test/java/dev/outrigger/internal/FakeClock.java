package dev.outrigger.internal;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock that only moves when told: {@link #advance} by hand, or {@link #sleepNanos} (which
 * advances time by the requested amount at once and records it, so code that sleeps runs
 * instantly and tests can assert the exact waits).
 */
public final class FakeClock implements NanoClock {
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final List<Long> sleeps = new CopyOnWriteArrayList<>();

  @Override
  public long nanoTime() {
    return now.get();
  }

  @Override
  public void sleepNanos(long nanos) throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    if (nanos > 0) {
      sleeps.add(nanos);
      now.addAndGet(nanos);
    }
  }

  public void advance(long nanos) {
    now.addAndGet(nanos);
  }

  public void advanceMillis(long millis) {
    advance(millis * 1_000_000L);
  }

  /** Every sleep requested so far, in nanoseconds, in order. */
  public List<Long> sleeps() {
    return List.copyOf(sleeps);
  }
}
