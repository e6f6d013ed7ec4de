package dev.outrigger.internal.retry;

import dev.outrigger.internal.Stripes;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * Per-key retry budget, after Finagle's {@code RetryBudget}: over any sliding window, retries to
 * a key may add at most {@code ratio} of the calls made to it, and beyond that a floor of
 * {@code minPerSecond} retries a second is always there: a token bucket per key that holds a
 * window's worth ({@code minPerSecond} x the window in seconds; it starts full) and refills at
 * {@code minPerSecond}. Unlike Finagle's reserve, which a burst can spend for a whole window, the
 * floor comes back at its rate, so a host that failed a burst of calls a second ago still gets
 * its {@code minPerSecond} retries. Lock-free; memory is bounded by {@code maxKeys} windows of
 * {@value #SLOTS} longs each, plus {@link #STRIPES} x 16 longs more for each key written by
 * several threads at once (at most 2 KiB a key, 2 MiB for 1,024 keys).
 *
 * <p>Implementation: each key has a ring of {@value #SLOTS} slots, each {@code window / SLOTS}
 * long. A call deposits {@code ratio} retries into the current slot and a retry withdraws one,
 * in fixed point ({@value #UNIT} units per retry). A retry is taken from the live slots when
 * their sum holds at least one retry, and otherwise from the floor's bucket (one time stamp, a
 * GCRA "theoretical arrival time", moved by compare-and-set). Each
 * slot is a single {@code long}, packing the slot's epoch (its index since the budget was made,
 * modulo 2^24) in the high 24 bits and its signed amount in the low 40 bits, so rolling a stale
 * slot over and adding to it is one compare-and-set. Check-then-withdraw is not atomic across
 * slots: concurrent retries may overdraw by at most one retry per racing thread, which a budget
 * tolerates. A slot's epoch is kept modulo 2^24, so a slot left unwritten for 2^24 slots would
 * look live again: the first call of each slot clears every stale slot of its key (see
 * {@link Window#clearStale}), so only a key unused for that long (194 days at the default 10 s
 * window) could be misread.
 *
 * <p>Every call deposits, so a key's current slot is written by every thread calling that host.
 * A key starts with one ring; the first time a compare-and-set on it fails (another thread wrote
 * the slot in between) the key grows {@link #STRIPES} more rings, each on cache lines of its own,
 * and from then on each thread adds to the ring its id picks, for good (unlike a
 * {@code LongAdder}'s cells, a thread's ring is not re-picked after a collision): threads share a
 * ring, and its cache lines, when their ids fall on the same one, which with more threads than
 * rings some always do, each ring then taking a share of the writes. A
 * ring's slots keep their own epochs, and a sum adds every ring's live slots, so a striped key
 * grants exactly what one ring would: the sum is the same, only spread.
 *
 * <p>Keys are evicted lazily: when the map is full, windows idle for a whole window (which hold
 * nothing) are removed, at most once per slot. Keys that still find no room share one overflow
 * window, so a client calling many hosts stays bounded and still limited.
 */
public final class RetryBudget {
  /** Slots per window. */
  static final int SLOTS = 10;
  /** Fixed-point units of one retry. */
  static final long UNIT = 1000;
  /**
   * Rings a contended key grows, one per thread id's stripe: twice the processors, rounded up to
   * a power of two, at most 16 (2 KiB per contended key at most).
   */
  static final int STRIPES = Stripes.count(2, 16);
  /** Longs from one ring's start to the next: {@value} x 8 = 128 bytes, two cache lines. */
  private static final int STRIDE = 16;
  /** The most keys tracked separately by default. */
  public static final int DEFAULT_MAX_KEYS = 1024;

  private static final int EPOCH_BITS = 24;
  private static final long EPOCH_MASK = (1L << EPOCH_BITS) - 1;
  private static final int AMOUNT_BITS = 64 - EPOCH_BITS;
  private static final long AMOUNT_MASK = (1L << AMOUNT_BITS) - 1;
  private static final long AMOUNT_MAX = (1L << (AMOUNT_BITS - 1)) - 1;
  private static final long AMOUNT_MIN = -(1L << (AMOUNT_BITS - 1));

  private final long depositPerCall;
  /** The floor's retries held at most (a window's worth), in fixed point, for {@link #available}. */
  private final long reserve;
  /** Nanoseconds between two of the floor's retries; 0 when there is no floor. */
  private final long floorIntervalNanos;
  /** The floor's bucket, as the time it holds, in nanoseconds: {@code reserve} retries' worth. */
  private final long floorCapacityNanos;
  private final long slotNanos;
  private final long originNanos;
  private final LongSupplier nanos;
  private final int maxKeys;
  private final double ratio;
  private final long windowNanos;
  private final int minPerSecond;
  private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();
  private final Window overflow = new Window();
  private final AtomicLong lastSweepEpoch = new AtomicLong(Long.MIN_VALUE);
  /** The slot of the latest call, a hint for {@link #epochAt} (volatile: no torn reads). */
  private volatile long lastEpoch;

  /**
   * @param ratio retries allowed per call, {@code >= 0}
   * @param windowNanos the sliding window, at least {@value #SLOTS} ns
   * @param minPerSecond retries allowed per second of window regardless of traffic
   * @param maxKeys the most keys tracked separately, {@code >= 1}
   * @param nanos a monotonic nanosecond clock
   */
  public RetryBudget(
      double ratio, long windowNanos, int minPerSecond, int maxKeys, LongSupplier nanos) {
    if (!(ratio >= 0) || Double.isInfinite(ratio) || windowNanos < SLOTS || minPerSecond < 0
        || maxKeys < 1) {
      throw new IllegalArgumentException("bad retry budget: ratio " + ratio + ", window "
          + windowNanos + " ns, min " + minPerSecond + "/s, maxKeys " + maxKeys);
    }
    this.ratio = ratio;
    this.windowNanos = windowNanos;
    this.minPerSecond = minPerSecond;
    // At most what one slot holds (a slot clamps to it anyway): a deposit near Long.MAX_VALUE
    // (a ratio above about 9e15, Double.MAX_VALUE say, which Retry.budget takes as finite)
    // overflowed the slot's sum to a negative one, clamped to the deepest debt.
    this.depositPerCall = Math.min(AMOUNT_MAX, Math.round(ratio * UNIT));
    this.reserve = Math.round(minPerSecond * (windowNanos / 1e9) * UNIT);
    this.floorIntervalNanos = minPerSecond == 0 ? 0 : Math.max(1, 1_000_000_000L / minPerSecond);
    // At least one retry's worth, so a short window still lets the floor's retries through.
    this.floorCapacityNanos = minPerSecond == 0 ? 0
        : Math.max(floorIntervalNanos, Math.round(reserve / (double) UNIT * floorIntervalNanos));
    this.slotNanos = windowNanos / SLOTS;
    this.maxKeys = maxKeys;
    this.nanos = nanos;
    this.originNanos = nanos.getAsLong();
  }

  /** Records one call to {@code key}. */
  public void deposit(String key) {
    deposit(key, nanos.getAsLong());
  }

  /** {@link #deposit(String)} at {@code nowNanos}, a reading of this budget's clock. */
  public void deposit(String key, long nowNanos) {
    long epoch = epochAt(nowNanos);
    Window w = window(key, epoch);
    // A reading older than the window's last use (a call held up before its first attempt)
    // must not land in a slot a newer epoch already reuses: count it in the newest one.
    epoch = Math.max(epoch, w.lastUsedEpoch);
    w.touch(epoch);
    if (depositPerCall > 0) {
      w.add(epoch, depositPerCall);
    }
  }

  /** Takes one retry from {@code key}'s budget if it holds one; false (and nothing) if not. */
  public boolean tryWithdraw(String key) {
    return withdraw(key) != REFUSED;
  }

  /** What {@link #withdraw} returns when the budget has no retry to give. */
  public static final long REFUSED = Long.MIN_VALUE;

  /** What {@link #withdraw} returns for a retry the floor gave. */
  static final long FLOOR = Long.MIN_VALUE + 1;

  /**
   * {@link #tryWithdraw}, returning the slot the retry was taken from (for {@link #refund}), or
   * {@link #REFUSED}.
   */
  public long withdraw(String key) {
    long now = nanos.getAsLong();
    long epoch = epochAt(now);
    Window w = window(key, epoch);
    // As in deposit: a reading older than the window's last use (a thread descheduled after
    // reading the clock) would sum a window without the newer slots, and miss the retries they
    // withdrew already. Read it at the newest epoch, which must not move back either.
    epoch = Math.max(epoch, w.lastUsedEpoch);
    w.touch(epoch);
    if (w.sum(epoch) >= UNIT) {
      w.add(epoch, -UNIT);
      return epoch;
    }
    return floorIntervalNanos > 0 && w.takeFloor(now, floorIntervalNanos, floorCapacityNanos)
        ? FLOOR : REFUSED;
  }

  /**
   * Gives back a retry taken with {@link #withdraw} (which returned {@code slot}) and never
   * sent: the caller was interrupted during the backoff, or the retry was refused before it
   * reached the network. Into the slot it was taken from, so it lasts no longer than the
   * withdrawal would have; nothing once that slot has left the window.
   */
  public void refund(String key, long slot) {
    if (slot == REFUSED) {
      return;
    }
    long epoch = epoch();
    if (slot == FLOOR) {
      window(key, epoch).refundFloor(floorIntervalNanos);
      return;
    }
    if (epoch - slot >= SLOTS) {
      return;
    }
    window(key, epoch).add(slot, UNIT);
  }

  /** Adds {@code units} to {@code key}'s slot {@code slot} as a refund would, for tests. */
  void addAt(String key, long slot, long units) {
    window(key, epoch()).add(slot, units);
  }

  /** Retries {@code key} could take now (fractional), for tests and metrics. */
  public double available(String key) {
    long now = nanos.getAsLong();
    long epoch = epochAt(now);
    Window w = windows.get(key);
    if (w == null) {
      return reserve / (double) UNIT;
    }
    long floor = floorIntervalNanos == 0 ? 0
        : w.floorHeld(now, floorIntervalNanos, floorCapacityNanos);
    return Math.max(0, w.sum(epoch)) / (double) UNIT + floor;
  }

  /** How many keys have their own window (the overflow window excluded). */
  public int trackedKeys() {
    return windows.size();
  }

  private long epoch() {
    return epochAt(nanos.getAsLong());
  }

  /**
   * The slot index of {@code nowNanos}. Most calls fall in the slot the last one did, which a
   * multiplication confirms; a 64-bit division (tens of cycles) is left for the first call of
   * each slot. {@link #lastEpoch} is only a hint: whatever a racing thread left there is checked.
   */
  private long epochAt(long nowNanos) {
    long since = nowNanos - originNanos;
    long hint = lastEpoch;
    long into = since - hint * slotNanos;
    if (into >= 0 && into < slotNanos) {
      return hint;
    }
    long epoch = Math.floorDiv(since, slotNanos);
    lastEpoch = epoch;
    return epoch;
  }

  private Window window(String key, long epoch) {
    Window w = windows.get(key);
    if (w != null) {
      return w;
    }
    if (windows.size() >= maxKeys) {
      sweep(epoch);
      if (windows.size() >= maxKeys) {
        return overflow;
      }
    }
    // May briefly exceed maxKeys under a race of new keys; the next sweep brings it back.
    return windows.computeIfAbsent(key, k -> new Window());
  }

  /** Removes windows idle for a whole window (they hold nothing), at most once per slot. */
  private void sweep(long epoch) {
    long last = lastSweepEpoch.get();
    if (last == epoch || !lastSweepEpoch.compareAndSet(last, epoch)) {
      return;
    }
    for (Iterator<Map.Entry<String, Window>> it = windows.entrySet().iterator(); it.hasNext(); ) {
      if (epoch - it.next().getValue().lastUsedEpoch >= SLOTS) {
        it.remove();
      }
    }
  }

  @Override
  public String toString() {
    return "RetryBudget[" + ratio + " of calls per " + windowNanos / 1_000_000 + " ms + "
        + minPerSecond + "/s, " + windows.size() + " keys]";
  }

  private static long pack(long epoch, long amount) {
    return ((epoch & EPOCH_MASK) << AMOUNT_BITS) | (amount & AMOUNT_MASK);
  }

  private static long epochOf(long packed) {
    return packed >>> AMOUNT_BITS;
  }

  private static long amountOf(long packed) {
    return (packed << EPOCH_BITS) >> EPOCH_BITS;
  }

  /**
   * How many slots {@code packed}'s epoch lies behind the epoch tagged {@code tag}, as a signed
   * 24-bit number: negative for a later epoch (one a racing caller's later reading wrote).
   */
  private static long age(long tag, long packed) {
    return ((tag - epochOf(packed)) << (64 - EPOCH_BITS)) >> (64 - EPOCH_BITS);
  }

  /** Whether {@code key}'s window has grown its stripes (for tests). */
  boolean striped(String key) {
    Window w = windows.get(key);
    return w != null && w.stripes != null;
  }

  /** Grows {@code key}'s stripes now, as contention would (for tests). */
  void stripe(String key) {
    window(key, epoch()).inflate();
  }

  /**
   * One key's slots: a ring of {@value #SLOTS}, and once a write to it has met another
   * thread's, {@link #STRIPES} more rings (see the class comment).
   */
  private static final class Window {
    final AtomicLongArray slots = new AtomicLongArray(SLOTS);
    /** Null until contended: {@link #STRIPES} rings, ring {@code k} from {@code k * STRIDE}. */
    volatile AtomicLongArray stripes;
    volatile long lastUsedEpoch;
    /** The floor's bucket: when it would be empty again (GCRA); far in the past: full. */
    final AtomicLong floorTat = new AtomicLong(Long.MIN_VALUE / 4);

    /** Takes one of the floor's retries at {@code now}, if the bucket holds one. */
    boolean takeFloor(long now, long interval, long capacity) {
      for (;;) {
        long tat = floorTat.get();
        long next = Math.max(tat, now) + interval;
        if (next - now > capacity) {
          return false;
        }
        if (floorTat.compareAndSet(tat, next)) {
          return true;
        }
      }
    }

    /** The floor's whole retries held at {@code now}. */
    long floorHeld(long now, long interval, long capacity) {
      long used = Math.max(floorTat.get(), now) - now;
      return Math.max(0, (capacity - used) / interval);
    }

    /** Gives one of the floor's retries back (never more than the bucket holds). */
    void refundFloor(long interval) {
      floorTat.addAndGet(-interval);
    }

    void touch(long epoch) {
      // A plain volatile write: a stale value only delays eviction by one sweep.
      if (lastUsedEpoch != epoch) {
        lastUsedEpoch = epoch;
        clearStale(epoch);
      }
    }

    /**
     * Zeroes every slot, in every ring, that holds an amount of an epoch out of the window at
     * {@code epoch}: run by the first call of each slot (two racing first calls both run it,
     * harmlessly), so that no slot keeps an old amount until its epoch, counted modulo 2^24,
     * comes round again. A ring nobody writes any more (a stripe whose threads have gone, or the
     * first ring once stripes exist) would otherwise. A slot written meanwhile is left alone.
     */
    void clearStale(long epoch) {
      clearStale(slots, SLOTS, epoch);
      AtomicLongArray s = stripes;
      if (s != null) {
        clearStale(s, s.length(), epoch);
      }
    }

    private static void clearStale(AtomicLongArray ring, int length, long epoch) {
      long tag = epoch & EPOCH_MASK;
      for (int i = 0; i < length; i++) {
        long v = ring.get(i);
        // A slot of a later epoch (a racing caller read the clock after this one) is younger,
        // not stale, and must be left alone.
        if (amountOf(v) != 0 && age(tag, v) >= SLOTS) {
          ring.compareAndSet(i, v, 0L);
        }
      }
    }

    void add(long epoch, long delta) {
      AtomicLongArray s = stripes;
      if (s == null) {
        if (tryAdd(slots, 0, epoch, delta)) {
          return;
        }
        // Another thread wrote the slot between our read and our write: spread the key.
        s = inflate();
      }
      int at = Stripes.ofCurrentThread(STRIPES) * STRIDE;
      while (!tryAdd(s, at, epoch, delta)) {
        Thread.onSpinWait();
      }
    }

    /** The stripes, made now if they are not yet. */
    AtomicLongArray inflate() {
      AtomicLongArray s = stripes;
      if (s == null) {
        AtomicLongArray made = new AtomicLongArray(STRIPES * STRIDE);
        s = STRIPES_FIELD.compareAndExchange(this, null, made) instanceof AtomicLongArray won
            ? won : made;
      }
      return s;
    }

    /** One compare-and-set adding {@code delta} to the ring at {@code at}; false if it lost. */
    private static boolean tryAdd(AtomicLongArray ring, int at, long epoch, long delta) {
      int i = at + (int) Math.floorMod(epoch, (long) SLOTS);
      long tag = epoch & EPOCH_MASK;
      long v = ring.get(i);
      if (v != 0 && age(tag, v) < 0) {
        // The slot holds a later epoch: this one (a refund's, or a reading made a whole window
        // ago) has left the window, and there is nothing to add to.
        return true;
      }
      long current = epochOf(v) == tag ? amountOf(v) : 0;
      long next = Math.max(AMOUNT_MIN, Math.min(AMOUNT_MAX, current + delta));
      return ring.compareAndSet(i, v, pack(tag, next));
    }

    long sum(long epoch) {
      long sum = ringSum(slots, 0, epoch);
      AtomicLongArray s = stripes;
      if (s != null) {
        for (int k = 0; k < STRIPES; k++) {
          sum += ringSum(s, k * STRIDE, epoch);
        }
      }
      return sum;
    }

    private static long ringSum(AtomicLongArray ring, int at, long epoch) {
      long tag = epoch & EPOCH_MASK;
      long sum = 0;
      for (int i = 0; i < SLOTS; i++) {
        long v = ring.get(at + i);
        long age = (tag - epochOf(v)) & EPOCH_MASK;
        if (age < SLOTS) {
          sum += amountOf(v);
        }
      }
      return sum;
    }

    private static final VarHandle STRIPES_FIELD;

    static {
      try {
        STRIPES_FIELD = MethodHandles.lookup()
            .findVarHandle(Window.class, "stripes", AtomicLongArray.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }
  }
}
