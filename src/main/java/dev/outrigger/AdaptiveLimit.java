package dev.outrigger;

import java.time.Duration;
import java.util.Objects;

/**
 * An immutable adaptive in-flight limit: how many attempts may be in flight to one host, learnt
 * from what the host's latency and answers say rather than guessed. Give it to
 * {@link ApiClient.Builder#adaptiveConcurrency(AdaptiveLimit)}; it replaces the static
 * {@code maxInFlightPerHost}. Each host gets its own limit.
 *
 * <p>The algorithm is TCP Vegas, as in Netflix's concurrency-limits: the smallest latency seen
 * recently is taken as the host's latency without queueing; each answer's latency then tells how
 * many of the attempts in flight were queued at the host ({@code limit x (1 - minRtt / rtt)}).
 * With {@code l = max(1, log10 limit)}: while that queue is at most {@code l} the limit grows by
 * {@code 6l} per round trip, below {@code 3l} by {@code l}; above {@code 6l} it shrinks by half
 * the excess per round trip; in between it holds. So the host is kept a few attempts busier than
 * its capacity (enough to stay saturated, few enough not to queue). Each answer applies its
 * share of the step ({@code 1/limit}), so the speed is per round trip whatever the concurrency.
 * When an attempt is dropped (a {@code 503}, a {@code 429}, an attempt timeout or a deadline
 * that cut an attempt) the limit is multiplied by {@link #backoffRatio()}, at most once per round
 * trip (drops of attempts sent before the last cut do not cut again). A {@code 4xx} other than
 * {@code 429} is the caller's own error and moves nothing; a server error's latency is timed but
 * never taken as the latency without queueing (a host failing fast did not do the work). The
 * limit always stays within {@link #min()} and {@link #max()}. While fewer than half the slots
 * are used, only a drop moves the limit: latency then says nothing about the host's capacity,
 * but a drop still says the host is overloaded.
 *
 * <p>Attempts beyond the limit wait for a slot within their deadline, first come first served,
 * exactly as with the static limit (and fail with {@link DeadlineExceededException} when it runs
 * out).
 *
 * {@snippet :
 * ApiClient client = ApiClient.builder()
 *     .baseUrl("https://api.example.com")
 *     .adaptiveConcurrency(AdaptiveLimit.vegas().min(4).max(256).initial(20))
 *     .build();
 * }
 *
 * <p>Defaults: {@code min} 4, {@code max} 1024, {@code initial} 20 (or the nearest bound when
 * that is outside them), back-off ratio 0.9, smoothing 1.0 (each answer moves the limit fully to
 * its new estimate), the latency floor kept for one to two 30 s windows ({@link #rttWindow}). The
 * minimum and maximum are checked against each other (and against an explicit initial value)
 * when the limit is given to the client, so withers may be called in any order.
 *
 * <p>Instances are immutable and thread-safe; each wither returns a new value.
 */
public final class AdaptiveLimit {
  /** The default {@link #min(int)}. */
  public static final int DEFAULT_MIN = 4;
  /** The default {@link #max(int)}. */
  public static final int DEFAULT_MAX = 1024;
  /** The default {@link #initial(int)}. */
  public static final int DEFAULT_INITIAL = 20;
  /** The shortest {@link #rttWindow(Duration)}: 1 second. */
  public static final Duration MIN_RTT_WINDOW = Duration.ofSeconds(1);

  private final int min;
  private final int max;
  private final int initial; // 0: unset, DEFAULT_INITIAL clamped to [min, max]
  private final double backoffRatio;
  private final double smoothing;
  private final Duration rttWindow;

  private AdaptiveLimit(
      int min, int max, int initial, double backoffRatio, double smoothing, Duration rttWindow) {
    this.min = min;
    this.max = max;
    this.initial = initial;
    this.backoffRatio = backoffRatio;
    this.smoothing = smoothing;
    this.rttWindow = rttWindow;
  }

  /** The Vegas-style adaptive limit with every default. */
  public static AdaptiveLimit vegas() {
    return new AdaptiveLimit(DEFAULT_MIN, DEFAULT_MAX, 0, 0.9, 1.0, Duration.ofSeconds(30));
  }

  /**
   * The lowest the limit goes, however bad the host looks (default 4).
   *
   * @throws IllegalArgumentException if below 1
   */
  public AdaptiveLimit min(int min) {
    if (min < 1) {
      throw new IllegalArgumentException("AdaptiveLimit min must be at least 1, but was " + min);
    }
    return new AdaptiveLimit(min, max, initial, backoffRatio, smoothing, rttWindow);
  }

