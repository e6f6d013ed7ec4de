package dev.outrigger.internal.breaker;

import dev.outrigger.CircuitBreaker.State;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One immutable state of a breaker, and the token a call gets with its permission (opaque outside
 * this package). A breaker swaps whole states by compare-and-set; the mutable parts (a window, a
 * permit counter) are atomics owned by one state instance, so a call admitted under one state
 * records into that state and never into its successor.
 *
 * <p>Each state also carries why the breaker entered it, and a link to the state that replaced
 * it: the thread that installed the successor sets {@link #next}, and the breaker publishes its
 * transitions by walking these links, in the order the states replaced one another.
 */
public abstract sealed class BreakerState {
  /** Why the breaker entered this state, for its log line; null for a breaker's first state. */
  final String why;
  /**
   * The state that replaced this one, once the thread that installed it has linked it here, until
   * the transition is published (then null again, so a token kept by a long call holds no chain).
   */
  volatile BreakerState next;

  BreakerState(String why) {
    this.why = why;
  }

  abstract State state();

  /** Calls go through; their outcomes fill {@link #window}. */
  static final class Closed extends BreakerState {
    final Window window;

    Closed(Window window, String why) {
      super(why);
      this.window = window;
    }

    @Override
    State state() {
      return State.CLOSED;
    }
  }

  /** Calls are refused until {@link #untilNanos}. */
  static final class Open extends BreakerState {
    final long untilNanos;
    /** How many times the breaker opened since it was last closed (1 for the first). */
    final int openings;
    /** The counts that opened it (the window's, or the probes'). */
    final Window.Counts counts;

    Open(long untilNanos, int openings, Window.Counts counts, String why) {
      super(why);
      this.untilNanos = untilNanos;
      this.openings = openings;
      this.counts = counts;
    }

    @Override
    State state() {
      return State.OPEN;
    }
  }

  /**
   * {@link #permits} probes may go through; the last of them to complete decides. Outcomes are
   * packed in one long: completed probes in bits 42..62, failed in 21..41, slow in 0..20.
   */
  static final class HalfOpen extends BreakerState {
    static final long ONE_DONE = 1L << 42;
    static final long ONE_FAILED = 1L << 21;
    static final long ONE_SLOW = 1L;
    private static final long MASK = (1L << 21) - 1;

    final int openings;
    final AtomicInteger permits;
    final AtomicLong outcomes;

    HalfOpen(int permits, int openings, String why) {
      this(permits, openings, 0, why);
    }

    /** One with {@code outcomes} (packed) recorded already: a copy that takes another's place. */
    HalfOpen(int permits, int openings, long outcomes, String why) {
      super(why);
      this.permits = new AtomicInteger(permits);
      this.openings = openings;
      this.outcomes = new AtomicLong(outcomes);
    }

    /** Takes one probe permit; exact under any contention. */
    boolean tryAcquire() {
      int p;
      do {
        p = permits.get();
        if (p <= 0) {
          return false;
        }
      } while (!permits.compareAndSet(p, p - 1));
      return true;
    }

    static int done(long packed) {
      return (int) (packed >>> 42);
    }

    static Window.Counts counts(long packed) {
      return new Window.Counts(
          done(packed), (int) ((packed >>> 21) & MASK), (int) (packed & MASK));
    }

    @Override
    State state() {
      return State.HALF_OPEN;
    }
  }

  /**
   * Out of use: its table dropped the breaker, its client was closed, or no table kept it. Admits
   * a call (one that found the breaker just before) and records nothing, so the breaker never
   * moves again by itself and reports nothing more: the key's calls go to its table's next
   * breaker. Reads as CLOSED, the state the key starts over in. Only a hand can set it again.
   */
  static final class Dropped extends BreakerState {
    /** The window of the closed state it replaced, for snapshots; null if it was not closed. */
    final Window window;

    Dropped(Window window, String why) {
      super(why);
      this.window = window;
    }

    @Override
    State state() {
      return State.CLOSED;
    }
  }

  /** Set by hand: refuses every call. */
  static final class ForcedOpen extends BreakerState {
    ForcedOpen(String why) {
      super(why);
    }

    @Override
    State state() {
      return State.FORCED_OPEN;
    }
  }

  /**
   * Not a state of a breaker: what {@link BreakerStateMachine#acquire(BreakerState, long)} gives
   * a call it refuses, naming the state that refused it ({@link #by}: OPEN, FORCED_OPEN, or
   * HALF_OPEN with {@link #probesOut} probes out then), so that the refusal describes that state
   * and not one the breaker moved to since. Made on the refusal path only.
   */
  static final class Refused extends BreakerState {
    final BreakerState by;
    /**
     * For a half-open breaker, its probes let through and not ended when it refused (at least
     * one: a breaker whose probes have all ended installs their verdict rather than refuse).
     */
    final int probesOut;

    Refused(BreakerState by, int probesOut) {
      super(null);
      this.by = by;
      this.probesOut = probesOut;
    }

    @Override
    State state() {
      return by.state();
    }
  }

  /** Set by hand: admits every call, records nothing. */
  static final class Disabled extends BreakerState {
    Disabled(String why) {
      super(why);
    }

    @Override
    State state() {
      return State.DISABLED;
    }
  }
}
