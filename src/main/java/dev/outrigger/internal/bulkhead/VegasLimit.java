package dev.outrigger.internal.bulkhead;

import dev.outrigger.AdaptiveLimit;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * One host's adaptive concurrency limit (see {@link AdaptiveLimit}): fed one sample per finished
 * attempt, it returns the new limit. Pure apart from its clock: no I/O, no logging, no listener.
 * Thread-safe and lock-free: the state is one immutable {@link State} swapped by compare-and-set,
 * computed by the side-effect-free {@link #next}.
 */
public final class VegasLimit {
  /*
   * TCP Vegas applied to requests (Brakmo and Peterson 1995; Netflix concurrency-limits'
   * VegasLimit). With L the current limit, rttMin the lowest latency of the last one or two
   * windows (the latency without queueing) and rtt the sample's latency, the attempts queued at
   * the server are estimated as
   *
   *     queue = L x (1 - rttMin / rtt)
   *
   * and, with l = max(1, log10 L) so that steps scale gently with the limit:
   *
   *     queue <= l          + 6l               (no queueing at all: grow fast)
   *     queue <  3l         + l                (little queueing: grow)
   *     queue >  6l         - (queue - 3l) / 2  (queueing: drain half the excess)
   *     otherwise           0                  (the target band, 3l..6l attempts queued)
   *
   * per round trip, as TCP Vegas adjusts once per RTT: each answer applies step / L, so the
   * ~L answers of one round move the limit by one step. (Netflix's VegasLimit applies the whole
   * step on every answer; at hundreds of answers per round trip that overshoots by far before
   * the first queued answer arrives, as the lag of the latency signal is a full round trip.)
   * The decrease is proportional to the estimated excess queue rather than Vegas's fixed -l, so
   * an overshoot drains within a few round trips.
   *
   * A drop (503, 429, timeout) multiplies L by the back-off ratio, once per round trip: a drop of
   * an attempt sent before the last cut is the old limit's fault and does not cut again, so a
   * burst of 503s from one overloaded moment costs one cut, as TCP's once-per-window rule.
   * A sample taken while fewer than half the slots were used changes nothing but rttMin, unless
   * it is a drop: an app-limited client's latency tells nothing about capacity, but a 503 still
   * says the host is overloaded (as in Netflix's VegasLimit, a drop is checked first). A server error's latency is a sample but
   * never rttMin (it may be fast because nothing was done); the limiter feeds no sample at all
   * for a 4xx other than 429, the caller's own error. The new value is
   * L + smoothing x (estimate - L), clamped to [min, max].
   */

  /** One immutable snapshot of the estimator. */
  record State(
      double limit,
      long rttMin, // lowest rtt in the current window, Long.MAX_VALUE when none
      long rttMinPrevious, // lowest rtt in the previous window, Long.MAX_VALUE when none
      long windowStart,
      long lastCut) {

    long noLoadRtt() {
      return Math.min(rttMin, rttMinPrevious);
    }
  }

  private final int min;
  private final int max;
  private final double backoffRatio;
  private final double smoothing;
  private final long windowNanos;
  private final LongSupplier nanoTime;
  private final AtomicReference<State> state;

  /**
   * @throws IllegalArgumentException if the limit's settings contradict each other
   */
  public VegasLimit(AdaptiveLimit config, LongSupplier nanoTime) {
    config.checked();
    this.min = config.min();
    this.max = config.max();
    this.backoffRatio = config.backoffRatio();
    this.smoothing = config.smoothing();
    long w;
    try {
      w = config.rttWindow().toNanos();
    } catch (ArithmeticException e) {
      w = Long.MAX_VALUE / 4;
    }
    this.windowNanos = Math.min(w, Long.MAX_VALUE / 4);
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    long now = nanoTime.getAsLong();
    this.state = new AtomicReference<>(new State(
        config.initial(), Long.MAX_VALUE, Long.MAX_VALUE, now, now - Long.MAX_VALUE / 4));
  }

  /** The current limit, a whole number within min and max. */
  public int limit() {
    return round(state.get().limit);
  }

  /**
   * The latency taken as the host's without queueing now, in nanos; -1 before the first sample
   * (see {@link #noLoadRttNanos(long)}).
   */
  public long noLoadRttNanos() {
    return noLoadRttNanos(nanoTime.getAsLong());
  }

  /**
   * The latency taken as the host's without queueing at {@code nowNanos} (a reading of this
   * limit's clock), in nanos, -1 if none: what the next sample would find, the windows that
   * ended since the last sample rotated out. A host idle for two {@code rttWindow}s has none,
   * however fast it was before.
   */
  public long noLoadRttNanos(long nowNanos) {
    State s = state.get();
    long age = nowNanos - s.windowStart;
    long r = age >= 2 * windowNanos ? Long.MAX_VALUE
        : age >= windowNanos ? s.rttMin : s.noLoadRtt();
    return r == Long.MAX_VALUE ? -1 : r;
  }

  /**
   * Records one finished attempt.
   *
   * @param startNanos when the attempt was sent, on the same clock
   * @param inFlight attempts in flight to the host when it was sent, itself included
   * @param dropped whether the host shed it (503, 429, timeout)
   * @return the limit after this sample
   */
  public int onSample(long startNanos, int inFlight, boolean dropped) {
    return onSample(nanoTime.getAsLong(), startNanos, inFlight, dropped, true);
  }

  /**
   * Records one finished attempt, at {@code nowNanos} (a reading of this limit's clock).
   *
   * @param startNanos when the attempt was sent, on the same clock
   * @param inFlight attempts in flight to the host when it was sent, itself included
   * @param dropped whether the host shed it (503, 429, timeout)
   * @param noLoad whether its latency may be taken as the host's no-load latency: not that of
   *     an error answer (a server error), which can be fast because the work was not done
   * @return the limit after this sample
   */
  public int onSample(
      long nowNanos, long startNanos, int inFlight, boolean dropped, boolean noLoad) {
    while (true) {
      State s = state.get();
      State n = next(s, nowNanos, startNanos, inFlight, dropped, noLoad);
      if (n == s || state.compareAndSet(s, n)) {
        return round(n.limit);
      }
    }
  }

  State next(State s, long now, long start, int inFlight, boolean dropped) {
    return next(s, now, start, inFlight, dropped, true);
  }

  State next(
      State s, long now, long start, int inFlight, boolean dropped, boolean teachesNoLoad) {
    long rtt = Math.max(1, now - start);
    // Rotate the latency floor's window; a dropped attempt's latency says nothing about it.
    long rttMin = s.rttMin;
    long rttMinPrevious = s.rttMinPrevious;
    long windowStart = s.windowStart;
    if (now - windowStart >= windowNanos) {
      boolean skipped = now - windowStart >= 2 * windowNanos;
      rttMinPrevious = skipped ? Long.MAX_VALUE : rttMin;
      rttMin = Long.MAX_VALUE;
      windowStart = now;
    }
    // Nor does an error's: a host that fails fast did not do the work (a 502 from a gateway
    // with no backend comes back at once), and a floor that low would make every later answer
    // look queued, holding the limit at its minimum for up to two windows after an outage.
    if (!dropped && teachesNoLoad) {
      rttMin = Math.min(rttMin, rtt);
    }
    long noLoad = Math.min(rttMin, rttMinPrevious);
    double limit = s.limit;
    double estimate;
    long lastCut = s.lastCut;
    if (dropped) {
      if (start - lastCut < 0) {
        // Sent before the last cut: that cut already answered this overload.
        estimate = limit;
      } else {
        estimate = limit * backoffRatio;
        lastCut = now;
      }
    } else if (inFlight * 2 < limit || noLoad == Long.MAX_VALUE) {
      estimate = limit;
    } else {
      double queue = limit * (1 - (double) noLoad / rtt);
      double l = Math.max(1, Math.log10(limit));
      // Steps are per round trip; each of the ~limit answers of a round takes its share, so a
      // full round moves the limit by one step whatever the concurrency.
      double step;
      if (queue <= l) {
        step = 6 * l;
      } else if (queue < 3 * l) {
        step = l;
      } else if (queue > 6 * l) {
        step = -(queue - 3 * l) / 2;
      } else {
        step = 0;
      }
      estimate = limit + step / limit;
    }
    double smoothed = limit + smoothing * (estimate - limit);
    double bounded = Math.max(min, Math.min(max, smoothed));
    if (bounded == s.limit && rttMin == s.rttMin && rttMinPrevious == s.rttMinPrevious
        && windowStart == s.windowStart && lastCut == s.lastCut) {
      return s;
    }
    return new State(bounded, rttMin, rttMinPrevious, windowStart, lastCut);
  }

  private int round(double limit) {
    return (int) Math.max(min, Math.min(max, Math.floor(limit)));
  }

  @Override
  public String toString() {
    return "VegasLimit[" + limit() + " in " + min + ".." + max + "]";
  }
}
