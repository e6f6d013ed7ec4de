package dev.outrigger.internal.ratelimit;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.ToDoubleFunction;

/**
 * The adaptive send rate of each key, as the AWS SDK's adaptive retry mode computes it: a
 * throttling answer cuts the rate to {@link #BETA} of what it was, and the rate then recovers
 * along CUBIC's curve {@code W(t) = C (t - K)^3 + Wmax} with {@code K = cbrt(Wmax (1 - BETA) / C)},
 * so it climbs fast at first, slows near the rate that was last throttled, then probes above it;
 * never above the key's ceiling nor below {@link #MIN_FRACTION} of it (nor below one permit per
 * 50 years, the slowest rate a limit holds).
 *
 * <p>The ceiling is the rate the key is configured with (the limiter's limit, or an operator's
 * override of the key), passed in with every answer, so that a limit changed at run time bounds
 * the adapted rate from the next answer on: lowered, it caps the rate at once; raised, the rate
 * goes on recovering from where it was (the server throttled it there) up to the new ceiling.
 *
 * <p>Pure arithmetic on an immutable state per key, swapped by compare-and-set; time is given by
 * the caller (monotonic nanoseconds). Memory is bounded: about {@code maxKeys} keys (the bound
 * as it is at each new key's first throttle) adapt at once (first throttles of new keys racing
 * at the bound may pass it by a few); others keep their ceiling. A key leaves when an answer
 * finds it back at its ceiling, or, for a key no answer comes back to (a tenant gone, a host
 * no longer called), when a new key's throttle finds the table full and the key's curve has
 * reached its ceiling by then: looked for at most once per {@link #SWEEP_EVERY_NANOS}, so keys
 * that went quiet cannot keep every new key from adapting for good.
 */
public final class CubicRate {
  /** The multiplicative decrease. */
  static final double BETA = 0.7;
  /** CUBIC's scaling constant, in permits per second per second cubed. */
  static final double C = 0.4;
  /** The lowest rate, as a fraction of the ceiling. */
  static final double MIN_FRACTION = 0.01;
  /** A burst of throttling answers to one key cuts its rate once. */
  static final long MIN_CUT_INTERVAL_NANOS = 100_000_000L;
  /** The least time between two looks for recovered keys in a full table. */
  static final long SWEEP_EVERY_NANOS = 1_000_000_000L;

  /** One key's state: the rate now, the rate last throttled and when. */
  record State(double rate, double lastMax, long cutAtNanos) {}

  private final IntSupplier maxKeys;
  /** A key's ceiling as it is now, for the keys a sweep looks at; null: no sweep. */
  private final ToDoubleFunction<String> ceilingOf;
  private final ConcurrentHashMap<String, AtomicReference<State>> keys = new ConcurrentHashMap<>();
  /** When the table was last swept for recovered keys, or {@link Long#MIN_VALUE}: never. */
  private final AtomicLong sweptAt = new AtomicLong(Long.MIN_VALUE);

  public CubicRate(int maxKeys) {
    this(() -> maxKeys, null);
  }

  /**
   * @param maxKeys the key bound as it is now, read at each key's first throttle (the limiter's
   *     {@code maxKeys}, which a reconfiguration may change)
   * @param ceilingOf a key's ceiling as it is now, in permits per second: when a new key's
   *     throttle finds the table full, the keys whose curve has reached it leave (null: they
   *     leave only on an answer)
   */
  public CubicRate(IntSupplier maxKeys, ToDoubleFunction<String> ceilingOf) {
    this.maxKeys = maxKeys;
    this.ceilingOf = ceilingOf;
  }

  /**
   * A key's state once an answer ended its adaptation: set by compare-and-set before the key
   * leaves the map, so that a throttle racing that answer sees it and starts afresh instead of
   * cutting a state nobody reads any more.
   */
  private static final State DONE = new State(Double.NaN, Double.NaN, 0);

  /** The rate {@code key} adapted to, or NaN when it is not adapting (it follows its ceiling). */
  public double rate(String key) {
    AtomicReference<State> ref = keys.get(key);
    if (ref == null) {
      return Double.NaN;
    }
    State s = ref.get();
    return s == DONE ? Double.NaN : s.rate();
  }

  /** The rate {@code key} may use under {@code ceiling}: its adapted rate, or the ceiling. */
  public double rate(String key, double ceiling) {
    double r = rate(key);
    return Double.isNaN(r) ? ceiling : Math.min(ceiling, r);
  }

  /** Whether {@code key} is adapting (has been cut and has not recovered yet). */
  public boolean adapting(String key) {
    return !Double.isNaN(rate(key));
  }

  /**
   * A throttling answer for {@code key} whose ceiling is {@code ceiling} permits per second:
   * returns the new rate, or NaN when nothing changed (a cut already happened within
   * {@link #MIN_CUT_INTERVAL_NANOS}, or the table is full).
   */
  public double throttled(String key, long nowNanos, double ceiling) {
    return throttled(key, nowNanos, ceiling, k -> {});
  }

