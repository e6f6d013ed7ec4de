package dev.outrigger.internal.ratelimit;

import dev.outrigger.CallContext;
import dev.outrigger.RateLimit;
import dev.outrigger.internal.Closing;
import dev.outrigger.internal.NanoClock;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engine behind {@link dev.outrigger.RateLimiter} and {@link RateLimitInterceptor}: one
 * {@link TokenBucket} per key, plus one for unkeyed use ({@code key == null}). Thread-safe and
 * lock-free; no threads, no timers. Time is passed in by the caller (nanoseconds of one
 * monotonic clock), and waiting is done with the caller's {@link NanoClock}.
 *
 * <p>Memory is bounded: a bucket that has refilled completely is indistinguishable from a new
 * one, so at most once a second, when a new key arrives, full buckets are retired and dropped.
 * While {@code maxKeys} buckets exist, further keys share one overflow bucket (stricter, never
 * looser) until a sweep makes room.
 *
 * <p>Reconfiguration replaces buckets (see {@link TokenBucket#retireInto}), keeping their
 * permits, debts and waiters' order; per-key overrides survive eviction because they are kept
 * apart from the buckets. A key's limit is found in three layers: an adaptive rate
 * ({@link #adapt}), below the key's ceiling, which is the operator's override of the key
 * ({@link #reconfigure(String, RateLimit, long)}) or else the limiter's limit. The adaptive
 * layer is kept as a rate and applied to whatever the ceiling is now, so neither overwrites the
 * other: an operator's change takes effect at once under the adapted rate, and the adaptation
 * never lifts a key above it. A version counter closes the race between a reconfiguration and a
 * bucket being created with the old bandwidths at the same moment.
 */
public final class RealRateLimiter {
  static final long SWEEP_EVERY_NANOS = 1_000_000_000L;
  /** The longest wait any limit allows, whatever the caller's limit on it (30 days). */
  public static final long MAX_WAIT_NANOS = Bands.MAX_WAIT_NANOS;
  private static final long SECOND_NANOS = 1_000_000_000L;

  private static final VarHandle UNKEYED;
  private static final VarHandle OVERFLOW;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      UNKEYED = l.findVarHandle(RealRateLimiter.class, "unkeyed", TokenBucket.class);
      OVERFLOW = l.findVarHandle(RealRateLimiter.class, "overflow", TokenBucket.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final ConcurrentHashMap<String, TokenBucket> buckets = new ConcurrentHashMap<>();
  private static final int MAX_OVERFLOW_KEYS = 4096;
  /** {@link #overflowUntracked}: no unrecorded use. */
  private static final long NONE = Long.MIN_VALUE;
  private final ConcurrentHashMap<String, Bands> overrides = new ConcurrentHashMap<>();
  /**
   * Keys that used the overflow bucket since it was last full (at most
   * {@link #MAX_OVERFLOW_KEYS} or maxKeys of them, whichever is more), each with the
   * {@link #overflowEpoch} read just after its latest use: a bucket of their own starts where
   * the shared one stands.
   */
  private final ConcurrentHashMap<String, Long> inOverflow = new ConcurrentHashMap<>();
  /**
   * The {@link #overflowEpoch} read just after the latest use of the overflow bucket that
   * {@link #inOverflow} could not record (full), or {@link #NONE}: while there is one, every key
   * that gets a bucket of its own starts where the shared one stands, as a recorded key does
   * (stricter, never looser).
   */
  private final AtomicLong overflowUntracked = new AtomicLong(NONE);
  /** Advanced by every sweep before it checks whether the overflow bucket is full. */
  private final AtomicLong overflowEpoch = new AtomicLong();
  /**
   * The pause state of the overflow bucket and of every bucket that replaces it (and of no other
   * bucket): a final field, so telling a use of the shared bucket costs the other keys nothing.
   */
  private final PauseState overflowPause;
  private final ConcurrentHashMap<String, Adapted> adapted = new ConcurrentHashMap<>();
  /**
   * Keys whose bucket {@link #create} is building, each with the number of builds under way:
   * announced before a build reads anything, withdrawn once it has published (see "Takes racing
   * a key's leaving the overflow bucket").
   */
  private final ConcurrentHashMap<String, Integer> building = new ConcurrentHashMap<>();
  private final AtomicLong version = new AtomicLong();
  private final AtomicLong nextSweep;
  private volatile Bands defaults;
  private volatile TokenBucket unkeyed;
  private volatile TokenBucket overflow;
  /** Tests only: run by a sweep between finding the overflow bucket full and its clearing. */
  Runnable afterOverflowCheck;
  /** Tests only: run by {@link #create} between building a key's bucket and publishing it. */
  Runnable beforeInsert;
  /** Tests only: run by {@link #create} before it hands out the overflow bucket. */
  Runnable beforeOverflowUse;
  /** Tests only: run by {@link #create} just before it publishes a key's bucket. */
  Runnable beforePublish;
  /** Tests only: run by {@link #create} just after it has published a key's bucket. */
  Runnable afterPublish;
  /** Tests only: run by {@link #pause} between shifting a bucket's state and adding the shift. */
  Runnable afterPauseShift;
  /** Tests only: run by {@link #pause} between extending the pause and shifting a state. */
  Runnable afterPauseBegun;

  /** Every bucket starts full at {@code nowNanos}. */
  public RealRateLimiter(RateLimit limit, long nowNanos) {
    Objects.requireNonNull(limit, "limit");
    this.defaults = new Bands(limit);
    this.unkeyed = TokenBucket.full(defaults, new PauseState(nowNanos), nowNanos);
    this.overflowPause = new PauseState(nowNanos);
    this.overflow = TokenBucket.full(defaults, overflowPause, nowNanos);
    this.nextSweep = new AtomicLong(nowNanos + SWEEP_EVERY_NANOS);
  }

  /** The limit every key without an override follows. */
  public RateLimit limit() {
    return defaults.limit;
  }

  /**
   * The limit {@code key} follows: its adapted rate under its ceiling, if it has one, else the
   * ceiling ({@link #ceiling(String)}).
   */
  public RateLimit limit(String key) {
    return shapeFor(key).limit;
  }

  /** The limit {@code key} may adapt under: its override, or {@link #limit()}. */
  public RateLimit ceiling(String key) {
    return ceilingFor(key).limit;
  }

  /** How many keys have a bucket of their own right now. */
  public int keyCount() {
    return buckets.size();
  }

  /** Takes {@code n} permits of {@code key}'s bucket if they are all available now. */
  public boolean tryAcquire(String key, int n, long nowNanos) {
    TokenBucket b = key == null ? unkeyed : bucket(key, nowNanos);
    for (;;) {
      int r = b.tryAcquire(nowNanos, n);
      if (r > 0) {
        if (b.pause != overflowPause) {
          return true;
        }
        TokenBucket own = tookFromOverflow(key, nowNanos);
        if (own == null) {
          return true;
        }
        // The key's own bucket came in meanwhile: the permits are its, so it must grant them.
        b = own;
        continue;
      }
      if (r == 0) {
        noteUse(b.pause, key);
        return false;
      }
      b = next(key, b, nowNanos);
    }
  }

  /**
   * Takes {@code n} permits of {@code key}'s bucket, waiting in line with {@code clock} when
   * the wait fits in {@code maxWaitNanos}. A wait that does not fit is refused at once and
   * consumes nothing. A server pause that arrives while waiting pushes the wait back; if it then
   * no longer fits, the permits are given back (when nothing was reserved after them) and the
   * wait is refused.
   *
   * @return nanoseconds waited ({@code >= 0}) when the permits were taken; otherwise minus the
   *     wait that would have been needed, or {@link TokenBucket#NEVER} when {@code n} exceeds
   *     the burst
   * @throws InterruptedException if interrupted while waiting; the permits are given back when
   *     nothing was reserved after them
   */
  public long acquire(String key, int n, long maxWaitNanos, NanoClock clock)
      throws InterruptedException {
    return acquire(key, n, maxWaitNanos, clock, clock.nanoTime());
  }

  /** {@link #acquire(String, int, long, NanoClock)} with {@code start} just read from clock. */
  public long acquire(String key, int n, long maxWaitNanos, NanoClock clock, long start)
      throws InterruptedException {
    try {
      return acquire(key, n, maxWaitNanos, clock, start, null);
    } catch (PushedPastLimit e) {
      return -e.wouldWaitNanos;
    }
  }

  /**
   * {@link #acquire(String, int, long, NanoClock, long)} for a call of a client: the wait, if
   * any, registers with the client of {@code call} (null: none), whose {@code close()} cuts it
   * short with a {@link Closing.ClosedException}. Looked up only when there is a wait. A wait
   * that a server pause pushes past {@code maxWaitNanos} once it has begun is refused with
   * {@link PushedPastLimit}, which says how long it had waited.
   *
   * @throws PushedPastLimit if a server pause pushed a wait already under way past
   *     {@code maxWaitNanos}: the permits are given back (when nothing was reserved after them)
   */
  public long acquire(String key, int n, long maxWaitNanos, NanoClock clock, long start,
      CallContext call) throws InterruptedException, PushedPastLimit {
    long limit = start + Math.min(Math.max(0, maxWaitNanos), Bands.MAX_WAIT_NANOS);
    Closing.Waiter waiter = null;
    Reservation res = null;
    // From start; again from the end of a pause that caught the waiter late (below).
    long from = start;
    try {
      for (;;) {
        TokenBucket b = key == null ? unkeyed : bucket(key, from);
        long w;
        for (;;) {
          int fast = b.tryAcquire(from, n);
          if (fast > 0) {
            if (b.pause != overflowPause) {
              return from - start;
            }
            TokenBucket own = tookFromOverflow(key, from);
            if (own == null) {
              return from - start;
            }
            // The key's own bucket came in meanwhile: the permits are its, so it must grant them.
            b = own;
            continue;
          }
          if (res == null) {
            res = new Reservation();
          }
          w = b.reserve(from, n, from == start ? maxWaitNanos : limit - from, res);
          if (w == TokenBucket.RETIRED) {
            b = next(key, b, from);
            continue;
          }
          if (w < 0) {
            noteUse(b.pause, key);
            if (from == start) {
              return w;
            }
            // Booked again after a pause and refused: waited all the same.
            throw new PushedPastLimit(from - start,
                w == TokenBucket.NEVER ? -TokenBucket.NEVER : from - start - w);
          }
          TokenBucket own = b.pause == overflowPause ? tookFromOverflow(key, from) : null;
          if (own == null) {
            break;
          }
          // As above: wait in the key's own bucket instead, giving these permits back if we can.
          res.cancel();
          b = own;
        }
        if (w == 0) {
          return from - start;
        }
        if (waiter == null) {
          waiter = call == null ? Closing.Waiter.NONE : Closing.enter(call, "a rate-limit permit");
        }
        long now;
        // Booked in the shared bucket: the first bucket of the key's own found since.
        TokenBucket ownSeen = null;
        for (;;) {
          if (swept(res.pause == overflowPause ? ownSeen : res.bucket)) {
            // The bucket that held the reservation was dropped by a sweep, full: the permit's
            // time is past (the thread woke late), and what the key uses now (a new bucket, or
            // the shared one) knows nothing of it, nor tells this reservation of its pauses.
            // Going now could go beside the permits that one has, or inside its pause: it
            // books again there, in line.
            now = clock.nanoTime();
            break;
          }
          long wake = res.wakeAt();
          long hold = res.pause.until();
          // Due before a pause ends: it came due before the pause began, but had not gone yet
          // (its thread woke late), so the pause left its permit in the bucket's past. Held
          // until the pause ends, it then books again, in line: not as well as the permit the
          // pause leaves ready, which would make two calls at once where the burst allows one.
          // (Shifted to the pause's very end only when due at the instant it began, if it
          // booked before that stretch of pauses and a pause moved it since.)
          boolean late = hold - wake > 0 || hold == wake && res.pause.shift() != res.shift0
              && res.shift0 - res.pause.periodShift() <= 0;
          if (res.pause == overflowPause && key != null) {
            TokenBucket own = buckets.get(key);
            if (own != null && own.pause != overflowPause) {
              if (ownSeen == null) {
                ownSeen = own;
              }
              // Reserved in the shared bucket: the key's own bucket, built from it since,
              // carries the reservation where the shared bucket's pauses had moved it by then,
              // and has moved it for its own pauses since (its shift starts at 0). The shared
              // bucket's later pauses are other keys': the waiter goes at its time there.
              long sh = own.pause.shift();
              long moved = own.pause.shiftAtStart - res.shift0;
              wake = res.wakeAtNanos + (moved > 0 ? moved : 0) + sh;
              // Its pause's end holds the waiter only once it was paused: built, it reads the
              // build time (or the shared bucket's pause end), which is no pause of its own.
              // Paused, it left behind a waiter due when the pause began (or before).
              if (sh != 0) {
                long until = own.pause.until();
                late |= until - wake >= 0;
                hold = until - hold > 0 ? until : hold;
              }
            }
          }
          if (late) {
            wake = hold;
          }
          now = clock.nanoTime();
          if (wake - now <= 0) {
            if (!late) {
              return Math.max(0, now - start);
            }
            break;
          }
          if (wake - limit > 0) {
            // A server pause came in while waiting and the wait no longer fits.
            res.cancel();
            throw new PushedPastLimit(Math.max(0, now - start), wake - start);
          }
          clock.sleepNanos(wake - now);
        }
        // Its old reservation is spent (the pause absorbed it, or the sweep): not given back.
        res = null;
        from = now - start > 0 ? now : start;
      }
    } catch (InterruptedException e) {
      if (res != null) {
        res.cancel();
      }
      throw waiter.interrupted(e);
    } finally {
      if (waiter != null) {
        waiter.leave();
      }
    }
  }

  /**
   * A wait refused after it had begun: a server pause pushed it past its limit. Carries how long
   * the caller had waited (a wait all the same, to be reported as one) and how long the whole
   * wait would have been. No stack trace: it is an answer, not a fault.
   */
  static final class PushedPastLimit extends Exception {
    private static final long serialVersionUID = 1L;
    /** Nanoseconds already waited when the wait was refused. */
    final long waitedNanos;
    /** Nanoseconds the whole wait would have taken, from its start. */
    final long wouldWaitNanos;

    PushedPastLimit(long waitedNanos, long wouldWaitNanos) {
      super(null, null, false, false);
      this.waitedNanos = waitedNanos;
      this.wouldWaitNanos = wouldWaitNanos;
    }
  }

  /** Whether {@code result} of {@link #acquire} means the permits were taken. */
  public static boolean acquired(long result) {
    return result >= 0;
  }

  /** Whether {@code result} of {@link #acquire} means more permits were asked than the burst. */
  public static boolean never(long result) {
    return result == TokenBucket.NEVER;
  }

  /**
   * Pauses {@code key}'s bucket for {@code pauseNanos} from {@code nowNanos} (cut to the limit's
   * {@link RateLimit#maxPause()}): nothing is granted before it ends, waiters are pushed back by
   * as much as the pause grew, and one permit is ready when it ends. Overlapping pauses do not
   * add up: only a later end moves anything.
   *
   * @return how much the pause grew, in nanoseconds (0 when an existing pause already covered it)
   */
  public long pause(String key, long nowNanos, long pauseNanos) {
    long p = Math.min(pauseNanos, defaults.limit.maxPause().toNanos());
    if (p <= 0) {
      return 0;
    }
    long until = nowNanos + p;
    for (;;) {
      TokenBucket b = key == null ? unkeyed : bucket(key, nowNanos);
      PauseState ps = b.pause;
      long ext = ps.extendTo(nowNanos, until);
      if (ext == 0) {
        return pausedIn(ps, key, nowNanos, pauseNanos, 0);
      }
      boolean shifted = false;
      try {
        Runnable begun = afterPauseBegun;
        if (begun != null) {
          begun.run();
        }
        for (;;) {
          if (b.shiftForPause(nowNanos, until, ext)) {
            shifted = true;
            Runnable hook = afterPauseShift;
            if (hook != null) {
              hook.run();
            }
            break;
          }
          b = next(key, b, nowNanos);
          if (b.pause != ps) {
            // Evicted and created anew in between: pause the new bucket from scratch.
            break;
          }
        }
      } finally {
        // Whatever is thrown in between (a StackOverflowError, an OutOfMemoryError): a pause
        // left under way would hold every retirement of the key's bucket for ever.
        if (shifted) {
          ps.addShift(ext);
        } else {
          ps.withdrawShift(ext);
        }
      }
      if (shifted) {
        return pausedIn(ps, key, nowNanos, pauseNanos, ext);
      }
    }
  }

  /**
   * {@code grew}, once {@link #pause} told {@code key}'s pause to the bucket of
   * {@code bucketPause}; records a use of the shared one (see noteUse). A key that got a bucket
   * of its own meanwhile (see tookFromOverflow) has that one paused too: built before the
   * pause reached the shared bucket, it does not carry it, and the key's calls would go inside.
   */
  private long pausedIn(PauseState bucketPause, String key, long nowNanos, long pauseNanos,
      long grew) {
    if (bucketPause == overflowPause && tookFromOverflow(key, nowNanos) != null) {
      return Math.max(grew, pause(key, nowNanos, pauseNanos));
    }
    return grew;
  }

  /** When the key's current pause ends, if it is paused at {@code nowNanos}; else 0. */
  public long pausedForNanos(String key, long nowNanos) {
    TokenBucket b = key == null ? unkeyed : buckets.get(key);
    if (b == null) {
      return 0;
    }
    return Math.max(0, b.pause.until() - nowNanos);
  }

  /**
   * Permits {@code key} could take now; negative when that many are already promised to
   * waiters. A key without a bucket has what its first use would find: the overflow bucket's
   * permits while the table is full, the permits of a bucket starting where the overflow bucket
   * stands for a key that used it, else a full bucket.
   */
  public long available(String key, long nowNanos) {
    for (;;) {
      TokenBucket b = key == null ? unkeyed : buckets.get(key);
      if (b == null) {
        b = firstUse(key, nowNanos);
        if (b == null) {
          return shapeFor(key).maxPermits;
        }
      }
      Long v = b.available(nowNanos);
      if (v != null) {
        return v;
      }
      // Retired: read again where it stands now (without creating a bucket, as next() would).
      unlink(key, b);
    }
  }

  /**
   * The bucket a first use of {@code key} (which has none) would take from now, without
   * creating one, as {@link #create} decides: the overflow bucket while the table is full
   * (after the sweep a new key would run), a bucket starting where it stands for a key that used
   * it; null when the key would start full.
   */
  private TokenBucket firstUse(String key, long nowNanos) {
    Bands shape = shapeFor(key);
    if (shape == defaults && buckets.size() >= defaults.limit.maxKeys()) {
      maybeSweep(nowNanos);
      if (buckets.size() >= defaults.limit.maxKeys()) {
        return latest(overflow);
      }
    }
    if (inOverflow.containsKey(key) || overflowUntracked.get() != NONE) {
      return latest(overflow).startingLikeThis(shape, nowNanos);
    }
    return null;
  }

  /**
   * Whether {@code b} (null: none), or the bucket that replaced it last, was dropped by a sweep:
   * retired with no successor (a reconfiguration sets one before it retires a bucket).
   */
  private static boolean swept(TokenBucket b) {
    if (b == null) {
      return false;
    }
    TokenBucket last = latest(b);
    return last.snapshot() == null && last.successor == null;
  }

  /** {@code b}, or the bucket that replaced it last. */
  private static TokenBucket latest(TokenBucket b) {
    while (b.successor != null) {
      b = b.successor;
    }
    return b;
  }

  /**
   * Makes {@code limit} the limit of every key without an override (and of unkeyed use), and
   * its key function, key bound and pause cap the limiter's. Each bucket keeps its state: the
   * permits it holds (at most the new burst), what it owes to waiters, and their order.
   */
  public void reconfigure(RateLimit limit, long nowNanos) {
    Objects.requireNonNull(limit, "limit");
    defaults = new Bands(limit);
    version.incrementAndGet();
    refreshSlot(UNKEYED, nowNanos);
    refreshSlot(OVERFLOW, nowNanos);
    for (String key : buckets.keySet()) {
      refresh(key, nowNanos);
    }
  }

  /**
   * Gives {@code key} bandwidths of its own (only {@code limit}'s bandwidths are used), keeping
   * its bucket's state as {@link #reconfigure(RateLimit, long)} does. The override stays until
   * replaced by another.
   */
  public void reconfigure(String key, RateLimit limit, long nowNanos) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(limit, "limit");
    overrides.put(key, new Bands(limit));
    version.incrementAndGet();
    refresh(key, nowNanos);
  }

  /**
   * Returns {@code key} to the limiter's limit, keeping its bucket's state as
   * {@link #reconfigure(RateLimit, long)} does. Does nothing when the key has no override.
   */
  public void removeOverride(String key, long nowNanos) {
    Objects.requireNonNull(key, "key");
    if (overrides.remove(key) == null) {
      return;
    }
    version.incrementAndGet();
    refresh(key, nowNanos);
  }

  /**
   * Sets {@code key}'s adapted rate to {@code permitsPerSecond} under its ceiling, keeping its
   * bucket's state as {@link #reconfigure(RateLimit, long)} does; a rate at or above the
   * ceiling's (or NaN) removes the adaptation, and the key follows its ceiling again.
   */
  public void adapt(String key, double permitsPerSecond, long nowNanos) {
    Objects.requireNonNull(key, "key");
    Bands ceiling = ceilingFor(key);
    if (!(permitsPerSecond < ceiling.limit.permitsPerSecond())) {
      if (adapted.remove(key) == null) {
        return;
      }
    } else {
      if (!(permitsPerSecond > 0)) {
        throw new IllegalArgumentException("an adapted rate must be positive: " + permitsPerSecond);
      }
      adapted.put(key, Adapted.under(ceiling, permitsPerSecond));
    }
    version.incrementAndGet();
    refresh(key, nowNanos);
  }

  /** How many keys have an override. */
  public int overrideCount() {
    return overrides.size();
  }

  /** How many keys have an adapted rate. */
  public int adaptedCount() {
    return adapted.size();
  }

  private Bands ceilingFor(String key) {
    if (key != null) {
      Bands o = overrides.get(key);
      if (o != null) {
        return o;
      }
    }
    return defaults;
  }

  /**
   * The bands {@code key}'s bucket must have: its ceiling's, or those of its adapted rate under
   * the ceiling as it is now. The same instance as long as neither changes, since a bucket is
   * replaced whenever its bands are not the ones this returns.
   */
  private Bands shapeFor(String key) {
    Bands ceiling = ceilingFor(key);
    if (key == null) {
      return ceiling;
    }
    Adapted a = adapted.get(key);
    while (a != null) {
      if (a.ceiling == ceiling) {
        return a.bands;
      }
      // The ceiling changed since the rate was set: apply the rate to the new one.
      Adapted now = Adapted.under(ceiling, a.permitsPerSecond);
      if (adapted.replace(key, a, now)) {
        return now.bands;
      }
      a = adapted.get(key);
    }
    return ceiling;
  }

  /** A key's adapted rate, and the bands it gives under the ceiling it was applied to. */
  private record Adapted(double permitsPerSecond, Bands ceiling, Bands bands) {
    static Adapted under(Bands ceiling, double permitsPerSecond) {
      RateLimit c = ceiling.limit;
      double cap = c.permitsPerSecond();
      if (permitsPerSecond >= cap) {
        return new Adapted(permitsPerSecond, ceiling, ceiling);
      }
      double f = permitsPerSecond / cap;
      List<RateLimit> bands = c.bandwidths();
      RateLimit scaled;
      if (bands.size() == 1) {
        // Never slower than a RateLimit holds: a cut of a ceiling accepted at build must not
        // throw from inside a call.
        double r = atLeastSlowest(permitsPerSecond, SECOND_NANOS);
        if (r >= cap) {
          return new Adapted(permitsPerSecond, ceiling, ceiling);
        }
        // The burst shrinks with the rate, to at most a second's worth: a full bucket must not
        // undo the cut at once.
        int burst = (int) Math.max(1, Math.min(c.burst(), Math.ceil(r)));
        scaled = RateLimit.perSecond(r).burst(fitBurst(burst, SECOND_NANOS / r));
      } else {
        // A combined ceiling (an operator's override): every bandwidth by the same factor.
        scaled = null;
        for (RateLimit b : bands) {
          long period = b.period().toNanos();
          double permits = atLeastSlowest(b.permits() * f, period);
          int burst = (int) Math.max(1, Math.min(b.burst(), Math.ceil(b.burst() * f)));
          RateLimit one = RateLimit.per(permits, b.period())
              .burst(fitBurst(burst, period / permits));
          scaled = scaled == null ? one : scaled.and(one);
        }
      }
      return new Adapted(permitsPerSecond, ceiling, new Bands(scaled));
    }

    /**
     * {@code permits} per {@code periodNanos}, raised to the slowest rate a RateLimit holds if
     * below it (checked as RateLimit checks it, so the rounding agrees).
     */
    private static double atLeastSlowest(double permits, long periodNanos) {
      double p = Math.max(permits, periodNanos / Bands.SLOWEST_INTERVAL_NANOS);
      while (periodNanos / p > Bands.SLOWEST_INTERVAL_NANOS) {
        p = Math.nextUp(p);
      }
      return p;
    }

    /** {@code burst}, lowered (not below 1) until it refills in the longest time allowed. */
    private static int fitBurst(int burst, double intervalNanos) {
      int b = burst;
      while (b > 1 && b * intervalNanos > Bands.SLOWEST_INTERVAL_NANOS) {
        b = (int) Math.max(1, Math.min(b - 1, Math.floor(Bands.SLOWEST_INTERVAL_NANOS
            / intervalNanos)));
      }
      return b;
    }
  }

  private TokenBucket bucket(String key, long nowNanos) {
    TokenBucket b = buckets.get(key);
    return b != null ? b : create(key, nowNanos);
  }

  private TokenBucket create(String key, long nowNanos) {
    long v = version.get();
    maybeSweep(nowNanos);
    Bands shape = shapeFor(key);
    // A key with a rate of its own (an operator's override, an adapted rate) always gets its own
    // bucket: the shared one has the default rate. Such keys are few, and set on purpose.
    boolean ownRate = shape != defaults;
    int max = defaults.limit.maxKeys();
    if (!ownRate && buckets.size() >= max) {
      // The caller records the key once it has used the shared bucket: see maybeSweep.
      Runnable hook = beforeOverflowUse;
      if (hook != null) {
        hook.run();
      }
      return overflow;
    }
    // Announced before anything below is read, withdrawn once published: see tookFromOverflow.
    building.merge(key, 1, Integer::sum);
    try {
      return build(key, shape, v, nowNanos);
    } finally {
      building.computeIfPresent(key, (k, n) -> n == 1 ? null : n - 1);
    }
  }

  /** {@link #create}'s building and publishing of {@code key}'s bucket, once announced. */
  private TokenBucket build(String key, Bands shape, long v, long nowNanos) {
    // A key that shared the overflow bucket starts where that bucket stands, never fuller, and
    // still paused if the server paused it there (even if it has a rate of its own by now).
    // Any other key starts full: what other keys did in the shared bucket is not its own.
    TokenBucket fresh;
    Long record = inOverflow.get(key);
    Seen source = null;
    if (record != null | overflowUntracked.get() != NONE) {
      source = overflowNow();
      fresh = source.bucket.startingLike(source.state, source.shift, shape, nowNanos);
    } else {
      fresh = TokenBucket.full(shape, new PauseState(nowNanos), nowNanos);
    }
    long[] initial = fresh.snapshot();
    Runnable hook = beforeInsert;
    if (hook != null) {
      hook.run();
    }
    // Takes from the shared bucket since it was read, before anyone can take from this one.
    Seen seen = catchUp(key, fresh, initial, source, nowNanos);
    hook = beforePublish;
    if (hook != null) {
      hook.run();
    }
    TokenBucket prev = buckets.putIfAbsent(key, fresh);
    if (prev != null) {
      return prev;
    }
    hook = afterPublish;
    if (hook != null) {
      hook.run();
    }
    if (record != null) {
      // Forgotten only now that the key's bucket is published: a first use racing this one
      // reads the record until then, so it too builds a bucket where the shared one stands,
      // never a full one that could win the race. (A use recorded since stays: conditional.)
      inOverflow.remove(key, record);
    }
    // And those between that look and the publishing, which may not have seen it.
    catchUp(key, fresh, initial, seen, nowNanos);
    if (version.get() != v) {
      // A reconfiguration ran while we built the bucket and may have missed it.
      refresh(key, nowNanos);
    }
    return fresh;
  }

  /*
   * Takes racing a key's leaving the overflow bucket. A use of the key may hold the overflow
   * bucket (handed out while the table was full) and take from it just as another use builds
   * the key's own bucket from it: a permit the new bucket never saw, so the key could be
   * granted one more than burst + rate * T per such use. Each side looks after its own write,
   * so that one of them sees the other (as in Dekker's algorithm):
   *
   *  - a build announces itself (building) before it reads anything, and withdraws once the
   *    key's bucket is published (by it or by another);
   *  - a take from the overflow bucket is followed by a look at the announcements, then for
   *    the key's own bucket (tookFromOverflow). A take the build's reading missed came after
   *    the announcement, so the look finds it, or finds the bucket published if it was
   *    withdrawn. Found announced, the take builds the key's bucket itself, from the shared
   *    bucket as it stands after the take (so counting it), and publishes it unless the build
   *    published first. A bucket found, or published first by another, must give the permits
   *    as well, or the use is refused (the shared bucket's permits are not given back:
   *    stricter, never looser).
   *
   * So the bucket that is published has seen every take from the shared bucket whose use does
   * not take from it too: nothing is charged after the publishing, for a use of the new bucket
   * to miss. The building still looks at the overflow bucket before and after publishing
   * (catchUp) and charges the new bucket what was taken from the shared one since it was read
   * (a bucket built full, what it would have started without if the key turns out to have used
   * the shared bucket meanwhile). A take counted twice, and other keys' takes from the shared
   * bucket in that short window, make it stricter, never looser. The announcement costs a new
   * key's first use two writes to a map, and a use of the shared bucket one look; keys with a
   * bucket of their own pay one comparison of two final fields, as before.
   */

  /**
   * {@code key} took permits from the overflow bucket: records it (see noteUse), and returns
   * the key's own bucket if it has one by now, else null. While one is being built, builds it
   * from the shared bucket as it stands now, which counts the permits just taken: null if this
   * one is published, else the one published first.
   */
  private TokenBucket tookFromOverflow(String key, long nowNanos) {
    usedOverflow(key);
    // The announcement first: withdrawn only once the key's bucket is published, so a build
    // finished since is found by the look after it.
    if (!building.containsKey(key)) {
      return buckets.get(key);
    }
    // A build under way may have read the shared bucket before this take: make sure the key's
    // own bucket counts it, by building one from the shared bucket as it stands now.
    TokenBucket own = buckets.get(key);
    if (own != null) {
      return own;
    }
    long v = version.get();
    Seen now = overflowNow();
    TokenBucket fresh = now.bucket.startingLike(now.state, now.shift, shapeFor(key), nowNanos);
    TokenBucket prev = buckets.putIfAbsent(key, fresh);
    if (prev != null) {
      return prev;
    }
    if (version.get() != v) {
      refresh(key, nowNanos);
    }
    // Built after the take: the permits are in it already.
    return null;
  }

  /**
   * A bucket's state as read, to tell later what was taken from it since, and its pause shift
   * with the pauses under way read just after (see PauseState.shiftAtStart).
   */
  private record Seen(TokenBucket bucket, long[] state, long shift) {}

  /** The overflow bucket in use and its state now (a retired one's successor, read again). */
  private Seen overflowNow() {
    for (;;) {
      TokenBucket b = latest(overflow);
      long[] state = b.snapshot();
      if (state != null) {
        // After the state: see PauseState.shiftAtStart.
        return new Seen(b, state, b.pause.shiftBegun());
      }
    }
  }

  /**
   * Charges {@code key}'s bucket {@code fresh} (built with state {@code initial}) for what was
   * taken from the overflow bucket since {@code seen}, or, when null (built full) and the key
   * used the overflow bucket meanwhile, for what it would have started without. See above.
   *
   * @return the overflow bucket's state now, for the next look; null when there was no need
   */
  private Seen catchUp(String key, TokenBucket fresh, long[] initial, Seen seen,
      long nowNanos) {
    if (seen == null && !inOverflow.containsKey(key) && overflowUntracked.get() == NONE) {
      return null;
    }
    Seen current = overflowNow();
    TokenBucket now = current.bucket;
    long[] after = current.state;
    Bands of;
    long[] used;
    if (seen == null) {
      // Built full: charge what it would have started without, built from the shared bucket.
      of = fresh.bands;
      used = TokenBucket.usedSince(of, initial, now.convert(after, of, nowNanos), nowNanos);
    } else {
      // Reconfigured since: read where it stands in the bands it was read in.
      of = seen.bucket.bands;
      long[] later = now.bands == of ? after : now.convert(after, of, nowNanos);
      used = TokenBucket.usedSince(of, seen.state, later, nowNanos);
    }
    if (used != null) {
      TokenBucket own = fresh;
      while (!own.charge(nowNanos, of, used)) {
        // Replaced since it was published: charge its successor, unless a sweep dropped it.
        unlink(key, own);
        own = buckets.get(key);
        if (own == null) {
          break;
        }
      }
    }
    return current;
  }

  /*
   * Forgetting the keys of the overflow bucket. A sweep may forget a use of the shared bucket
   * only if the use happened before the sweep found the bucket full (it has refilled since, so
   * the key owes nothing); a use that lands after that check must survive the clear that
   * follows it. Each use is recorded after it is made, with the epoch read after it, and each
   * sweep advances the epoch to E before it checks, then removes only records older than E:
   *
   *  - A use recorded with an epoch older than E read the epoch before the sweep advanced it,
   *    so the use itself (a compare-and-set on the bucket's state, or the pause's end) came
   *    before the check, which sees it: the bucket is not full, and nothing is cleared, unless
   *    it has refilled since and the use is paid for.
   *  - A use recorded with E or later is kept by this sweep: a record of it that lands before
   *    the removal moves the entry to E, so the conditional removal fails (likewise the
   *    compare-and-set on overflowUntracked); one that lands after it is simply new.
   *
   * A key's record keeps its latest epoch (merge by max), so an older use recorded late cannot
   * lower it. Recording before the use, or clearing everything, would leave a window: record,
   * check (full), use, clear; the key's own bucket would then start full after it had emptied
   * the shared one. Keys with a bucket of their own pay one comparison of two final fields.
   */
  private void maybeSweep(long nowNanos) {
    long due = nextSweep.get();
    if (nowNanos - due < 0 || !nextSweep.compareAndSet(due, nowNanos + SWEEP_EVERY_NANOS)) {
      return;
    }
    for (Map.Entry<String, TokenBucket> e : buckets.entrySet()) {
      TokenBucket b = e.getValue();
      if (b.retireIfFull(nowNanos)) {
        buckets.remove(e.getKey(), b);
      }
    }
    long epoch = overflowEpoch.incrementAndGet();
    if ((!inOverflow.isEmpty() || overflowUntracked.get() != NONE) && overflowIsFree(nowNanos)) {
      // The shared bucket has refilled and is not paused: the keys that used it before this
      // sweep owe nothing any more. Uses recorded since carry this epoch and stay.
      Runnable hook = afterOverflowCheck;
      if (hook != null) {
        hook.run();
      }
      for (Map.Entry<String, Long> e : inOverflow.entrySet()) {
        long used = e.getValue();
        if (used < epoch) {
          // Conditional: a use recorded meanwhile moved the entry to this epoch; it stays.
          inOverflow.remove(e.getKey(), used);
        }
      }
      long untracked = overflowUntracked.get();
      if (untracked != NONE && untracked < epoch) {
        // Fails only when a use was recorded meanwhile: then it stays.
        overflowUntracked.compareAndSet(untracked, NONE);
      }
    }
  }

  /** Whether the overflow bucket is full and not paused now. */
  private boolean overflowIsFree(long nowNanos) {
    // The pause's end, too: a pause moves it before it shifts the bucket's state.
    return overflow.isFull(nowNanos) && overflowPause.until() - nowNanos <= 0;
  }

  /**
   * {@code key} used the bucket whose pause state is {@code bucketPause} (took from it, asked
   * it, or paused it): recorded when that is the overflow bucket. Called after the use, never
   * before: see maybeSweep.
   */
  private void noteUse(PauseState bucketPause, String key) {
    // The overflow bucket, and each that replaces it, has this pause state; no other has.
    if (bucketPause == overflowPause) {
      usedOverflow(key);
    }
  }

  /** Records that {@code key} used the overflow bucket: see {@link #noteUse}. */
  private void usedOverflow(String key) {
    long epoch = overflowEpoch.get();
    Long recorded = inOverflow.get(key);
    if (recorded != null && recorded >= epoch) {
      // Recorded since this epoch began: a merge would change nothing, and it locks the map's
      // bin (a monitor) on every call of every key in the shared bucket.
      return;
    }
    int max = Math.max(MAX_OVERFLOW_KEYS, defaults.limit.maxKeys());
    if (recorded != null || inOverflow.size() < max) {
      inOverflow.merge(key, epoch, Long::max);
    } else if (overflowUntracked.get() < epoch) {
      overflowUntracked.accumulateAndGet(epoch, Long::max);
    }
  }

  /** The bucket that replaces {@code retired} for {@code key}, helping publish it. */
  private TokenBucket next(String key, TokenBucket retired, long nowNanos) {
    unlink(key, retired);
    if (key == null) {
      return unkeyed;
    }
    return bucket(key, nowNanos);
  }

  /** Puts the bucket that replaces {@code retired} in its place, or drops a swept one. */
  private void unlink(String key, TokenBucket retired) {
    TokenBucket s = retired.successor;
    if (s != null) {
      UNKEYED.compareAndSet(this, retired, s);
      OVERFLOW.compareAndSet(this, retired, s);
      if (key != null) {
        buckets.replace(key, retired, s);
      }
    } else if (key != null) {
      // Retired by a sweep: dead, and full when it died, so a new bucket is the same.
      buckets.remove(key, retired);
    }
  }

  private void refresh(String key, long nowNanos) {
    for (;;) {
      TokenBucket b = buckets.get(key);
      if (b == null) {
        return;
      }
      Bands want = shapeFor(key);
      if (b.bands == want) {
        return;
      }
      if (b.retireInto(want, nowNanos)) {
        buckets.replace(key, b, b.successor);
      } else {
        next(key, b, nowNanos);
      }
    }
  }

  private void refreshSlot(VarHandle slot, long nowNanos) {
    for (;;) {
      TokenBucket b = (TokenBucket) slot.getVolatile(this);
      Bands want = defaults;
      if (b.bands == want) {
        return;
      }
      // Slot buckets are never swept, so a retired one always has a successor.
      b.retireInto(want, nowNanos);
      slot.compareAndSet(this, b, b.successor);
    }
  }

  @Override
  public String toString() {
    return "RealRateLimiter[" + defaults.limit + ", " + buckets.size() + " keys]";
  }
}
