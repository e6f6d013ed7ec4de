package dev.outrigger.internal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * A WARN that may recur on every call (a user's hook that throws each time), logged so that it
 * cannot flood the log: the first at once, with its stack trace; after it, at most one a
 * minute, each saying how many went unlogged since the one before; the rest only counted.
 * Lock-free; only a {@link #warn} reads the clock.
 */
public final class QuietWarn {
  /** The least time between two lines. */
  public static final long QUIET_NANOS = TimeUnit.MINUTES.toNanos(1);

  private final Logger log;
  private final NanoClock clock;
  private final String later;
  private final AtomicBoolean any = new AtomicBoolean();
  private final AtomicLong nextLogNanos = new AtomicLong();
  private final AtomicLong unlogged = new AtomicLong();

  /**
   * Logs to {@code log}, timed on {@code clock}; {@code later} names the later occurrences in
   * the first line ("its later throws": "... (its later throws are logged at most once a
   * minute)").
   */
  public QuietWarn(Logger log, NanoClock clock, String later) {
    this.log = log;
    this.clock = clock;
    this.later = later;
  }

  /** Logs {@code what} with {@code t}, or only counts it if a line went out less than a minute ago. */
  public void warn(String what, Throwable t) {
    warn(what, null, false, t);
  }

  /**
   * As {@link #warn(String, Throwable)}, {@code what} being a pattern with one {@code {}} that
   * {@code arg} fills, formatted only when a line is logged (a throw only counted does not call
   * {@code arg}'s {@code toString()}, and one that throws is logged as SLF4J does).
   */
  public void warn(String what, Object arg, Throwable t) {
    warn(what, arg, true, t);
  }

  private void warn(String what, Object arg, boolean hasArg, Throwable t) {
    long now = clock.nanoTime();
    if (!any.get()) {
      // Set before the flag: one racing the first finds the quiet minute begun.
      nextLogNanos.set(now + QUIET_NANOS);
      if (any.compareAndSet(false, true)) {
        log(what + " ({} are logged at most once a minute)", arg, hasArg, t, later);
        return;
      }
    }
    long next = nextLogNanos.get();
    // One thread logs once the quiet minute is over; the others count.
    if (now - next < 0 || !nextLogNanos.compareAndSet(next, now + QUIET_NANOS)) {
      unlogged.incrementAndGet();
      return;
    }
    long n = unlogged.getAndSet(0);
    if (n == 0) {
      log(what, arg, hasArg, t);
    } else {
      log(what + " (and {} more {} since the last one logged, not logged one by one)", arg,
          hasArg, t, n, n == 1 ? "time" : "times");
    }
  }

  /** Logs {@code pattern} with {@code arg} first (if it has one), then {@code more}, then t. */
  private void log(String pattern, Object arg, boolean hasArg, Throwable t, Object... more) {
    Object[] args = new Object[(hasArg ? 1 : 0) + more.length + 1];
    int i = 0;
    if (hasArg) {
      args[i++] = arg;
    }
    for (Object m : more) {
      args[i++] = m;
    }
    args[i] = t;
    log.warn(pattern, args);
  }
}