  /**
   * {@link #throttled(String, long, double)}, telling {@code ended} of each key that left the
   * full table to make room (its curve had reached its ceiling, but no answer came to say so):
   * it follows its ceiling again.
   */
  public double throttled(String key, long nowNanos, double ceiling, Consumer<String> ended) {
    for (;;) {
      if (keys.size() >= maxKeys.getAsInt() && !keys.containsKey(key)
          && !sweep(nowNanos, ended)) {
        // Full, and no key has recovered: a new key is not adapted (it keeps the configured
        // rate). Forgetting a cut key instead would strand its lowered rate in the limiter.
        return Double.NaN;
      }
      // A key's first throttle puts it in the map already cut: never, even for a moment, as
      // an uncut state that a racing answer could take for one that has recovered.
      State first = new State(Math.max(floor(ceiling), ceiling * BETA), ceiling, nowNanos);
      AtomicReference<State> ref =
          keys.computeIfAbsent(key, k -> new AtomicReference<>(first));
      if (ref.get() == first) {
        return first.rate();
      }
      for (;;) {
        State s = ref.get();
        if (s == DONE) {
          // An answer just ended this key's adaptation: help it leave, and start afresh.
          keys.remove(key, ref);
          break;
        }
        if (nowNanos - s.cutAtNanos() < MIN_CUT_INTERVAL_NANOS) {
          return Double.NaN;
        }
        double current = recovered(s, nowNanos, ceiling);
        State next =
            new State(Math.max(floor(ceiling), current * BETA), current, nowNanos);
        if (ref.compareAndSet(s, next)) {
          return next.rate();
        }
      }
    }
  }

  /**
   * Lets go of the keys whose curve has reached their ceiling by {@code nowNanos}, telling
   * {@code ended} of each, unless another sweep ran within {@link #SWEEP_EVERY_NANOS}.
   *
   * @return whether a key left
   */
  private boolean sweep(long nowNanos, Consumer<String> ended) {
    long last = sweptAt.get();
    if (ceilingOf == null
        || (last != Long.MIN_VALUE && nowNanos - last < SWEEP_EVERY_NANOS)
        || !sweptAt.compareAndSet(last, nowNanos)) {
      return false;
    }
    boolean freed = false;
    for (Map.Entry<String, AtomicReference<State>> e : keys.entrySet()) {
      AtomicReference<State> ref = e.getValue();
      State s = ref.get();
      if (s == DONE) {
        continue;
      }
      double ceiling = ceilingOf.applyAsDouble(e.getKey());
      // Marked first, as accepted() does, so that a racing throttle starts afresh.
      if (recovered(s, nowNanos, ceiling) >= ceiling && ref.compareAndSet(s, DONE)) {
        keys.remove(e.getKey(), ref);
        ended.accept(e.getKey());
        freed = true;
      }
    }
    return freed;
  }

  /**
   * An answer that was not throttling, for {@code key} whose ceiling is {@code ceiling}: returns
   * the recovered rate when it moved by at least 1% (or reached the ceiling, which ends the
   * key's adaptation), NaN otherwise.
   */
  public double accepted(String key, long nowNanos, double ceiling) {
    AtomicReference<State> ref = keys.get(key);
    if (ref == null) {
      return Double.NaN;
    }
    for (;;) {
      State s = ref.get();
      if (s == DONE) {
        return Double.NaN;
      }
      double r = recovered(s, nowNanos, ceiling);
      if (r < ceiling && r < s.rate() * 1.01) {
        return Double.NaN;
      }
      if (r >= ceiling) {
        // Back at the ceiling (or the ceiling came down to the rate): done adapting. Marked
        // first, so that a racing throttle cannot cut a state that is leaving.
        if (ref.compareAndSet(s, DONE)) {
          keys.remove(key, ref);
          return ceiling;
        }
        continue;
      }
      State next = new State(r, s.lastMax(), s.cutAtNanos());
      if (ref.compareAndSet(s, next)) {
        return r;
      }
    }
  }

  /**
   * The lowest rate under {@code ceiling}: {@link #MIN_FRACTION} of it, but never slower than a
   * rate limit holds (one permit per 50 years), which 1% of a ceiling below one permit per six
   * months would be.
   */
  static double floor(double ceiling) {
    return Math.max(ceiling * MIN_FRACTION, Bands.SLOWEST_PER_SECOND);
  }

  /** CUBIC's rate {@code t} after the last cut, within the bounds. */
  double recovered(State s, long nowNanos, double ceiling) {
    double t = Math.max(0, (nowNanos - s.cutAtNanos()) / 1e9);
    double k = Math.cbrt(s.lastMax() * (1 - BETA) / C);
    double w = C * Math.pow(t - k, 3) + s.lastMax();
    return Math.min(ceiling, Math.max(Math.max(floor(ceiling), s.rate()), w));
  }
}