  /**
   * The highest the limit goes, however good the host looks (default 1024).
   *
   * @throws IllegalArgumentException if below 1
   */
  public AdaptiveLimit max(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("AdaptiveLimit max must be at least 1, but was " + max);
    }
    return new AdaptiveLimit(min, max, initial, backoffRatio, smoothing, rttWindow);
  }

  /**
   * The limit each host starts with (default 20, or the nearest bound when outside them).
   *
   * @throws IllegalArgumentException if below 1
   */
  public AdaptiveLimit initial(int initial) {
    if (initial < 1) {
      throw new IllegalArgumentException(
          "AdaptiveLimit initial must be at least 1, but was " + initial);
    }
    return new AdaptiveLimit(min, max, initial, backoffRatio, smoothing, rttWindow);
  }

  /**
   * What a drop multiplies the limit by (default 0.9), a fraction: 0.9 keeps 90%.
   *
   * @throws IllegalArgumentException if not strictly between 0 and 1
   */
  public AdaptiveLimit backoffRatio(double ratio) {
    if (!(ratio > 0 && ratio < 1)) {
      throw new IllegalArgumentException("AdaptiveLimit backoffRatio must be greater than 0 and "
          + "lower than 1 (a fraction: 0.9 keeps 90%), but was " + ratio);
    }
    return new AdaptiveLimit(min, max, initial, ratio, smoothing, rttWindow);
  }

  /**
   * How much of each answer's adjustment is applied, a fraction from just above 0 (slowly) to 1
   * (fully, the default): 0.2 for 20%.
   *
   * @throws IllegalArgumentException if not greater than 0 and at most 1
   */
  public AdaptiveLimit smoothing(double smoothing) {
    if (!(smoothing > 0 && smoothing <= 1)) {
      throw new IllegalArgumentException("AdaptiveLimit smoothing must be greater than 0 and at "
          + "most 1 (a fraction: 0.2 for 20%), but was " + smoothing);
    }
    return new AdaptiveLimit(min, max, initial, backoffRatio, smoothing, rttWindow);
  }

  /**
   * How long the lowest latency seen stays the host's no-queueing latency (default 30 s): the
   * floor is the lowest sample of the current and the previous window, so a host that got
   * slower for good is re-learnt within two windows. The window must span many round trips:
   * one holding only a sample or two makes each answer its own floor, so no answer ever looks
   * queued and the limit only grows. Hence the minimum, {@link #MIN_RTT_WINDOW} (1 s); make it
   * many times the host's latency.
   *
   * @throws IllegalArgumentException if shorter than {@link #MIN_RTT_WINDOW}
   */
  public AdaptiveLimit rttWindow(Duration window) {
    Objects.requireNonNull(window, "AdaptiveLimit rttWindow must not be null: give a Duration of "
        + "at least 1 s (default 30 s)");
    if (window.compareTo(MIN_RTT_WINDOW) < 0) {
      throw new IllegalArgumentException("AdaptiveLimit rttWindow must be at least "
          + MIN_RTT_WINDOW + ", but was " + window
          + ": the latency floor must outlast many round trips; use a window of 1 s or more,"
          + " many times the host's latency");
    }
    return new AdaptiveLimit(min, max, initial, backoffRatio, smoothing, window);
  }

  /** The lowest the limit goes. */
  public int min() {
    return min;
  }

  /** The highest the limit goes. */
  public int max() {
    return max;
  }

  /** The starting limit: the one set, or the default 20 brought within min and max. */
  public int initial() {
    return initial != 0 ? initial : Math.max(min, Math.min(max, DEFAULT_INITIAL));
  }

  /** What a drop multiplies the limit by. */
  public double backoffRatio() {
    return backoffRatio;
  }

  /** How much of each answer's adjustment is applied, in {@code (0, 1]}. */
  public double smoothing() {
    return smoothing;
  }

  /** How long the lowest latency seen stays the host's no-queueing latency. */
  public Duration rttWindow() {
    return rttWindow;
  }

  /**
   * Checks the settings against each other (the client calls this when given the limit).
   *
   * @return this
   * @throws IllegalArgumentException if min is above max, or an initial value set explicitly is
   *     outside them
   */
  public AdaptiveLimit checked() {
    if (min > max) {
      throw new IllegalArgumentException("AdaptiveLimit min (" + min
          + (min == DEFAULT_MIN ? ", the default" : "") + ") must not be above max (" + max
          + (max == DEFAULT_MAX ? ", the default" : "") + "): set min(n) to at most " + max
          + ", or raise max");
    }
    if (initial != 0 && (initial < min || initial > max)) {
      throw new IllegalArgumentException("AdaptiveLimit initial must be within min (" + min
          + ") and max (" + max + "), but was " + initial);
    }
    return this;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AdaptiveLimit a && a.min == min && a.max == max
        && a.initial == initial && a.backoffRatio == backoffRatio && a.smoothing == smoothing
        && a.rttWindow.equals(rttWindow);
  }

  @Override
  public int hashCode() {
    return Objects.hash(min, max, initial, backoffRatio, smoothing, rttWindow);
  }

  @Override
  public String toString() {
    return "AdaptiveLimit.vegas[min=" + min + ", max=" + max + ", initial=" + initial()
        + ", backoffRatio=" + backoffRatio + ", smoothing=" + smoothing + ", rttWindow="
        + rttWindow + "]";
  }
}
