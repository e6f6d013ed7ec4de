package dev.outrigger.redis;

import dev.outrigger.RateLimit;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An in-memory bucket with the semantics of {@link BucketScript} (the same GCRA arithmetic, in
 * nanoseconds of {@link System#nanoTime()}-like time), used while Redis cannot be reached.
 * Lock-free: the state is one immutable {@code long[]} swapped by compare-and-set, the theoretical
 * arrival time of each bandwidth followed by the end of the current server pause. Times are only
 * compared by subtraction.
 *
 * <p>Every time kept stays within 200 years of now, so no sum wraps a long of nanoseconds (292
 * years): an interval between permits, and so a burst's refill, is at most 50 years (the rarest
 * rate {@link RateLimit} accepts; its share, say one per 400 years for a tenth, would not fit in
 * a long), a wait longer than 50 years is refused whatever the caller accepts, and a pause is
 * cut to 50 years. The bucket starts empty, so a permit it gives 50 years on is never given
 * within any outage.
 */
final class LocalBucket {
  /** The longest interval, wait and pause: 50 years (of 365.25 days), in nanoseconds. */
  static final long MAX_NANOS = java.time.Duration.ofDays(36_525).toNanos() / 2;
  private final long[] interval;
  private final long[] tau;
  private final int maxPermits;
  private final AtomicReference<long[]> state;

  /**
   * An empty bucket at {@code nowNanos} for {@code share} of each bandwidth of {@code limit}:
   * {@code share} of its rate and of its burst (at least one permit). It starts empty because it
   * cannot know what the other clients took just before: an outage never begins with a burst.
   */
  LocalBucket(RateLimit limit, double share, long nowNanos) {
    List<RateLimit> bands = limit.bandwidths();
    int k = bands.size();
    this.interval = new long[k];
    this.tau = new long[k];
    int min = Integer.MAX_VALUE;
    long[] s = new long[k + 1];
    for (int i = 0; i < k; i++) {
      RateLimit b = bands.get(i);
      int burst = (int) Math.max(1, Math.floor(b.burst() * share));
      // Rounded up: the bucket may be a hair slower than asked, never faster (but for an
      // interval over 50 years, kept to 50 years: see the class comment).
      double exact = Math.ceil(b.period().toNanos() / (b.permits() * share));
      interval[i] = exact >= MAX_NANOS ? MAX_NANOS : Math.max(1, (long) exact);
      tau[i] = interval[i] * burst;
      min = Math.min(min, burst);
      s[i] = nowNanos + tau[i];
    }
    // No pause yet: as one that ended long before anything this bucket grants (see heldFor).
    s[k] = nowNanos - MAX_NANOS;
    this.maxPermits = min;
    this.state = new AtomicReference<>(s);
  }

  int maxPermits() {
    return maxPermits;
  }

  /**
   * Takes {@code n} permits now or in line, as {@link dev.outrigger.RateLimitStore#reserve}
   * answers: the wait ({@code >= 0}) when taken, minus the wait that did not fit otherwise, or
   * {@link dev.outrigger.RateLimitStore#NEVER}.
   */
  long reserve(long now, int n, long maxWaitNanos) {
    if (n > maxPermits) {
      return dev.outrigger.RateLimitStore.NEVER;
    }
    int k = interval.length;
    for (;;) {
      long[] s = state.get();
      long wake = now;
      for (int i = 0; i < k; i++) {
        wake = later(wake, later(s[i], now) + n * interval[i] - tau[i]);
      }
      long wait = wake - now;
      // Over 50 years: a queue that long would carry the times kept past a long's range.
      if (wait > maxWaitNanos || wait > MAX_NANOS) {
        return -Math.max(1, wait);
      }
      long[] t = s.clone();
      for (int i = 0; i < k; i++) {
        t[i] = later(s[i], wake) + n * interval[i];
      }
      if (state.compareAndSet(s, t)) {
        return wait;
      }
    }
  }

  /**
   * Pauses the bucket until {@code now + pauseNanos}, leaving one permit then, and returns how
   * much the pause grew. Bookings already made keep their times, as in {@link BucketScript}.
   */
  long pause(long now, long pauseNanos) {
    int k = interval.length;
    long until = now + Math.min(pauseNanos, MAX_NANOS);
    for (;;) {
      long[] s = state.get();
      long ext = until - later(s[k], now);
      if (ext <= 0) {
        return 0;
      }
      long[] t = new long[k + 1];
      for (int i = 0; i < k; i++) {
        t[i] = later(s[i], until + tau[i] - interval[i]);
      }
      t[k] = until;
      if (state.compareAndSet(s, t)) {
        return ext;
      }
    }
  }

  /**
   * As {@link dev.outrigger.RateLimitStore#heldFor} answers, for permits that came due at
   * {@code dueNanos}: how long the pause holding them still lasts at {@code now} (0 when it has
   * just ended), or -1 when the bucket's latest pause ended before they came due.
   */
  long heldFor(long now, long dueNanos) {
    long until = state.get()[interval.length];
    return until - dueNanos > 0 ? Math.max(0, until - now) : -1;
  }

  /**
   * Leaves no permit stored at {@code now}, as in a bucket made then: each bandwidth's
   * theoretical arrival time moves to {@code now + tau} when it is earlier. A pause and the
   * calls in line keep their times.
   */
  void empty(long now) {
    int k = interval.length;
    for (;;) {
      long[] s = state.get();
      long[] t = s.clone();
      boolean moved = false;
      for (int i = 0; i < k; i++) {
        if (now + tau[i] - s[i] > 0) {
          t[i] = now + tau[i];
          moved = true;
        }
      }
      if (!moved || state.compareAndSet(s, t)) {
        return;
      }
    }
  }

  /**
   * Whether this bucket holds nothing that one made empty at {@code now} (of the same share)
   * would not: no pause ahead, and no call in line past an empty bucket.
   */
  boolean settled(long now) {
    long[] s = state.get();
    int k = interval.length;
    if (s[k] - now > 0) {
      return false;
    }
    for (int i = 0; i < k; i++) {
      if (s[i] - (now + tau[i]) > 0) {
        return false;
      }
    }
    return true;
  }

  private static long later(long a, long b) {
    return a - b > 0 ? a : b;
  }
}
