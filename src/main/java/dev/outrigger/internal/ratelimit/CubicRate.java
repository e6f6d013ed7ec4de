package dev.outrigger.internal.ratelimit;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The adaptive send rate of each key, as the AWS SDK's adaptive retry mode computes it: a
 * throttling answer cuts the rate to {@link #BETA} of what it was, and the rate then recovers
 * along CUBIC's curve {@code W(t) = C (t - K)^3 + Wmax} with {@code K = cbrt(Wmax (1 - BETA) / C)},
 * so it climbs fast at first, slows near the rate that was last throttled, then probes above it;
 * never above the configured rate nor below {@link #MIN_FRACTION} of it.
 *
 * <p>Pure arithmetic on an immutable state per key, swapped by compare-and-set; time is given by
 * the caller (monotonic nanoseconds). Memory is bounded: at most {@code maxKeys} keys adapt at
 * once (a key leaves when it is back at its configured rate); others keep the configured rate.
 */
public final class CubicRate {
  /** The multiplicative decrease. */
  static final double BETA = 0.7;
  /** CUBIC's scaling constant, in permits per second per second cubed. */
  static final double C = 0.4;
  /** The lowest rate, as a fraction of the configured one. */
  static final double MIN_FRACTION = 0.01;
  /** A burst of throttling answers to one key cuts its rate once. */
  static final long MIN_CUT_INTERVAL_NANOS = 100_000_000L;

  /** One key's state: the rate now, the rate last throttled and when. */
  record State(double rate, double lastMax, long cutAtNanos) {}

  private final double configured;
  private final int maxKeys;
  private final ConcurrentHashMap<String, AtomicReference<State>> keys = new ConcurrentHashMap<>();

  public CubicRate(double configuredPerSecond, int maxKeys) {
    this.configured = configuredPerSecond;
    this.maxKeys = maxKeys;
  }

  /** The rate {@code key} may use now (the configured rate until it is first throttled). */
  public double rate(String key) {
    AtomicReference<State> s = keys.get(key);
    return s == null ? configured : s.get().rate();
  }

  /**
   * A throttling answer for {@code key}: returns the new rate, or NaN when nothing changed (a cut
   * already happened within {@link #MIN_CUT_INTERVAL_NANOS}).
   */
  public double throttled(String key, long nowNanos) {
    if (keys.size() >= maxKeys && !keys.containsKey(key)) {
      // Full: a new key is not adapted (it keeps the configured rate). Forgetting a cut key
      // instead would strand its lowered rate in the limiter for good.
      return Double.NaN;
    }
    AtomicReference<State> ref = keys.computeIfAbsent(
        key, k -> new AtomicReference<>(
            new State(configured, configured, nowNanos - 2 * MIN_CUT_INTERVAL_NANOS)));
    for (;;) {
      State s = ref.get();
      if (nowNanos - s.cutAtNanos() < MIN_CUT_INTERVAL_NANOS) {
        return Double.NaN;
      }
      double current = recovered(s, nowNanos);
      State next =
          new State(Math.max(configured * MIN_FRACTION, current * BETA), current, nowNanos);
      if (ref.compareAndSet(s, next)) {
        return next.rate();
      }
    }
  }

  /**
   * An answer that was not throttling: returns the recovered rate when it moved by at least 1%
   * (or reached the configured rate), NaN otherwise.
   */
  public double accepted(String key, long nowNanos) {
    AtomicReference<State> ref = keys.get(key);
    if (ref == null) {
      return Double.NaN;
    }
    for (;;) {
      State s = ref.get();
      if (s.rate() >= configured) {
        return Double.NaN;
      }
      double r = recovered(s, nowNanos);
      if (r < configured && r < s.rate() * 1.01) {
        return Double.NaN;
      }
      State next = new State(r, s.lastMax(), s.cutAtNanos());
      if (ref.compareAndSet(s, next)) {
        if (r >= configured) {
          keys.remove(key, ref);
        }
        return r;
      }
    }
  }

  /** CUBIC's rate {@code t} after the last cut, within the bounds. */
  double recovered(State s, long nowNanos) {
    double t = Math.max(0, (nowNanos - s.cutAtNanos()) / 1e9);
    double k = Math.cbrt(s.lastMax() * (1 - BETA) / C);
    double w = C * Math.pow(t - k, 3) + s.lastMax();
    return Math.min(configured, Math.max(Math.max(configured * MIN_FRACTION, s.rate()), w));
  }
}
