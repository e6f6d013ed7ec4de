package dev.outrigger;

import java.time.Duration;

/**
 * What the benchmarks need of this package's internals to build a call's parts as the client
 * does. Bench only: not part of the library.
 */
public final class BenchAccess {
  private BenchAccess() {}

  /**
   * A deadline {@code timeout} after {@code now}, a reading of {@link System#nanoTime()} the
   * caller made: as {@link ApiClient} makes each call's, with no second clock reading.
   */
  public static Deadline deadlineAfter(Duration timeout, long now) {
    return Deadline.after(timeout, System::nanoTime, now);
  }
}
