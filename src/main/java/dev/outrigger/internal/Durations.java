package dev.outrigger.internal;

import java.math.BigDecimal;
import java.time.Duration;

/**
 * Durations as nanoseconds, for settings that accept any length ("no limit" included), and as
 * the text messages show.
 */
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

  /**
   * {@code nanos} as messages write a length of time, rather than {@link Duration#toString()}'s
   * {@code PT0.095185103S}: whole milliseconds ({@code 302 ms}), {@code under 1 ms} for less
   * than one but more than none, and from 100 s on seconds with the milliseconds as decimals
   * ({@code 172800 s}, {@code 150.5 s}); cut, never rounded up, to the millisecond.
   */
  public static String text(long nanos) {
    if (nanos > 0 && nanos < 1_000_000) {
      return "under 1 ms";
    }
    long millis = nanos / 1_000_000;
    return millis < 100_000 ? millis + " ms"
        : BigDecimal.valueOf(millis, 3).stripTrailingZeros().toPlainString() + " s";
  }
}
