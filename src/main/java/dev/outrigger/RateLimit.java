package dev.outrigger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * An immutable token-bucket rate limit: {@code rate} permits per second refilled continuously, up
 * to {@code burst} stored. Each wither returns a new value; instances are thread-safe.
 *
 * <p>A limit can combine several bandwidths, as real APIs publish them ("10 per second and 500
 * per minute"): a permit is granted only when every bandwidth has one, and then it is taken from
 * all of them at once (all or nothing).
 *
 * {@snippet :
 * RateLimit simple = RateLimit.perSecond(100).burst(20);
 * RateLimit github = RateLimit.perSecond(10).burst(10)
 *     .and(RateLimit.per(500, Duration.ofMinutes(1)))
 *     .keyedBy(call -> (String) call.attribute("tenant"))
 *     .maxPause(Duration.ofSeconds(30));
 * }
 *
 * <p>In an {@link ApiClient} every attempt (retries included) takes one permit from the bucket of
 * its key, by default the target {@linkplain CallContext#host() host}. A {@code 429} or
 * {@code 503} with {@code Retry-After}, or a response with {@code RateLimit-Remaining: 0} (or
 * {@code X-RateLimit-Remaining: 0}) and a reset time, pauses that key's bucket until the server's
 * time, at most {@link #maxPause()}.
 *
 * <p>Defaults: the burst is {@code max(1, ceil(permits))} (one period's worth) until set; keys are
 * the target host; at most 10,000 keys; server pauses capped at 60 seconds.
 */
public final class RateLimit {
  /** The default {@link #maxKeys(int)}. */
  public static final int DEFAULT_MAX_KEYS = 10_000;
  /** The default {@link #maxPause(Duration)}. */
  public static final Duration DEFAULT_MAX_PAUSE = Duration.ofSeconds(60);

  private static final String NOT_BOTH = "a limit kept in a shared store cannot be adaptive: "
      + "the adapted rate lives in one JVM while the quota is shared; use adaptive() on a limit "
      + "kept in memory, or store(...) without adaptive()";

  private static final long NANOS_PER_SECOND = 1_000_000_000L;
  private static final double MAX_RATE = 1e9;
  /** The longest time a full bucket may take to refill; keeps the internal fixed-point in range. */
  private static final double MAX_REFILL_NANOS = 50 * 365.25 * 86_400 * 1e9;
  private static final Duration MAX_MAX_PAUSE = Duration.ofDays(1);
  private static final Duration MAX_PERIOD = Duration.ofNanos(Long.MAX_VALUE);

  private final List<Band> bands;
  private final Function<CallContext, String> keyedBy;
  private final int maxKeys;
  private final Duration maxPause;
  private final RateLimitStore store;
  private final boolean adaptive;

  private RateLimit(List<Band> bands, Function<CallContext, String> keyedBy, int maxKeys,
      Duration maxPause, RateLimitStore store) {
    this(bands, keyedBy, maxKeys, maxPause, store, false);
  }

  private RateLimit(List<Band> bands, Function<CallContext, String> keyedBy, int maxKeys,
      Duration maxPause, RateLimitStore store, boolean adaptive) {
    this.bands = bands;
    this.keyedBy = keyedBy;
    this.maxKeys = maxKeys;
    this.maxPause = maxPause;
    this.store = store;
    this.adaptive = adaptive;
  }

  /** One bandwidth: {@code permits} per {@code periodNanos}, at most {@code burst} stored. */
  private record Band(double permits, long periodNanos, int burst) {
    double perSecond() {
      return permits * NANOS_PER_SECOND / periodNanos;
    }

    /** Nanoseconds between two permits. */
    double intervalNanos() {
      return periodNanos / permits;
    }
  }

  /**
   * {@code permits} per second, fractional allowed ({@code 0.5} is one every two seconds).
   *
   * @throws IllegalArgumentException if {@code permits} is not a positive finite number, or is
   *     above 10^9 (one per nanosecond), or below one per 50 years
   */
  public static RateLimit perSecond(double permits) {
    if (!(permits > 0) || Double.isInfinite(permits)) {
      throw new IllegalArgumentException(
          "rate must be a positive finite number of permits per second, but was " + permits);
    }
    return per(permits, Duration.ofSeconds(1));
  }

  /**
   * {@code permits} per {@code period}, fractional allowed: {@code per(500, ofMinutes(1))} is 500
   * a minute, refilled continuously (one every 120 ms). The default burst is one period's worth
   * (for a period over 50 years, what refills in 50 years).
   *
   * @throws IllegalArgumentException if {@code permits} is not a positive finite number, if
   *     {@code period} is not positive or is longer than a {@code long} of nanoseconds holds
   *     (about 292 years), or if the rate is above 10^9 per second or below one permit per 50
   *     years
   */
  public static RateLimit per(double permits, Duration period) {
    Objects.requireNonNull(period,
        "period must not be null: give a positive Duration (perSecond(n) for one of a second)");
    if (!(permits > 0) || Double.isInfinite(permits)) {
      throw new IllegalArgumentException(
          "permits must be a positive finite number, but was " + permits);
    }
    if (period.isNegative() || period.isZero()) {
      throw new IllegalArgumentException("period must be positive, but was " + period);
    }
    if (period.compareTo(MAX_PERIOD) > 0) {
      // Held in nanoseconds: a longer period would silently become 292 years, a faster rate.
      throw new IllegalArgumentException(
          "period must be at most " + MAX_PERIOD + " (about 292 years), but was " + period);
    }
    long periodNanos = period.toNanos();
    Band band = new Band(permits, periodNanos, defaultBurst(permits));
    if (band.perSecond() > MAX_RATE) {
      throw new IllegalArgumentException(
          "rate must be at most 1e9 permits per second, but was " + permits + " per " + period);
    }
    if (band.intervalNanos() > MAX_REFILL_NANOS) {
      throw new IllegalArgumentException(
          "rate must be at least one permit per 50 years, but was " + permits + " per " + period);
    }
    if (band.burst() * band.intervalNanos() > MAX_REFILL_NANOS) {
      // A period over 50 years: the default burst is what refills in 50 years.
      band = new Band(permits, periodNanos,
          (int) Math.max(1, Math.floor(MAX_REFILL_NANOS / band.intervalNanos())));
    }
    return new RateLimit(List.of(band), null, DEFAULT_MAX_KEYS, DEFAULT_MAX_PAUSE, null);
  }

  private static int defaultBurst(double permits) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.ceil(permits)));
  }

  /**
   * The most permits stored, and so the largest burst and the most one acquire can take (default
   * one period's worth). On a combined limit, set each bandwidth's burst before {@link #and}.
   *
   * @throws IllegalArgumentException if {@code burst < 1}, or if refilling that many permits
   *     would take more than 50 years
   * @throws IllegalStateException if this limit combines several bandwidths
   */
  public RateLimit burst(int burst) {
    if (burst < 1) {
      throw new IllegalArgumentException("burst must be at least 1, but was " + burst);
    }
    if (bands.size() != 1) {
      throw new IllegalStateException(
          "burst applies to one bandwidth; set it before and(): " + this);
    }
    Band b = bands.get(0);
    if (burst * b.intervalNanos() > MAX_REFILL_NANOS) {
      throw new IllegalArgumentException("burst must take at most 50 years to refill at "
          + format(b) + ", but was " + burst);
    }
    return new RateLimit(
        List.of(new Band(b.permits, b.periodNanos, burst)), keyedBy, maxKeys, maxPause, store,
        adaptive);
  }

  /**
   * This limit and {@code other}'s bandwidths at once: a permit is granted only when every
   * bandwidth has one, and it is taken from all of them (all or nothing). The key function, key
   * bound, pause cap and store are this limit's: set them on this limit or on the combined one
   * ({@code a.and(b).store(s)}).
   *
   * @throws IllegalArgumentException if {@code other} has a key function, key bound, pause cap
   *     or store of its own (not the default, and not the same as this limit's), which the
   *     combined limit would drop
   * @throws IllegalStateException if either limit is {@linkplain #adaptive() adaptive}
   */
  public RateLimit and(RateLimit other) {
    Objects.requireNonNull(other, "other must not be null: give the RateLimit to combine");
    List<Band> all = new ArrayList<>(bands);
    all.addAll(other.bands);
    if (adaptive || other.adaptive) {
      throw new IllegalStateException("adaptive applies to one bandwidth: combine the "
          + "bandwidths without it");
    }
    if (other.keyedBy != null && !Objects.equals(other.keyedBy, keyedBy)) {
      throw droppedSetting("keyedBy", "key function");
    }
    dropped("maxKeys", other.maxKeys, maxKeys, DEFAULT_MAX_KEYS);
    dropped("maxPause", other.maxPause, maxPause, DEFAULT_MAX_PAUSE);
    dropped("store", other.store, store, null);
    return new RateLimit(List.copyOf(all), keyedBy, maxKeys, maxPause, store, adaptive);
  }

  /** Refuses {@link #and} an argument whose {@code setting} would be lost. */
  private static void dropped(String setting, Object theirs, Object ours, Object byDefault) {
    if (!Objects.equals(theirs, byDefault) && !Objects.equals(theirs, ours)) {
      throw droppedSetting(setting, setting + " (" + theirs + ")");
    }
  }

  private static IllegalArgumentException droppedSetting(String setting, String what) {
    return new IllegalArgumentException("and() keeps only the other limit's bandwidths, so its "
        + what + " would be dropped: set " + setting
        + " on the first limit or on the combined one, a.and(b)." + setting + "(...)");
  }

  /**
   * The key of each call's bucket (default: the target {@linkplain CallContext#host() host}). Use
   * it to limit per API token, tenant or user. A function returning null puts the call in its
   * host's bucket. The function runs on every attempt and must be fast and side-effect free.
   */
  public RateLimit keyedBy(Function<CallContext, String> key) {
    Objects.requireNonNull(key, "keyedBy must not be null: give a function of the call to its "
        + "bucket's key (default CallContext::host)");
    return new RateLimit(bands, key, maxKeys, maxPause, store, adaptive);
  }

  /**
   * The most keys with a bucket of their own (default 10,000), a bound on memory rather than an
   * exact count: keys with a rate of their own (an override, an adapted rate) always get one,
   * and new keys arriving together as the table fills pass it by at most their number less one
   * (each looks at the size before it takes a place, with no lock: with one place left,
   * {@code n} first uses of new keys under way at once all take one). That excess does not add
   * up: a first use that finds {@code maxKeys} or more takes no place, so the table grows again
   * only once sweeps have brought it below. Buckets that have refilled completely are dropped
   * lazily (a full bucket is the same as a new one); while the table is full, new keys share one
   * overflow bucket, which is stricter, never looser (a key leaving it starts where it stands; a
   * key with an override never shares it).
   *
   * @throws IllegalArgumentException if {@code maxKeys < 1}
   */
  public RateLimit maxKeys(int maxKeys) {
    if (maxKeys < 1) {
      throw new IllegalArgumentException("maxKeys must be at least 1, but was " + maxKeys);
    }
    return new RateLimit(bands, keyedBy, maxKeys, maxPause, store, adaptive);
  }

  /**
   * The longest pause a server can impose on a key with {@code Retry-After} or a rate-limit reset
   * header (default 60 seconds); longer requests are cut to this. {@link Duration#ZERO} ignores
   * the server's rate-limit headers.
   *
   * @throws IllegalArgumentException if {@code maxPause} is negative or longer than a day
   */
  public RateLimit maxPause(Duration maxPause) {
    Objects.requireNonNull(maxPause, "maxPause must not be null: give a Duration of at most a "
        + "day (default 60 s), or Duration.ZERO to ignore the server's rate-limit headers");
    if (maxPause.isNegative() || maxPause.compareTo(MAX_MAX_PAUSE) > 0) {
      throw new IllegalArgumentException(
          "maxPause must be between 0 and 1 day, but was " + maxPause);
    }
    return new RateLimit(bands, keyedBy, maxKeys, maxPause, store, adaptive);
  }

  /**
   * Permits per second; for a combined limit, the lowest long-run rate of its bandwidths.
   */
  public double permitsPerSecond() {
    double min = Double.POSITIVE_INFINITY;
    for (Band b : bands) {
      min = Math.min(min, b.perSecond());
    }
    return min;
  }

  /**
   * The most permits stored; for a combined limit, the smallest burst of its bandwidths (the most
   * one acquire can ever take).
   */
  public int burst() {
    int min = Integer.MAX_VALUE;
    for (Band b : bands) {
      min = Math.min(min, b.burst);
    }
    return min;
  }

  /**
   * Each bandwidth as a limit of its own (with default key, key bound and pause cap), in the
   * order they were combined.
   */
  public List<RateLimit> bandwidths() {
    if (bands.size() == 1 && keyedBy == null && maxKeys == DEFAULT_MAX_KEYS
        && maxPause.equals(DEFAULT_MAX_PAUSE) && store == null && !adaptive) {
      return List.of(this);
    }
    List<RateLimit> out = new ArrayList<>(bands.size());
    for (Band b : bands) {
      out.add(new RateLimit(List.of(b), null, DEFAULT_MAX_KEYS, DEFAULT_MAX_PAUSE, null));
    }
    return List.copyOf(out);
  }

  /** The permits of each refill period of this single bandwidth (the first one when combined). */
  public double permits() {
    return bands.get(0).permits;
  }

  /** The refill period of this single bandwidth (the first one when combined). */
  public Duration period() {
    return Duration.ofNanos(bands.get(0).periodNanos);
  }

  /**
   * This limit kept in a shared {@code store} instead of in this JVM's memory, so that every
   * client using the same store and key shares one quota, for example
   * {@code limit.store(RedisRateLimitStore.builder(uri).build())}. Same token-bucket semantics,
   * same keys, same chain position.
   *
   * @throws IllegalStateException if this limit is {@linkplain #adaptive() adaptive}: an adapted
   *     rate lives in one JVM, so a shared quota cannot follow it
   */
  public RateLimit store(RateLimitStore store) {
    Objects.requireNonNull(store,
        "store must not be null: leave store(...) out to keep the limit in this JVM's memory");
    if (adaptive) {
      throw new IllegalStateException(NOT_BOTH);
    }
    return new RateLimit(bands, keyedBy, maxKeys, maxPause, store, adaptive);
  }

  /**
   * Makes the rate adapt to the server, per key, as the AWS SDK's adaptive retry mode does: on a
   * throttling answer (429, 503, or 403 with {@code Retry-After}) the key's rate drops to 70%
   * (at most once per 100 ms), and it recovers along a CUBIC curve, never above the key's
   * ceiling nor below 1% of it (nor below one permit per 50 years, the slowest rate a limit
   * holds). The ceiling is this limit's rate, or an operator's override of the key
   * ({@link RateLimiter#reconfigure(String, RateLimit)}), as it is at each answer. Off by
   * default. Applies to a single bandwidth.
   *
   * @throws IllegalStateException if this limit combines several bandwidths, or is kept in a
   *     shared {@linkplain #store(RateLimitStore) store}
   */
  public RateLimit adaptive() {
    if (store != null) {
      throw new IllegalStateException(NOT_BOTH);
    }
    if (bands.size() != 1) {
      throw new IllegalStateException(
          "adaptive applies to one bandwidth, but this limit combines " + bands.size() + ": "
              + this);
    }
    return new RateLimit(bands, keyedBy, maxKeys, maxPause, store, true);
  }

  /** Whether the rate adapts to throttling answers ({@link #adaptive()}). */
  public boolean isAdaptive() {
    return adaptive;
  }

  /** The shared store, or null when the buckets live in this JVM's memory (the default). */
  public RateLimitStore store() {
    return store;
  }

  /** The key function, or null for the default (the call's host). */
  public Function<CallContext, String> keyedBy() {
    return keyedBy;
  }

  /** The most keys with a bucket of their own. */
  public int maxKeys() {
    return maxKeys;
  }

  /** The longest pause a server can impose on a key; {@link Duration#ZERO}: headers ignored. */
  public Duration maxPause() {
    return maxPause;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RateLimit r
        && r.bands.equals(bands)
        && Objects.equals(r.keyedBy, keyedBy)
        && r.maxKeys == maxKeys
        && r.maxPause.equals(maxPause)
        && Objects.equals(r.store, store)
        && r.adaptive == adaptive;
  }

  @Override
  public int hashCode() {
    return Objects.hash(bands, keyedBy, maxKeys, maxPause, store, adaptive);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("RateLimit[");
    for (int i = 0; i < bands.size(); i++) {
      if (i > 0) {
        sb.append("; ");
      }
      sb.append(format(bands.get(i))).append(", burst ").append(bands.get(i).burst);
    }
    if (keyedBy != null) {
      sb.append(", custom key");
    }
    if (maxKeys != DEFAULT_MAX_KEYS) {
      sb.append(", maxKeys ").append(maxKeys);
    }
    if (!maxPause.equals(DEFAULT_MAX_PAUSE)) {
      sb.append(", maxPause ").append(maxPause);
    }
    if (store != null) {
      sb.append(", shared through ").append(store);
    }
    if (adaptive) {
      sb.append(", adaptive");
    }
    return sb.append(']').toString();
  }

  private static String format(Band b) {
    if (b.periodNanos == NANOS_PER_SECOND) {
      return b.permits + "/s";
    }
    return b.permits + "/" + Duration.ofNanos(b.periodNanos);
  }
}
