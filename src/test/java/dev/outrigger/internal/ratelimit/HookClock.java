package dev.outrigger.internal.ratelimit;

import dev.outrigger.internal.NanoClock;

/**
 * A clock moved by hand, from 7 s; its first sleep runs {@link #onSleep} (once), then throws
 * {@link InterruptedException} when {@link #interruptOnSleep} is set, or sleeps by moving.
 */
final class HookClock implements NanoClock {
  private static final long S = 1_000_000_000L;

  long now = 7 * S;
  Runnable onSleep;
  boolean interruptOnSleep;

  @Override
  public long nanoTime() {
    return now;
  }

  @Override
  public void sleepNanos(long nanos) throws InterruptedException {
    Runnable r = onSleep;
    onSleep = null;
    if (r != null) {
      r.run();
    }
    if (interruptOnSleep) {
      throw new InterruptedException();
    }
    now += Math.max(0, nanos);
  }
}
