package dev.outrigger.internal;

import java.time.Duration;

/** Durations as nanoseconds, for settings that accept any length ("no limit" included). */
public final class Durations {
  private Durations() {}

  /**
   * {@code d} in nanoseconds, or {@link Long#MAX_VALUE} ({@link Long#MIN_VALUE}) when it is
   * longer (more negative) than a {@code long} of nanoseconds holds, about 292 years:
   * {@code ChronoUnit.FOREVER.getDuration()}, a common way to write "no limit", is accepted
   * where {@link Duration#toNanos()} would throw {@link ArithmeticException}.
   */
  public static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }
}
