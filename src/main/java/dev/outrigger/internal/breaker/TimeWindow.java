package dev.outrigger.internal.breaker;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The calls of the last {@code seconds} seconds, in one bucket per second, lock-free.
 *
 * <p>Epochs are whole seconds since the window was created. Bucket {@code e mod seconds} holds
 * epoch {@code e} as three counters (calls, failed calls, slow calls), each a long word tagged
 * with its epoch: the epoch in the high 32 bits, the count in the low 32. Adding to a counter is
 * one compare-and-set that checks the tag in the same step; a counter whose tag is older is
 * recycled by a compare-and-set to the new epoch, and the count it held is subtracted from the
 * window's totals by the one thread whose compare-and-set won. Each counter and its total thus
 * stay exactly consistent without a lock, whatever the interleaving.
 *
 * <p>When time moves past the newest epoch seen (the head), the thread that moves the head
 * recycles every bucket whose second left the window, so the totals never count expired calls:
 * amortised O(1), each bucket is recycled at most once per second, and a long idle period costs
 * one pass over the buckets.
 *
 * <p>As in {@link CountWindow}, once the window holds its minimum number of calls a fast success
 * of the current second only adds one to a pending count in a padded cell of its own (tagged with
 * its epoch, like the counters), placed in its bucket when {@link CountWindow#BATCH} have gathered
 * or the second changes; every cell is flushed before anything is decided or reported. A moved
 * head, or totals that fell below the minimum, send calls back through the direct path.
 */
final class TimeWindow extends Window {
  private static final long SECOND = 1_000_000_000L;
  private static final long COUNT = 0xFFFF_FFFFL;
  private static final int CALLS = 0;
  private static final int FAILS = 1;
  private static final int SLOWS = 2;
  private static final int LINE = 8;
  private static final int SHIFT = 64 - Integer.numberOfTrailingZeros(CountWindow.STRIPES);
  private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);
  private static final VarHandle HEAD;
  private static final VarHandle TOTAL_CALLS;
  private static final VarHandle TOTAL_FAILS;
  private static final VarHandle TOTAL_SLOWS;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      HEAD = l.findVarHandle(TimeWindow.class, "head", Head.class);
      TOTAL_CALLS = l.findVarHandle(TimeWindow.class, "totalCalls", long.class);
      TOTAL_FAILS = l.findVarHandle(TimeWindow.class, "totalFails", long.class);
      TOTAL_SLOWS = l.findVarHandle(TimeWindow.class, "totalSlows", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The newest epoch seen and its bucket (so the common case needs no division). */
  private record Head(long epoch, int index) {}

  private final int seconds;
  private final int minimumCalls;
  private final long originNanos;
  /** Bucket {@code i}'s counters at {@code 3 * i + CALLS / FAILS / SLOWS}. */
  private final long[] words;
  private volatile Head head = new Head(0, 0);
  private volatile long totalCalls;
  private volatile long totalFails;
  private volatile long totalSlows;
  /** Pending successes: cell {@code c} at {@code (c + 1) * LINE}, epoch and count packed. */
  private final long[] cells = new long[(CountWindow.STRIPES + 2) * LINE];
  /** Whether the totals hold the minimum number of calls, so that successes may pend. */
  private volatile boolean warm;
  /**
   * Set when a snapshot ({@link #counts}) moved the window on: the calls it dropped may have
   * raised the rates, and no recorded call has had them evaluated since.
   */
  private volatile boolean movedUnevaluated;

  TimeWindow(int seconds, int minimumCalls, long nowNanos) {
    this.seconds = seconds;
    this.minimumCalls = minimumCalls;
    this.originNanos = nowNanos;
    this.words = new long[3 * seconds];
  }

  @Override
  boolean record(int outcome, long nowNanos) {
    long e = epoch(nowNanos);
    Head h = head;
    if (outcome == 0 && warm && e == h.epoch) {
      pend(e);
      if (movedUnevaluated) {
        // A snapshot moved the window: this call has the thresholds looked at, as the call
        // that moved it would have.
        movedUnevaluated = false;
        return true;
      }
      return false;
    }
    if (outcome != 0) {
      flush();
    }
    boolean advanced = false;
    int i;
    if (e == h.epoch) {
      i = h.index;
    } else if (e > h.epoch) {
      advanceTo(e);
      advanced = true;
      i = bucket(e);
    } else if (e > h.epoch - seconds) {
      // Another thread moved the head while this call finished: its second is still in the window.
      i = bucket(e);
    } else {
      return false;
    }
    if (!add(3 * i + CALLS, e, 1, TOTAL_CALLS)) {
      // The bucket already holds a newer second: this call is older than the window.
      return advanced;
    }
    long total = (long) TOTAL_CALLS.getAndAdd(this, 1L) + 1;
    if (total >= minimumCalls && !warm) {
      warm = true;
    }
    if (outcome == 0) {
      // A success can only lower the rates, except by bringing the window to its minimum;
      // expired successes (a moved head) can raise them.
      return advanced || total == minimumCalls;
    }
    if ((outcome & FAILED) != 0 && add(3 * i + FAILS, e, 1, TOTAL_FAILS)) {
      TOTAL_FAILS.getAndAdd(this, 1L);
    }
    if ((outcome & SLOW) != 0 && add(3 * i + SLOWS, e, 1, TOTAL_SLOWS)) {
      TOTAL_SLOWS.getAndAdd(this, 1L);
    }
    return true;
  }

  /** Adds a fast success of epoch {@code e} (the head's) to this thread's pending cell. */
  private void pend(long e) {
    long id = Thread.currentThread().threadId();
    int cell = ((int) ((id * 0x9E37_79B9_7F4A_7C15L) >>> SHIFT) + 1) * LINE;
    while (true) {
      long v = (long) WORDS.getVolatile(cells, cell);
      long tag = v >>> 32;
      long n = v & COUNT;
      if (tag == e && n + 1 < CountWindow.BATCH) {
        if (WORDS.compareAndSet(cells, cell, v, v + 1)) {
          return;
        }
      } else if (tag == e) {
        if (WORDS.compareAndSet(cells, cell, v, e << 32)) {
          place(e, n + 1);
          return;
        }
      } else if (WORDS.compareAndSet(cells, cell, v, (e << 32) | 1)) {
        // The cell held successes of an earlier second: they go to that second's bucket.
        place(tag, n);
        return;
      }
    }
  }

  /** Places {@code n} fast successes of epoch {@code e} in its bucket, if still in the window. */
  private void place(long e, long n) {
    if (n == 0 || e <= head.epoch - seconds) {
      return;
    }
    if (add(3 * bucket(e) + CALLS, e, n, TOTAL_CALLS)) {
      TOTAL_CALLS.getAndAdd(this, n);
    }
  }

  /** Places every cell's pending successes. */
  private void flush() {
    for (int c = 1; c <= CountWindow.STRIPES; c++) {
      int at = c * LINE;
      if ((long) WORDS.getVolatile(cells, at) != 0) {
        long v = (long) WORDS.getAndSet(cells, at, 0L);
        place(v >>> 32, v & COUNT);
      }
    }
  }

  /**
   * Adds {@code n} to counter {@code w} for epoch {@code e}, recycling it first if it holds an
   * older epoch; false (nothing added) if it holds a newer one. The caller adds {@code n} to the
   * total.
   */
  private boolean add(int w, long e, long n, VarHandle total) {
    while (true) {
      long v = (long) WORDS.getVolatile(words, w);
      long tag = v >>> 32;
      if (tag == e) {
        if ((v & COUNT) + n > COUNT) {
          return false; // 4 billion calls in one second: saturated
        }
        if (WORDS.compareAndSet(words, w, v, v + n)) {
          return true;
        }
      } else if (tag > e) {
        return false;
      } else if (WORDS.compareAndSet(words, w, v, (e << 32) | n)) {
        subtract(total, v & COUNT);
        return true;
      }
    }
  }

  /** Moves counter {@code w} to epoch {@code e} with a count of 0 if it holds an older epoch. */
  private void recycle(int w, long e, VarHandle total) {
    while (true) {
      long v = (long) WORDS.getVolatile(words, w);
      if (v >>> 32 >= e) {
        return;
      }
      if (WORDS.compareAndSet(words, w, v, e << 32)) {
        subtract(total, v & COUNT);
        return;
      }
    }
  }

  private void subtract(VarHandle total, long count) {
    if (count != 0) {
      total.getAndAdd(this, -count);
    }
  }

  @Override
  Counts counts(long nowNanos) {
    long e = epoch(nowNanos);
    if (e > head.epoch) {
      advanceTo(e);
      movedUnevaluated = true;
    }
    flush();
    return counts(totalCalls, totalFails, totalSlows);
  }

  /** Whole seconds since creation; a clock reading before it counts in the first second. */
  private long epoch(long nowNanos) {
    return Math.max(0, nowNanos - originNanos) / SECOND;
  }

  private int bucket(long epoch) {
    return (int) (epoch % seconds);
  }

  /** Moves the head to {@code e}; the thread that moves it recycles the buckets that expired. */
  private void advanceTo(long e) {
    while (true) {
      Head h = head;
      if (h.epoch >= e) {
        return;
      }
      if (HEAD.compareAndSet(this, h, new Head(e, bucket(e)))) {
        // Epochs h+1..e take over the buckets of h+1-seconds..e-seconds, which left the window.
        long from = Math.max(h.epoch + 1, e - seconds + 1);
        int j = bucket(from);
        for (long x = from; x <= e; x++) {
          recycle(3 * j + CALLS, x, TOTAL_CALLS);
          recycle(3 * j + FAILS, x, TOTAL_FAILS);
          recycle(3 * j + SLOWS, x, TOTAL_SLOWS);
          if (++j == seconds) {
            j = 0;
          }
        }
        if (totalCalls < minimumCalls) {
          // Below the minimum again: successes must count directly to notice reaching it.
          warm = false;
        }
        return;
      }
    }
  }
}
