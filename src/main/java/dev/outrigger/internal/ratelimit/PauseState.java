package dev.outrigger.internal.ratelimit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A key's server-imposed pause, shared by the key's bucket and the buckets that replace it when
 * the key is reconfigured, so that waiters see every pause whichever bucket they reserved in.
 *
 * <p>{@code until} is when the latest pause ends; {@code shift} is the total time all pauses so
 * far have pushed the key's schedule back. A waiter remembers the shift when it reserved and
 * sleeps that much longer for every pause that came after.
 */
final class PauseState {
  private static final VarHandle UNTIL;
  private static final VarHandle SHIFT;
  private static final VarHandle SHIFT_BEGUN;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      UNTIL = l.findVarHandle(PauseState.class, "until", long.class);
      SHIFT = l.findVarHandle(PauseState.class, "shift", long.class);
      SHIFT_BEGUN = l.findVarHandle(PauseState.class, "shiftBegun", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private volatile long until;
  private volatile long shift;
  /**
   * {@link #shift} plus the extensions of the pauses under way: added before a pause's new end
   * shows (taken back if it does not), so before it shifts the bucket's state, where
   * {@code shift} grows only after. Read after a state, it counts every pause that state carries
   * (and perhaps one it does not yet: stricter); equal to {@code shift}, no pause is under way.
   */
  private volatile long shiftBegun;
  /**
   * The shift when the latest stretch of pauses began (a pause of a key that was not paused):
   * a waiter that booked before it, and that the stretch moved, tells its due time was then.
   */
  private volatile long periodShift;
  /**
   * For a key's bucket built from the shared overflow bucket: that bucket's
   * {@link #shiftBegun()}, read after its state was. A reservation carried over sits where that
   * bucket's pauses had moved it by then, and this key's own pauses move it from there. 0 for
   * any other bucket. (Its {@link #shift()}, read before the state, would miss a pause that
   * shifted the state between the two reads; read after, one that had shifted the state but
   * not yet added its shift: the waiter would go before its place by that pause.)
   */
  final long shiftAtStart;

  long periodShift() {
    return periodShift;
  }

  PauseState(long nowNanos) {
    this(nowNanos, 0);
  }

  /** Unpaused before {@code untilNanos}; {@code shiftAtStart}: see {@link #shiftAtStart}. */
  PauseState(long untilNanos, long shiftAtStart) {
    this.until = untilNanos;
    this.shiftAtStart = shiftAtStart;
  }

  /** Nanoseconds of pauses so far; only differences of two readings mean anything. */
  long shift() {
    return shift;
  }

  /** {@link #shift()} with the pauses under way: see {@link #shiftBegun}. */
  long shiftBegun() {
    return shiftBegun;
  }

  long until() {
    return until;
  }

  /**
   * Moves the end of the pause to {@code untilNanos} if that is later, and returns by how much
   * the pause grew from {@code nowNanos} on (0 when it did not), counted in
   * {@link #shiftBegun()} before the new end shows: the caller then shifts the bucket's state
   * and calls {@link #addShift}, or {@link #withdrawShift} if it shifts none.
   */
  long extendTo(long nowNanos, long untilNanos) {
    for (;;) {
      long u = until;
      long from = u - nowNanos > 0 ? u : nowNanos;
      long ext = untilNanos - from;
      if (ext <= 0) {
        return 0;
      }
      // Under way before its end shows: see TokenBucket.retireInto.
      SHIFT_BEGUN.getAndAdd(this, ext);
      if (UNTIL.compareAndSet(this, u, untilNanos)) {
        if (u - nowNanos <= 0) {
          periodShift = shift;
        }
        return ext;
      }
      SHIFT_BEGUN.getAndAdd(this, -ext);
    }
  }

  /** Called once the bucket's state carries the extension. */
  void addShift(long nanos) {
    SHIFT.getAndAdd(this, nanos);
  }

  /** Called instead of {@link #addShift} when the bucket of this state was left unshifted. */
  void withdrawShift(long nanos) {
    SHIFT_BEGUN.getAndAdd(this, -nanos);
  }
}
