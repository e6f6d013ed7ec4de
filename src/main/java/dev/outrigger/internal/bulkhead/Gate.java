package dev.outrigger.internal.bulkhead;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One host's slots under a static in-flight limit: a single count of the attempts holding or
 * waiting for a slot ({@code -1} once retired), so an attempt that finds a slot free takes it
 * with one compare-and-set and gives it back with one atomic decrement. An attempt that counts
 * itself in beyond the limit waits on {@link #handoff}, a fair semaphore with no permits of its
 * own; a holder that leaves while the count is above the limit hands its slot over through it,
 * to the attempt that has waited longest.
 *
 * <p>Why the limit holds: let E be the count's excess over the limit, W the waiters not yet
 * handed a slot, and P the slots handed over but not yet taken (the semaphore's permits). An
 * arrival beyond the limit adds one to E and to W; a holder leaving while E > 0 takes one from E
 * and adds one to P; a waiter taking a permit takes one from W and from P; a waiter giving up
 * while E > 0 takes one from E and from W. (P counts a slot from the moment its holder counts
 * itself out, a moment before the permit appears.) So W - P = E throughout. The holders are the
 * count less the waiters, count - E - P = min(count, limit) - P: never above the limit. An
 * arrival finds a free slot only when E = 0, that is when every waiter has had a slot handed
 * over: nobody is passed over. A waiter that gives up when E = 0 (so W = P, and a slot was
 * handed over for it) takes a permit while still counted, then leaves as a holder does: as if
 * it had taken the slot and given it back.
 *
 * <p>The count's bit {@link #USED} marks a gate joined since the limiter last looked for gates
 * to drop ({@link #sweep}); it rides on the compare-and-set that counts the caller in, so it
 * costs a call nothing. Everything above reads the count without it.
 *
 * <p>Thread-safe. Waiting parks on the semaphore, which never pins a virtual thread.
 */
final class Gate {
  /** Set by every {@link #join}, cleared by a {@link #sweep} that finds the gate idle. */
  private static final int USED = 1 << 30;
  private static final int COUNT = USED - 1;

  private final int limit;
  private final AtomicInteger count = new AtomicInteger();
  private final Semaphore handoff = new Semaphore(0, true);

  Gate(int limit) {
    this.limit = limit;
  }

  /**
   * Counts the caller in. Returns the count before it: below the limit, the caller holds a slot;
   * at or above it, the caller must {@link #await} one. Returns -1 if this gate is retired (the
   * caller must use a fresh one).
   */
  int join() {
    while (true) {
      int c = count.get();
      if (c < 0) {
        return -1;
      }
      if (count.compareAndSet(c, (c + 1) | USED)) {
        return c & COUNT;
      }
    }
  }

  /**
   * Waits up to {@code nanos} ({@code Long.MAX_VALUE}: without limit) for a slot handed over,
   * first come first served. False if the time ran out: the caller must then {@link #giveUp}.
   */
  boolean await(long nanos) throws InterruptedException {
    if (nanos == Long.MAX_VALUE) {
      handoff.acquire();
      return true;
    }
    return nanos > 0 && handoff.tryAcquire(nanos, TimeUnit.NANOSECONDS);
  }

  /** A holder leaves, handing its slot to the longest waiter if any. True if now idle. */
  boolean leave() {
    return handOver(countOut());
  }

  /** The first half of {@link #leave}: counts a holder out; returns the count before. */
  int countOut() {
    return count.getAndDecrement() & COUNT;
  }

  /**
   * The second half of {@link #leave}, given the count before: hands the slot over if attempts
   * wait. True if now idle.
   */
  boolean handOver(int was) {
    if (was > limit) {
      handoff.release();
      return false;
    }
    return was == 1;
  }

  /**
   * A waiter leaves without a slot (its time ran out, or it was interrupted). While the count is
   * above the limit it just counts itself out. Once it is not, a slot has been handed over for
   * it (or is being handed: a holder between its decrement and its release): it takes that slot
   * and gives it back as a holder would, staying counted until it has it, so that no other
   * attempt can take that slot beside one it got in its own right. True if now idle.
   */
  boolean giveUp() {
    for (int spins = 0; ; spins++) {
      int c = count.get();
      if ((c & COUNT) > limit) {
        if (count.compareAndSet(c, c - 1)) {
          return false;
        }
      } else if (handoff.tryAcquire()) {
        // Taking it ahead of the queue passes nobody over: every waiter has one handed over.
        return leave();
      } else if (spins < 100) {
        Thread.onSpinWait();
      } else {
        Thread.yield();
      }
    }
  }

  /**
   * One look of the limiter for gates to drop: retires this gate if it is idle and nobody joined
   * it since the last look (it can then be dropped; an arrival that finds it retired makes a
   * fresh one), else clears its mark if it is idle, so that the next look retires it unless it
   * is used by then. A gate in use keeps its mark. True if retired.
   */
  boolean sweep() {
    while (true) {
      int c = count.get();
      if (c == 0) {
        if (count.compareAndSet(0, -1)) {
          return true;
        }
      } else if (c == USED) {
        if (count.compareAndSet(USED, 0)) {
          return false;
        }
      } else {
        return false; // in use, or retired already
      }
    }
  }

  /** Attempts holding a slot, counting slots handed over and not yet taken. */
  int holding() {
    int c = count.get();
    return c < 0 ? 0 : Math.min(c & COUNT, limit);
  }

  /** Attempts parked waiting for a slot (an estimate). */
  int waiting() {
    return handoff.getQueueLength();
  }

  /** Slots handed over and not yet taken (for tests). */
  int handedOver() {
    return handoff.availablePermits();
  }
}
