package dev.outrigger.internal.breaker;

import dev.outrigger.internal.Stripes;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The last {@code size} calls, lock-free.
 *
 * <p><b>The ring.</b> Each call has a position (a sequence number taken with an atomic add) and
 * the slot {@code position mod size}. The slot holds the outcome of the call {@code size}
 * positions earlier, which this call evicts: the recorder swaps its own outcome in and adds the
 * difference of the two outcomes' weights to the totals. A fast success evicting a fast success
 * changes nothing, so it only reads the slot. Calls in the window are
 * {@code min(positions taken, size)}, so they need no counter of their own. Two recorders can
 * meet on one slot only if one of them is {@code size} positions behind; they then swap in either
 * order, and the totals stay equal to the sum of the slots either way.
 *
 * <p><b>Striped successes.</b> Taking a position on every call would make every call write the
 * same cache line, which costs tens of nanoseconds once two cores call at once. So once the
 * window holds its minimum number of calls, a fast success only adds one to a pending count in a
 * cell of its own (one of {@link #STRIPES} padded cells, chosen by thread id), and the cell's
 * pending successes take their positions together when {@link #BATCH} have gathered. Nothing is
 * decided from a pending success: a success cannot raise the rates (once the minimum is reached),
 * and before anything is decided or reported (a failed or slow call, a snapshot) every cell is
 * flushed first. Pending successes therefore only take their place in the ring a little late,
 * before any later bad call, and the rates a decision sees are those of the last {@code size}
 * calls up to the order of calls that were in flight at the same time.
 *
 * <p>The sequence gets a cache line of its own (padding fields before and after), away from the
 * read-mostly fields every call reads.
 */
final class CountWindow extends CountWindowPadAfter {
  /** Pending-success cells: a power of two, about four per core, at most 32. */
  static final int STRIPES = Stripes.count(4, 32);
  private static final int SHIFT = 64 - Integer.numberOfTrailingZeros(STRIPES);
  /** Pending successes a cell gathers before they take their positions. */
  static final int BATCH = 32;
  /** Longs per cache line: cells sit this far apart. */
  private static final int LINE = 8;

  private static final VarHandle SEQ;
  private static final VarHandle WEIGHTS;
  private static final VarHandle SLOTS = MethodHandles.arrayElementVarHandle(byte[].class);
  private static final VarHandle CELLS = MethodHandles.arrayElementVarHandle(long[].class);

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      SEQ = l.findVarHandle(CountWindowSequence.class, "sequence", long.class);
      WEIGHTS = l.findVarHandle(CountWindow.class, "weights", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final int size;
  private final int minimumCalls;
  /** Lemire's fastmod constant: {@code ceil(2^64 / size)}, to avoid a division per position. */
  private final long magic;
  private final byte[] slots;
  /** Cell {@code c} at {@code (c + 1) * LINE}: a line of padding before, between and after. */
  private final long[] cells = new long[(STRIPES + 2) * LINE];
  /** The sum of the weights of the outcomes in the slots. */
  private volatile long weights;
  /** Set once the window has held its minimum number of calls: successes may then pend. */
  private volatile boolean warm;

  CountWindow(int size, int minimumCalls) {
    this.size = size;
    this.minimumCalls = minimumCalls;
    this.magic = Long.divideUnsigned(-1L, size) + 1;
    this.slots = new byte[size];
  }

  @Override
  boolean record(int outcome, long nowNanos) {
    if (outcome == 0 && warm) {
      int cell = cell();
      long pending = (long) CELLS.getAndAdd(cells, cell, 1L) + 1;
      if (pending >= BATCH) {
        place((long) CELLS.getAndSet(cells, cell, 0L), 0);
      }
      return false;
    }
    if (outcome != 0) {
      // Earlier successes take their places before this call, so that a decision sees them.
      flush();
      place(1, outcome);
      return true;
    }
    long calls = place(1, 0);
    if (calls >= minimumCalls) {
      warm = true;
      // A success can only lower the rates, except by bringing the window to its minimum.
      return calls == minimumCalls;
    }
    return false;
  }

  /** A warm window adds a fast success to a pending count: no time, no decision. */
  @Override
  boolean recordsSuccessWithoutTime() {
    return warm;
  }

  @Override
  Counts counts(long nowNanos) {
    flush();
    long seq = (long) SEQ.getVolatile(this);
    return decode(Math.min(seq, size), weights);
  }

  /**
   * Gives {@code n} calls of one outcome the next positions and writes their slots.
   *
   * @return the number of positions taken so far, these included
   */
  private long place(long n, int outcome) {
    if (n <= 0) {
      return (long) SEQ.getVolatile(this);
    }
    long start = (long) SEQ.getAndAdd(this, n);
    // Of a batch longer than the ring, only the last size calls stay in it.
    long skip = Math.max(0, n - size);
    int i = index(start + skip);
    for (long k = skip; k < n; k++) {
      // The common case, a fast success replacing one, changes nothing: skip the write. It is
      // linearised just before whatever swap may race with it, so the totals stay exact.
      if ((byte) SLOTS.getVolatile(slots, i) != outcome) {
        int old = (byte) SLOTS.getAndSet(slots, i, (byte) outcome);
        long delta = weight(outcome) - weight(old);
        if (delta != 0) {
          WEIGHTS.getAndAdd(this, delta);
        }
      }
      if (++i == size) {
        i = 0;
      }
    }
    return start + n;
  }

  /** Places every cell's pending successes. */
  private void flush() {
    for (int c = 1; c <= STRIPES; c++) {
      int at = c * LINE;
      if ((long) CELLS.getVolatile(cells, at) != 0) {
        place((long) CELLS.getAndSet(cells, at, 0L), 0);
      }
    }
  }

  /** This thread's cell: Fibonacci hashing spreads consecutive thread ids over the cells. */
  private static int cell() {
    long id = Thread.currentThread().threadId();
    return ((int) ((id * 0x9E37_79B9_7F4A_7C15L) >>> SHIFT) + 1) * LINE;
  }

  /**
   * {@code seq mod size}, computed on the low 32 bits of {@code seq} with Lemire's fastmod
   * (a multiplication instead of a division). When the 32-bit count wraps (every 4.3 billion
   * calls in one CLOSED period) the ring skips ahead once: a few slots are overwritten early,
   * which the totals follow exactly.
   */
  int index(long seq) {
    long low = magic * (seq & 0xFFFF_FFFFL);
    return (int) Math.unsignedMultiplyHigh(low, size);
  }
}

/** Padding before the sequence (a cache line is 64 bytes). */
abstract class CountWindowPadBefore extends Window {
  long p01, p02, p03, p04, p05, p06, p07;
}

/** The positions taken so far, alone on its cache line. */
abstract class CountWindowSequence extends CountWindowPadBefore {
  volatile long sequence;
}

/** Padding after the sequence. */
abstract class CountWindowPadAfter extends CountWindowSequence {
  long p11, p12, p13, p14, p15, p16, p17;
}
