package dev.outrigger.internal.ratelimit;

import dev.outrigger.RateLimit;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.List;

/**
 * One key's token bucket: continuous refill at each bandwidth's rate up to its burst, permits
 * taken from every bandwidth at once or not at all. Lock-free and thread-safe.
 *
 * <h2>Algorithm</h2>
 *
 * <p>The state of a bandwidth is one number, its <em>theoretical arrival time</em> {@code tat}
 * (GCRA, the generic cell rate algorithm of ATM networks): the time at which the bucket will be
 * full again given everything granted so far. With {@code I} the interval between two permits
 * and {@code tau = I * burst} the time to refill a full bucket, the bucket holds
 * {@code (tau - max(0, tat - now)) / I} permits at {@code now}: a bucket with {@code tat <= now}
 * is full, and {@code tat > now + tau} means permits are owed to waiters who have reserved them.
 * Taking {@code n} permits is {@code tat = max(tat, now) + n * I}; it is allowed at once when the
 * new {@code tat} is at most {@code now + tau}, and otherwise after waiting
 * {@code newTat - now - tau}. This is exactly a token bucket (same grants, same waits) with one
 * word of state and no refill step, which is what makes the fast path one volatile read, one
 * clock read and one compare-and-set, with nothing allocated.
 *
 * <p>A wait is a reservation, like Go's {@code rate.Limiter.Reserve}: the waiter moves
 * {@code tat} forward by its permits at once and sleeps until its turn. Reservations are ordered
 * by their compare-and-set, so waiters are served first come, first served, and a
 * {@code tryAcquire} never jumps the queue (a queue leaves {@code tat} beyond {@code now + tau}).
 * A reservation whose wait would exceed the caller's limit is never made: nothing is consumed.
 *
 * <p>Several bandwidths keep one {@code tat} each in an immutable {@code long[]} swapped by one
 * compare-and-set. A reservation waits for the slowest bandwidth and is recorded in every
 * bandwidth at the moment it will be used ({@code max(tat, wake) + n * I}), so each bandwidth's
 * limit holds for the times permits are actually used.
 *
 * <p>Times are in the fixed-point units of {@link Bands} and only compared by subtraction.
 *
 * <h2>Retirement</h2>
 *
 * <p>A bucket is replaced, never reconfigured in place: reconfiguration and eviction swap the
 * state for a terminal {@code RETIRED} mark with a compare-and-set, so an operation that read the
 * old state fails its own compare-and-set and looks up the key again (following
 * {@link #successor} when the bucket was reconfigured). Normal updates never produce the mark.
 * A retirement waits while a server pause is under way ({@link PauseState#shiftBegun()}), so
 * that the state it carries over holds every pause whose end it reads, and no other.
 *
 * <p>A reservation made in a bucket retired since can still be given back (see
 * {@link #cancelRetired}): each successor records how it was carried over ({@link Carry}), so the
 * state it would have had without the reservation can be computed, and set when it still holds
 * exactly the state the reservation led to.
 */
abstract sealed class TokenBucket permits TokenBucket.Single, TokenBucket.Multi {
  /** {@link #reserve} result: the bucket is retired; look the key up again. */
  static final long RETIRED = Long.MIN_VALUE;
  /** {@link #reserve} result: more permits than the burst, no wait can ever do. */
  static final long NEVER = Long.MIN_VALUE + 1;

  private static final VarHandle SUCCESSOR;

