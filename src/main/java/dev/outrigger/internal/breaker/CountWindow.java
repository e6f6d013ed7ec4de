package dev.outrigger.internal.breaker;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The last {@code size} calls, lock-free.
 *
 * <p>Each call takes the next sequence number with one atomic add; its slot is that number
 * modulo {@code size}. The slot holds the outcome of the call {@code size} places earlier, which
 * this call evicts: the recorder swaps its own outcome in and adds the difference of the two
 * outcomes' weights to the totals. The common case, a fast success evicting a fast success,
 * changes nothing, so it only reads the slot: one atomic operation per call. Calls in the window
 * are {@code min(sequence, size)}, so they need no counter of their own.
 *
 * <p>Two recorders can meet on one slot only if one of them is {@code size} calls behind; they
 * then swap in either order, and the totals stay equal to the sum of the slots either way.
 *
 * <p>The sequence is the only field written on every call, so it gets a cache line of its own
 * (padding fields before and after), away from the read-mostly fields every call also reads.
 */
final class CountWindow extends CountWindowPadAfter {
  private static final VarHandle SEQ;
  private static final VarHandle WEIGHTS;
  private static final VarHandle SLOTS = MethodHandles.arrayElementVarHandle(byte[].class);

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
  /** Lemire's fastmod constant: {@code ceil(2^64 / size)}, to avoid a division per call. */
  private final long magic;
  private final byte[] slots;
  /** The sum of the weights of the outcomes in the slots. */
  private volatile long weights;

  CountWindow(int size, int minimumCalls) {
    this.size = size;
    this.minimumCalls = minimumCalls;
    this.magic = Long.divideUnsigned(-1L, size) + 1;
    this.slots = new byte[size];
  }

  @Override
  boolean record(int outcome, long nowNanos) {
    long seq = (long) SEQ.getAndAdd(this, 1L);
    int i = index(seq);
    // A fast success replacing a fast success changes nothing: skip the write. Linearised as
    // happening just before whatever swap may race with it, so the totals stay exact.
    if ((byte) SLOTS.getVolatile(slots, i) != outcome) {
      int old = (byte) SLOTS.getAndSet(slots, i, (byte) outcome);
      long delta = weight(outcome) - weight(old);
      if (delta != 0) {
        WEIGHTS.getAndAdd(this, delta);
      }
    }
    // A success can only lower the rates, except by bringing the window to its minimum.
    return outcome != 0 || seq + 1 == minimumCalls;
  }

  @Override
  Counts counts(long nowNanos) {
    long seq = (long) SEQ.getVolatile(this);
    return decode(Math.min(seq, size), weights);
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

/** The sequence of recorded calls, alone on its cache line. */
abstract class CountWindowSequence extends CountWindowPadBefore {
  volatile long sequence;
}

/** Padding after the sequence. */
abstract class CountWindowPadAfter extends CountWindowSequence {
  long p11, p12, p13, p14, p15, p16, p17;
}
