package dev.outrigger.internal.breaker;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.internal.FirstFailure;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The breakers of one client, one per key, at most {@link CircuitBreaker#maxBreakers()} of them.
 *
 * <p>Breakers are created on first use. When a new key arrives and the map is full, the thread
 * that gets there first drops the least recently used eighth of the breakers: an O(n log n) pass
 * once every n/8 new keys, no background thread. Never dropped: a breaker forced open or
 * disabled by hand (kept even beyond the maximum), and one open or half-open that was opened or
 * used within its own wait in OPEN (grown for that opening, if it grows; its uses noted to the
 * millisecond; dropping it would let a failing host's calls through before its wait is over),
 * or half-open with a probe still out; nor one whose state moved since the pass listed it, nor a
 * half-open one whose probe answered or that a call found since, nor one whose transitions
 * another thread is still publishing (a slow listener: a later pass drops it). A dropped breaker
 * is out of use ({@link BreakerStateMachine#dropped(BreakerState, long, IntConsumer)}): the
 * outcomes of its calls still in flight go nowhere, so it never opens after it left; the key's
 * next call starts a fresh breaker, whose transitions reach listeners after the dropped one's.
 * If no breaker can be dropped, a new key gets a breaker that is not kept, out of use from the
 * start (its call admitted, its outcome recorded nowhere).
 *
 * <p>A pass that drops nothing (an outage: every breaker open and in use) remembers until when
 * nothing can go: the earliest time a kept open breaker could have sat unused for its whole wait
 * (one wait at most). New keys skip the pass until then, or until a breaker closes (its probes
 * succeeded, or a reset) or joins the table, which bump {@link #changes}; using a breaker only
 * pushes that time back. So an outage costs one pass per open wait, not one per new-key call.
 *
 * <p>Thread-safe.
 */
public final class Breakers {
  private static final Logger LOG = LoggerFactory.getLogger(CircuitBreaker.class);

  private final CircuitBreaker config;
  private final CallListener listener;
  private final int max;
  /** The longest an open breaker may wait (its wait grows with a multiplier), saturated. */
  private final long maxOpenWaitNanos;
  private final ConcurrentHashMap<String, BreakerStateMachine> map = new ConcurrentHashMap<>();
  private final AtomicBoolean evicting = new AtomicBoolean();
  /**
   * Held while a breaker set by hand is put in the table over another (by a hand, or by the
   * eviction putting one back): two such puts for one key must not interleave, or each would
   * take the other's breaker out of use and leave the table's breaker out of use for good.
   * Never taken by a call.
   */
  private final ReentrantLock hands = new ReentrantLock();
  /** Bumped after a breaker of this client closes or one joins the table: one may now go. */
  private final AtomicLong changes = new AtomicLong();
  private final Runnable changed = changes::incrementAndGet;
  /** What the last pass that dropped nothing learnt, or null. */
  private volatile Quiet quiet;
  /** Dropped breakers reported; written only by the thread holding {@link #evicting}. */
  private volatile int reports;
  /** Eviction passes run (for tests); written only by the thread holding {@link #evicting}. */
  private int passes;
  private volatile boolean warned;
  /** Set as the client closes: no breaker is set by hand afterwards. */
  private volatile boolean closed;
  /** Test hook: run by an eviction pass after it chose its candidates, before it drops any. */
  Runnable beforeDrop;
  /**
   * Test hook: told each step of an eviction pass's claim of a half-open breaker's probe
   * permits, before it takes that breaker out of use ({@link BreakerStateMachine#CLAIMED}...).
   */
  IntConsumer claimSteps;

  /** A breaker listed in {@code seen}, which had then {@code recorded} what it had recorded. */
  private record Candidate(String key, BreakerStateMachine breaker, BreakerState seen,
      long recorded, long lastUsedNanos) {}

  /** Nothing can go before {@code untilNanos} while {@link #changes} still is {@code changes}. */
  private record Quiet(long changes, long untilNanos) {}

  public Breakers(CircuitBreaker config, CallListener listener) {
    this.config = config;
    this.listener = listener;
    this.max = config.maxBreakers();
    this.maxOpenWaitNanos = BreakerStateMachine.saturatedNanos(config.maxWaitInOpenState());
  }

  /**
   * The breaker of {@code key}, created if needed, marked as used at {@code nowNanos}. For tests
   * and the benchmarks in {@code src/bench} (another package): a call marks the use with the
   * state it reads, {@link #untouched}.
   */
  public BreakerStateMachine get(String key, long nowNanos) {
    BreakerStateMachine b = untouched(key, nowNanos);
    b.touch(nowNanos);
    return b;
  }

  /**
   * The breaker of {@code key}, created if needed (at {@code nowNanos}), not yet marked as used:
   * the caller marks it with the state it reads ({@link BreakerStateMachine#touch(long,
   * BreakerState)}), so a call reads the state once.
   */
  BreakerStateMachine untouched(String key, long nowNanos) {
    BreakerStateMachine b = map.get(key);
    return b != null ? b : create(key, nowNanos);
  }

  /**
   * Sets {@code key}'s breaker by hand with {@code op} ({@code forceOpen}, {@code disable}): the
   * breaker is kept, even beyond the maximum, and replaces one a racing call made meanwhile,
   * which goes out of use as a dropped one does.
   */
  public void setByHand(String key, long nowNanos,
      java.util.function.Consumer<BreakerStateMachine> op) {
    setByHand(key, nowNanos, op, "set by hand");
  }

  /**
   * {@link #setByHand(String, long, java.util.function.Consumer)}, {@code what} naming the
   * setting in the refusal of a closed client's.
   *
   * @throws IllegalStateException if the client closed, before or while this ran
   */
  void setByHand(String key, long nowNanos,
      java.util.function.Consumer<BreakerStateMachine> op, String what) {
    checkOpen(key, what);
    hands.lock();
    try {
      BreakerStateMachine b = map.computeIfAbsent(
          key, k -> new BreakerStateMachine(k, config, listener, nowNanos, changed));
      b.touch(nowNanos);
      op.accept(b);
      // An eviction between the two steps (it was not yet set by hand) must not lose it.
      BreakerStateMachine was = map.put(key, b);
      if (was != b) {
        changes.incrementAndGet();
        if (was != null) {
          // A call made it for the key after the eviction, and may still be in flight in it
          // (not another hand's: those hold the lock).
          was.replaced();
        }
      }
      if (closed) {
        // close() came meanwhile, and may have taken the breakers out of use before this one
        // was set (or put): it goes out of use as they did, its setting reported closed again.
        b.clientClosed();
        checkOpen(key, what);
      }
    } finally {
      hands.unlock();
    }
  }

  /**
   * Notes that the client closes, so that no breaker can be set by hand from now on, and returns
   * the breakers for the caller to take out of use ({@link BreakerStateMachine#clientClosed}).
   * A hand that set one as this ran takes it out of use itself ({@link #setByHand}).
   */
  List<BreakerStateMachine> close() {
    // Set before the breakers are listed: a hand that sets one after the listing sees it.
    closed = true;
    return all();
  }

  /**
   * Throws if the client closed: a breaker of a closed client is not taken over by hand ({@code
   * what}: "forced open", "disabled", "reset"), as a call on the client is not made.
   */
  void checkOpen(String key, String what) {
    if (closed) {
      throw closedClient(key, what);
    }
  }

  /** The refusal of a closed client's handle to set {@code key}'s breaker {@code what}. */
  static IllegalStateException closedClient(String key, String what) {
    return new IllegalStateException(
        "this ApiClient is closed: its circuit breaker " + key + " cannot be " + what);
  }

  /** The breaker of {@code key} if there is one. */
  public BreakerStateMachine find(String key) {
    return map.get(key);
  }

  /** Every breaker now kept. */
  public List<BreakerStateMachine> all() {
    return List.copyOf(map.values());
  }

  public int size() {
    return map.size();
  }

  public CircuitBreaker config() {
    return config;
  }

  private BreakerStateMachine create(String key, long now) {
    if (map.size() >= max && !quiet(now)) {
      evict(now);
    }
    BreakerStateMachine fresh = new BreakerStateMachine(key, config, listener, now, changed);
    if (map.size() >= max && !map.containsKey(key)) {
      // Still full: none could go (set by hand, or open and in use), or other threads just
      // filled the room. Out of use from the start: a breaker no table keeps could open (and
      // report it), and nothing would ever report it closing.
      fresh.dropped("not kept: the table of breakers is full");
      return fresh;
    }
    BreakerStateMachine raced = map.putIfAbsent(key, fresh);
    if (raced != null) {
      return raced;
    }
    changes.incrementAndGet();
    return fresh;
  }

  /** Whether the last pass that dropped nothing still holds at {@code now}. */
  private boolean quiet(long now) {
    Quiet q = quiet;
    return q != null && now - q.untilNanos < 0 && q.changes == changes.get();
  }

  private void evict(long now) {
    if (!evicting.compareAndSet(false, true)) {
      return;
    }
    try {
      passes++;
      // Read before the breakers: a change after this read voids what the pass learns.
      long seen = changes.get();
      // Until the first kept open breaker may go; its wait at most: using it only delays that.
      long quietFor = maxOpenWaitNanos;
      // Last-use times are copied first: they move while we sort.
      List<Candidate> candidates = new ArrayList<>();
      for (Map.Entry<String, BreakerStateMachine> e : map.entrySet()) {
        BreakerStateMachine b = e.getValue();
        // The state first: a breaker that trips notes the use before it installs the state, so
        // a tripped state is never paired with a last use from before its opening.
        BreakerState state = b.current();
        // Then what it recorded: a half-open probe's answer after this read keeps it.
        long recorded = BreakerStateMachine.recorded(state);
        long lastUsed = b.lastUsedNanos();
        if (setByHand(state.state())) {
          continue;
        }
        // Its own wait, which may have grown (not the growth's maximum): OPEN or HALF_OPEN.
        long wait = b.openWaitNanos(state);
        // A half-open probe still out is a use going on, however long it takes.
        long unused = b.probing(state) ? 0 : now - lastUsed;
        if (wait >= 0 && unused < wait) {
          quietFor = Math.min(quietFor, wait - unused);
        } else {
          candidates.add(new Candidate(e.getKey(), b, state, recorded, lastUsed));
        }
      }
      candidates.sort(Comparator.comparingLong(Candidate::lastUsedNanos));
      int drop = Math.min(candidates.size(), Math.max(1, max / 8));
      Runnable hook = beforeDrop;
      if (hook != null) {
        hook.run();
      }
      int dropped = 0;
      FirstFailure failed = new FirstFailure();
      for (int i = 0; i < candidates.size() && dropped < drop; i++) {
        Candidate c = candidates.get(i);
        BreakerStateMachine gone = c.breaker();
        // An open breaker's key starts over with a closed breaker: it is reported, or a gauge of
        // the state (fed by the listener) would show it open for good; on this thread before it
        // leaves the table, so that this report cannot come after one of the key's next breaker
        // (one whose transitions another thread is publishing stays, for a later pass). Only
        // from the state it was listed in: one that tripped, moved on to half-open or was set by
        // hand since is in use, and stays.
        CircuitBreaker.State left;
        try {
          left = gone.dropped(c.seen(), c.recorded(), claimSteps);
        } catch (RuntimeException | Error t) {
          // A listener's Error as the drop was reported (out of memory, say), thrown once the
          // pass is done: the breaker is out of use, and leaves the table all the same, or the
          // key's calls would go through it uncounted for good. (One not dropped stays: a
          // half-open one whose permits were claimed has a copy of its state in its place.)
          failed.add(t);
          left = gone.current() instanceof BreakerState.Dropped ? c.seen().state() : null;
        }
        if (left == null || setByHand(left)) {
          continue;
        }
        if (left != CircuitBreaker.State.CLOSED) {
          reports++;
        }
        map.remove(c.key(), gone);
        dropped++;
        if (setByHand(gone.state())) {
          // Set by hand after the look above: setByHand (which puts after it sets) may have
          // put it before this removal. It goes back, replacing a racing call's breaker,
          // which is out of use from then on (not another hand's: the lock).
          hands.lock();
          try {
            BreakerStateMachine raced = map.putIfAbsent(c.key(), gone);
            if (raced == null) {
              changes.incrementAndGet();
            } else if (raced != gone) {
              if (setByHand(raced.state())) {
                // A later hand made the key a breaker of its own meanwhile: its setting stands.
                gone.replaced();
              } else if (map.replace(c.key(), raced, gone)) {
                // Calls only add breakers, never replace them: a call's breaker is replaced.
                changes.incrementAndGet();
                raced.replaced();
              } else {
                // Gone from the table meanwhile: out of use, as a breaker the table drops.
                gone.replaced();
              }
            }
          } finally {
            hands.unlock();
          }
        }
      }
      if (drop == 0) {
        quiet = new Quiet(seen, now + quietFor);
        if (!warned) {
          warned = true;
          LOG.warn("all {} circuit breakers are set by hand or open; breakers of new keys are "
              + "not kept until one can go (raise CircuitBreaker maxBreakers)", map.size());
        }
      }
      failed.rethrow();
    } finally {
      evicting.set(false);
    }
  }

  private static boolean setByHand(CircuitBreaker.State state) {
    return state == CircuitBreaker.State.FORCED_OPEN || state == CircuitBreaker.State.DISABLED;
  }

  /**
   * How many dropped breakers were reported to listeners so far, on the evicting calls' threads:
   * a call that sees it move while it got its breaker ran listeners, for any time.
   */
  public int reports() {
    return reports;
  }

  /** How many eviction passes ran (for tests). */
  int passes() {
    return passes;
  }
}