  static {
    try {
      SUCCESSOR = MethodHandles.lookup()
          .findVarHandle(TokenBucket.class, "successor", TokenBucket.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final Bands bands;
  final PauseState pause;
  /** How this bucket's state was carried over from the one it replaced; null for a new one. */
  final Carry carry;
  /** Set before this bucket is retired by a reconfiguration: the bucket that replaces it. */
  volatile TokenBucket successor;
  /** Tests only: run by {@link #retireInto} between reading the state and setting successor. */
  Runnable beforeSuccessor;
  /** Tests only: run by {@link #retireInto} between setting successor and retiring. */
  Runnable beforeRetire;
  /** Tests only: run by {@link #retireInto} each time it waits for a server pause under way. */
  Runnable whilePauseUnderWay;

  private TokenBucket(Bands bands, PauseState pause, Carry carry) {
    this.bands = bands;
    this.pause = pause;
    this.carry = carry;
  }

  /**
   * A retirement's readings, kept by the successor it built: the time the state was read as
   * standing at ({@link #convertFrom}), and the key's pause end and pause shift then.
   */
  record Carry(long fromNanos, long untilNanos, long shift) {}

  /** A full bucket. */
  static TokenBucket full(Bands bands, PauseState pause, long nowNanos) {
    long now = noMark(bands.units(nowNanos));
    if (bands.size() == 1) {
      return new Single(bands, pause, now, null);
    }
    long[] s = new long[bands.size()];
    java.util.Arrays.fill(s, now);
    return new Multi(bands, pause, s, null);
  }

  private static TokenBucket of(Bands bands, PauseState pause, long[] state, Carry carry) {
    return bands.size() == 1
        ? new Single(bands, pause, state[0], carry)
        : new Multi(bands, pause, state, carry);
  }

  /**
   * Takes {@code n} permits if all are available now.
   *
   * @return 1 when taken, 0 when refused (nothing changed), -1 when this bucket is retired
   */
  abstract int tryAcquire(long nowNanos, int n);

  /**
   * Reserves {@code n} permits if the wait for them is at most {@code maxWaitNanos}, filling
   * {@code out} so the reservation can be awaited and cancelled.
   *
   * @return the wait in nanoseconds ({@code >= 0}) when reserved; {@link #RETIRED};
   *     {@link #NEVER}; otherwise minus the wait that was too long (nothing consumed)
   */
  abstract long reserve(long nowNanos, int n, long maxWaitNanos, Reservation out);

  /** The state, or null when retired. A single bandwidth's state is copied into a new array. */
  abstract long[] snapshot();

  /** Replaces {@code expected} (a {@link #snapshot()}) by {@code update}. */
  abstract boolean compareAndSet(long[] expected, long[] update);

  /** Replaces {@code expected} (a {@link #snapshot()}) by the terminal mark. */
  abstract boolean retire(long[] expected);

  /**
   * Gives a reservation's permits back if nothing was reserved after it; best effort. Server
   * pauses since the reservation moved it back with the whole schedule: it is found where they
   * moved it, and what is left after it is moved back the same way, but never to more than one
   * permit stored when the latest pause ends.
   */
  abstract boolean cancel(Reservation r);

  /** Units the key's pauses moved the schedule back since {@code r} was made. */
  final long movedSince(Reservation r) {
    return bands.units(pause.shift() - r.shift0);
  }

  /**
   * The state {@code prev} (before the reservation) moved by {@code moved}: never earlier than
   * one permit stored at the end of the latest pause, when a pause came since.
   */
  final long movedBack(long prev, long moved, int band) {
    return movedBack(prev, moved, band, pause.until());
  }

  /** {@link #movedBack(long, long, int)} with the latest pause ending at {@code untilNanos}. */
  private long movedBack(long prev, long moved, int band, long untilNanos) {
    if (moved == 0) {
      return prev;
    }
    long oneLeft = bands.units(untilNanos) + bands.tau[band] - bands.interval[band];
    return noMark(max(prev + moved, oneLeft));
  }

  /** {@link #movedBack(long, long, int, long)} for every bandwidth of state {@code s}. */
  private long[] movedBack(long[] s, long moved, long untilNanos) {
    if (moved == 0) {
      return s;
    }
    long[] t = new long[s.length];
    for (int i = 0; i < s.length; i++) {
      t[i] = movedBack(s[i], moved, i, untilNanos);
    }
    return t;
  }

  /**
   * Gives {@code r}'s permits back when the bucket it reserved in was retired since (a
   * reconfiguration, an adaptive change), to the bucket now in use for the key. Best effort and
   * never looser, as {@link #cancel}: the state {@code r} led to, and the one it came from, are
   * carried along every replacement since as each successor's {@link #carry} says (moved by the
   * pauses between, as cancel moves them), and the bucket in use is set to the second only if it
   * holds exactly the first, so nothing was reserved after {@code r} (a later reservation leaves
   * a later state, in every replacement, since carrying a state over keeps its order). It then
   * holds what it would have held had {@code r} never been made (or later: a pause moves the
   * state given back whether or not it held a reservation). False when the bucket was not
   * retired (its own cancel was refused: reserved after it), or was dropped full by a sweep.
   */
  static boolean cancelRetired(Reservation r) {
    TokenBucket b = r.bucket;
    long[] with = r.next();
    long[] without = r.prev();
    long shift = r.shift0;
    for (;;) {
      long[] now = b.snapshot();
      if (now != null) {
        if (b == r.bucket) {
          return false;
        }
        long moved = b.bands.units(b.pause.shift() - shift);
        long until = b.pause.until();
        if (!java.util.Arrays.equals(now, b.movedBack(with, moved, until))) {
          return false;
        }
        if (b.compareAndSet(now, b.movedBack(without, moved, until))) {
          return true;
        }
        // Reserved meanwhile (refused next time round), or retired: then follow it.
        continue;
      }
      // Retired: its successor (set before the retirement, never changed after) carries on.
      TokenBucket next = b.successor;
      if (next == null) {
        return false;
      }
      Carry c = next.carry;
      long moved = b.bands.units(c.shift() - shift);
      with = b.convertFrom(b.movedBack(with, moved, c.untilNanos()), next.bands, c.fromNanos());
      if (capped(with, next.bands, c.fromNanos())) {
        // Carried over to a much slower rate and capped (convertFrom): a later reservation's
        // state converts to the same value, so holding it proves nothing was reserved after.
        return false;
      }
      without = b.convertFrom(b.movedBack(without, moved, c.untilNanos()), next.bands,
          c.fromNanos());
      shift = c.shift();
      b = next;
    }
  }

  /** Permits available now; negative when that many are owed to waiters; null when retired. */
  final Long available(long nowNanos) {
    long[] s = snapshot();
    if (s == null) {
      return null;
    }
    long now = bands.units(nowNanos);
    long min = Long.MAX_VALUE;
    for (int i = 0; i < s.length; i++) {
      long used = Math.max(0, s[i] - now);
      min = Math.min(min, Math.floorDiv(bands.tau[i] - used, bands.interval[i]));
    }
    return min;
  }

  /** Whether this bucket is full and unpaused now (false when retired). */
  final boolean isFull(long nowNanos) {
    long[] s = snapshot();
    return s != null && full(s, nowNanos);
  }

  /** Whether this bucket is indistinguishable from a new one, so it can be dropped. */
  final boolean retireIfFull(long nowNanos) {
    long[] s = snapshot();
    return s != null && full(s, nowNanos) && retire(s);
  }

  /** Whether state {@code s} is a full bucket at {@code nowNanos}. */
  private boolean full(long[] s, long nowNanos) {
    long now = bands.units(nowNanos);
    for (long t : s) {
      if (t - now > 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Pushes the schedule back by {@code extNanos} for a pause ending at {@code untilNanos}: no
   * permit before then, reserved permits shifted by the extension (their waiters learn of it
   * from {@link PauseState#shift()}), and at most one permit stored when the pause ends, at
   * least one unless reservations or the bucket's own refill say later: the refill goes on
   * during the pause (a bucket emptied just before it is not emptied again after it).
   *
   * @return false when this bucket is retired
   */
  final boolean shiftForPause(long nowNanos, long untilNanos, long extNanos) {
    long now = bands.units(nowNanos);
    long until = bands.units(untilNanos);
    long ext = bands.units(extNanos);
    for (;;) {
      long[] s = snapshot();
      if (s == null) {
        return false;
      }
      // Only reservations (a state beyond an empty bucket) move back with the pause; one is
      // recorded in every bandwidth, so when any holds one, all move (a cancel finds it there).
      boolean reserved = false;
      for (int i = 0; i < s.length; i++) {
        reserved |= s[i] - now > bands.tau[i];
      }
      long[] t = new long[s.length];
      for (int i = 0; i < s.length; i++) {
        long shifted = reserved ? s[i] + ext : s[i];
        long oneLeft = until + bands.tau[i] - bands.interval[i];
        t[i] = noMark(max(shifted, oneLeft));
      }
      if (compareAndSet(s, t)) {
        return true;
      }
    }
  }

  /**
   * Retires this bucket in favour of one with {@code next} bandwidths and the same state: the
   * permits stored (at most the new burst) or owed carry over, and new arrivals queue behind
   * every reservation already made.
   *
   * @return false when this bucket was already retired
   */
  final boolean retireInto(Bands next, long nowNanos) {
    TokenBucket mine = null;
    for (;;) {
      // Read before the state: see below.
      TokenBucket seen = successor;
      long[] s = snapshot();
      if (s == null) {
        return false;
      }
      if (seen != null && seen != mine) {
        // Another retirement is under way (a successor set, the bucket not yet retired): it
        // either retires the bucket or sets a successor of its own again, so wait for it. Set
        // over it, this one's successor could replace one that threads already use after that
        // retirement wins.
        Thread.onSpinWait();
        continue;
      }
      // Read once, and kept by the successor: a reservation made here is given back there by
      // carrying its states over the same way (cancelRetired).
      long until = pause.until();
      long shift = pause.shift();
      if (pause.shiftBegun() != shift) {
        // A server pause is under way: its end may show before the state carries it, or the
        // state carry it before the shift does. Carried over as it stands at that end, a
        // reservation due before it would pass for permits used by then: the pause, reaching
        // the successor, would not move it as it moves its waiter, and a newcomer would go at
        // the pause's end beside the waiter; with the shift missing, the waiter could not give
        // its permits back (cancelRetired). Wait for it (a pause never waits for a
        // retirement), yielding: it may need this carrier. With none under way (shiftBegun,
        // read after shift, equal to it), a pause whose end or shift was read had shifted the
        // state before it was read, or shifted it after, and then retire(s) fails.
        Runnable hook = whilePauseUnderWay;
        if (hook != null) {
          hook.run();
        }
        Thread.yield();
        continue;
      }
      long from = until - nowNanos > 0 ? until : nowNanos;
      TokenBucket candidate = of(next, pause, convertFrom(s, next, from),
          new Carry(from, until, shift));
      Runnable hook = beforeSuccessor;
      if (hook != null) {
        hook.run();
      }
      // Two retirements racing (two answers adapting one key, a reconfiguration): one that read
      // the state before the other retired the bucket must not overwrite its successor with
      // one built from that older state (permits taken in between would be forgotten, and
      // threads that had read the first successor would use a bucket nobody else sees). The
      // successor is set only over the one seen before the state was read, so it fails once
      // another retirement has set its own since; it then reads again and finds the bucket
      // retired, or retires it itself.
      if (!SUCCESSOR.compareAndSet(this, seen, candidate)) {
        continue;
      }
      mine = candidate;
      Runnable held = beforeRetire;
      if (held != null) {
        held.run();
      }
      if (retire(s)) {
        return true;
      }
    }
  }

  /**
   * A new bucket of {@code next} bandwidths that starts where this one stands now: its permits
   * (at most the new burst), its debts and the end of its pause. For a key leaving the shared
   * overflow bucket, which must not come out with a full bucket of its own after emptying the
   * shared one (nor forget a pause the server asked of it there). Full when this is retired.
   */
  final TokenBucket startingLikeThis(Bands next, long nowNanos) {
    long[] s = snapshot();
    // After the state: see PauseState.shiftAtStart.
    return startingLike(s, pause.shiftBegun(), next, nowNanos);
  }

  /**
   * {@link #startingLikeThis} from {@code s}, a {@link #snapshot()} of this bucket, with
   * {@code shift} its {@link PauseState#shiftBegun()} read after it (see
   * {@link PauseState#shiftAtStart}).
   */
  final TokenBucket startingLike(long[] s, long shift, Bands next, long nowNanos) {
    if (s == null) {
      return full(next, new PauseState(nowNanos), nowNanos);
    }
    long until = pause.until();
    return of(next, new PauseState(until - nowNanos > 0 ? until : nowNanos, shift),
        convert(s, next, nowNanos), null);
  }

  /**
   * Units of each bandwidth of {@code bands} used in state {@code after} beyond state
   * {@code before} (two states of those bands) as they stand at {@code nowNanos}, or null when
   * none: what was taken (or paused) in between.
   */
  static long[] usedSince(Bands bands, long[] before, long[] after, long nowNanos) {
    long now = bands.units(nowNanos);
    long[] d = null;
    for (int i = 0; i < before.length; i++) {
      long more = Math.max(0, after[i] - now) - Math.max(0, before[i] - now);
      if (more > 0) {
        if (d == null) {
          d = new long[before.length];
        }
        d[i] = more;
      }
    }
    return d;
  }

  /**
   * Takes {@code used} (units of each bandwidth of {@code of}) whatever this bucket holds, as a
   * debt if need be: for permits the key took from the overflow bucket that this one, built
   * from it, did not see. In another shape, every bandwidth takes as many permits as the most
   * of {@code used} comes to, rounded up.
   *
   * @return false when this bucket is retired
   */
  final boolean charge(long nowNanos, Bands of, long[] used) {
    long now = bands.units(nowNanos);
    long[] add = new long[bands.size()];
    if (of == bands) {
      System.arraycopy(used, 0, add, 0, add.length);
    } else {
      long permits = 0;
      for (int i = 0; i < used.length; i++) {
        permits = Math.max(permits, Math.ceilDiv(used[i], of.interval[i]));
      }
      for (int i = 0; i < add.length; i++) {
        long iv = bands.interval[i];
        add[i] = permits > Long.MAX_VALUE / iv ? Long.MAX_VALUE : permits * iv;
      }
    }
    for (;;) {
      long[] s = snapshot();
      if (s == null) {
        return false;
      }
      long[] t = new long[s.length];
      for (int i = 0; i < s.length; i++) {
        // Capped as a carried debt is (convertFrom): permits at a much slower rate may not fit.
        long from = max(s[i], now);
        t[i] = noMark(from + Math.min(add[i], Math.max(0, now + bands.maxAhead(i) - from)));
      }
      if (compareAndSet(s, t)) {
        return true;
      }
    }
  }

  /** {@code s}, a state of this bucket, as one of {@code next} bandwidths: see retireInto. */
  long[] convert(long[] s, Bands next, long nowNanos) {
    // A server pause is time, not permits owed: the state is read as it will stand when the
    // pause ends and carried over from there, so the pause ends when it ends whatever the new
    // rate (read as a debt, it would be repaid at the new rate: longer when lowered, as an
    // adaptive cut on the 429 that paused the key does, shorter when raised).
    long until = pause.until();
    return convertFrom(s, next, until - nowNanos > 0 ? until : nowNanos);
  }

  /** Whether {@code t}, a state converted at {@code fromNanos}, was capped in some band. */
  private static boolean capped(long[] t, Bands bands, long fromNanos) {
    long now = bands.units(fromNanos);
    for (int j = 0; j < t.length; j++) {
      if (t[j] - now >= bands.maxAhead(j)) {
        return true;
      }
    }
    return false;
  }

  /** {@link #convert} with the state read as it stands at {@code fromNanos}. */
  private long[] convertFrom(long[] s, Bands next, long fromNanos) {
    long nowOld = bands.units(fromNanos);
    // When the last reservation made so far will be served, if any is still waiting.
    long backlog = 0;
    for (int i = 0; i < s.length; i++) {
      backlog = Math.max(backlog, s[i] - bands.tau[i] - nowOld);
    }
    long now = next.units(fromNanos);
    long[] t = new long[next.size()];
    List<RateLimit> oldBands = bands.limit.bandwidths();
    List<RateLimit> newBands = next.limit.bandwidths();
    for (int j = 0; j < t.length; j++) {
      double burst = (double) next.tau[j] / next.interval[j];
      double tokens = burst;
      // A band carries what is left of the old band over the same period (the quota per minute
      // keeps what the minute used, wherever it sits in the list); a band of a new period
      // starts full, as a new quota does. One band for one band is the same rate changed (an
      // adapted rate is written per second, whatever the period of the limit it scales).
      Duration period = newBands.get(j).period();
      boolean single = s.length == 1 && t.length == 1;
      for (int i = 0; i < s.length; i++) {
        if (single || oldBands.get(i).period().equals(period)) {
          long used = Math.max(0, s[i] - nowOld);
          tokens = Math.min(tokens, (double) (bands.tau[i] - used) / bands.interval[i]);
        }
      }
      // A debt at a much slower rate may not fit in a long of units: capped (Bands.maxAhead).
      t[j] = now + (long) Math.min(Math.ceil(next.tau[j] - tokens * next.interval[j]),
          next.maxAhead(j));
    }
    if (backlog > 0) {
      // Keep first come, first served: nobody new may be served before the last waiter.
      int m = next.finest;
      t[m] = max(t[m], now + next.units(bands.nanosCeil(backlog)) + next.tau[m]);
    }
    for (int j = 0; j < t.length; j++) {
      t[j] = noMark(t[j]);
    }
    return t;
  }

  /** The later of two times, wrap-safe. */
  static long max(long a, long b) {
    return a - b > 0 ? a : b;
  }

  /** Steps off the retirement mark, which a computed time hits only by wrapping onto it. */
  static long noMark(long t) {
    return t == RETIRED ? t + 1 : t;
  }

  /** One bandwidth: the state is a single {@code long}. */
  static final class Single extends TokenBucket {
    private static final VarHandle TAT;

    static {
      try {
        TAT = MethodHandles.lookup().findVarHandle(Single.class, "tat", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final int shift;
    private final long interval;
    private final long tau;
    private final int maxPermits;
    private volatile long tat;

    Single(Bands bands, PauseState pause, long tat, Carry carry) {
      super(bands, pause, carry);
      this.shift = bands.shift;
      this.interval = bands.interval[0];
      this.tau = bands.tau[0];
      this.maxPermits = bands.maxPermits;
      this.tat = tat;
    }

    @Override
    int tryAcquire(long nowNanos, int n) {
      if (n > maxPermits) {
        return 0;
      }
      long now = nowNanos << shift;
      long cost = n * interval;
      for (;;) {
        long t = tat;
        if (t == RETIRED) {
          return -1;
        }
        long next = (t - now > 0 ? t : now) + cost;
        if (next - now > tau) {
          return 0;
        }
        if (TAT.compareAndSet(this, t, noMark(next))) {
          return 1;
        }
      }
    }

    @Override
    long reserve(long nowNanos, int n, long maxWaitNanos, Reservation out) {
      if (n > maxPermits) {
        return NEVER;
      }
      long now = nowNanos << shift;
      long cost = n * interval;
      long maxWait = Math.min(Math.max(0, maxWaitNanos), Bands.MAX_WAIT_NANOS) << shift;
      // Read before the compare-and-set: see PauseState.
      long shift0 = pause.shift();
      for (;;) {
        long t = tat;
        if (t == RETIRED) {
          return RETIRED;
        }
        long next = noMark((t - now > 0 ? t : now) + cost);
        long wait = next - now - tau;
        if (wait > maxWait) {
          return -Math.max(1, bands.nanosCeil(wait));
        }
        if (TAT.compareAndSet(this, t, next)) {
          long waitNanos = wait > 0 ? bands.nanosCeil(wait) : 0;
          out.fill(this, nowNanos + waitNanos, shift0);
          out.single(t, next);
          return waitNanos;
        }
      }
    }

    @Override
    boolean cancel(Reservation r) {
      long moved = movedSince(r);
      return TAT.compareAndSet(this, noMark(r.nextSingle + moved),
          movedBack(r.prevSingle, moved, 0));
    }

    @Override
    long[] snapshot() {
      long t = tat;
      return t == RETIRED ? null : new long[] {t};
    }

    @Override
    boolean compareAndSet(long[] expected, long[] update) {
      return TAT.compareAndSet(this, expected[0], update[0]);
    }

    @Override
    boolean retire(long[] expected) {
      return TAT.compareAndSet(this, expected[0], RETIRED);
    }
  }

  /** Several bandwidths: the state is an immutable {@code long[]}, one time per bandwidth. */
  static final class Multi extends TokenBucket {
    private static final long[] RETIRED_STATE = new long[0];
    private static final VarHandle STATE;

    static {
      try {
        STATE = MethodHandles.lookup().findVarHandle(Multi.class, "state", long[].class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private volatile long[] state;

    Multi(Bands bands, PauseState pause, long[] state, Carry carry) {
      super(bands, pause, carry);
      this.state = state;
    }

    @Override
    int tryAcquire(long nowNanos, int n) {
      if (n > bands.maxPermits) {
        return 0;
      }
      long now = bands.units(nowNanos);
      for (;;) {
        long[] s = state;
        if (s == RETIRED_STATE) {
          return -1;
        }
        for (int i = 0; i < s.length; i++) {
          if (max(s[i], now) + n * bands.interval[i] - now > bands.tau[i]) {
            return 0;
          }
        }
        long[] t = new long[s.length];
        for (int i = 0; i < s.length; i++) {
          t[i] = noMark(max(s[i], now) + n * bands.interval[i]);
        }
        if (STATE.compareAndSet(this, s, t)) {
          return 1;
        }
      }
    }

    @Override
    long reserve(long nowNanos, int n, long maxWaitNanos, Reservation out) {
      if (n > bands.maxPermits) {
        return NEVER;
      }
      long now = bands.units(nowNanos);
      long maxWait = bands.units(Math.min(Math.max(0, maxWaitNanos), Bands.MAX_WAIT_NANOS));
      long shift0 = pause.shift();
      for (;;) {
        long[] s = state;
        if (s == RETIRED_STATE) {
          return RETIRED;
        }
        // Served when the slowest bandwidth allows; recorded in every one at that moment.
        long wake = now;
        for (int i = 0; i < s.length; i++) {
          wake = max(wake, max(s[i], now) + n * bands.interval[i] - bands.tau[i]);
        }
        long wait = wake - now;
        if (wait > maxWait) {
          return -Math.max(1, bands.nanosCeil(wait));
        }
        long[] t = new long[s.length];
        for (int i = 0; i < s.length; i++) {
          t[i] = noMark(max(s[i], wake) + n * bands.interval[i]);
        }
        if (STATE.compareAndSet(this, s, t)) {
          long waitNanos = wait > 0 ? bands.nanosCeil(wait) : 0;
          out.fill(this, nowNanos + waitNanos, shift0);
          out.multi(s, t);
          return waitNanos;
        }
      }
    }

    @Override
    boolean cancel(Reservation r) {
      long moved = movedSince(r);
      if (moved == 0) {
        return STATE.compareAndSet(this, r.nextMulti, r.prevMulti);
      }
      long[] s = state;
      if (s == RETIRED_STATE) {
        return false;
      }
      long[] back = new long[s.length];
      for (int i = 0; i < s.length; i++) {
        // Where the pauses put it: moved, and at least one permit at the latest pause's end.
        if (s[i] != movedBack(r.nextMulti[i], moved, i)) {
          return false; // reserved after it, or moved otherwise: keep it (best effort)
        }
        back[i] = movedBack(r.prevMulti[i], moved, i);
      }
      return STATE.compareAndSet(this, s, back);
    }

    @Override
    long[] snapshot() {
      long[] s = state;
      return s == RETIRED_STATE ? null : s;
    }

    @Override
    boolean compareAndSet(long[] expected, long[] update) {
      return STATE.compareAndSet(this, expected, update);
    }

    @Override
    boolean retire(long[] expected) {
      return STATE.compareAndSet(this, expected, RETIRED_STATE);
    }
  }
}
