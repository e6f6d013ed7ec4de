package dev.outrigger;

import dev.outrigger.internal.Durations;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.ratelimit.RateLimiterAccess;
import dev.outrigger.internal.ratelimit.RealRateLimiter;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.function.LongSupplier;

/**
 * A token-bucket rate limiter for any work, the one an {@link ApiClient} uses for its calls:
 * permits refill continuously at the {@link RateLimit}'s rate up to its burst, and the bucket
 * starts full. Over any interval {@code T} it grants at most {@code burst + rate * T} permits,
 * and exactly that many when saturated. With several bandwidths
 * ({@link RateLimit#and(RateLimit)}), a permit is taken from all of them or none.
 *
 * {@snippet :
 * RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(3));
 * if (limiter.tryAcquire()) {
 *   sendNow();                                  // a permit was free
 * }
 * limiter.acquire(2, Duration.ofMillis(500));   // waits in line, at most 500 ms
 * limiter.tryAcquire("tenant-42", 1);           // one bucket per key
 * limiter.reconfigure(RateLimit.perSecond(20).burst(5));   // at run time, state kept
 * }
 *
 * <p>The semantics are those of Go's {@code golang.org/x/time/rate.Limiter}:
 * <ul>
 *   <li>{@link #tryAcquire(int)} takes the permits now or returns false and changes nothing; it
 *       never jumps ahead of waiters.
 *   <li>{@link #acquire(int, Duration)} reserves the permits in arrival order and parks until
 *       their turn. When the wait would be longer than the timeout (or longer than 30 days, or
 *       {@code permits} exceeds the burst) it throws {@link RateLimitedException} at once and
 *       consumes nothing.
 *   <li>{@link #pause(String, Duration)} is the server saying "come back later": nothing is
 *       granted to that key until the pause ends, waiters are pushed back by the pause, and one
 *       permit is ready when it ends.
 * </ul>
 *
 * <p>Keys: the methods without a key use one bucket; those with a key give each key a bucket of
 * its own, created full on first use, dropped once it has refilled completely (a full bucket is
 * the same as a new one), about {@link RateLimit#maxKeys()} of them (keys beyond share one
 * overflow bucket until room is made; a bound passed only by keys with a rate of their own, and
 * by new keys arriving together as the table fills, by at most their number less one: see
 * {@link RateLimit#maxKeys(int)}). The limit's {@link RateLimit#keyedBy() key function} is
 * used only by {@code ApiClient}.
 *
 * <p>Thread-safe and lock-free: a permit check reads the clock once and the bucket's one-word
 * state once, and updates it with one compare-and-set; it allocates nothing (for a single
 * bandwidth) and never blocks. Waiting parks the thread (virtual threads included), and no
 * thread or timer is ever started.
 */
public final class RateLimiter {
  static {
    RateLimiterAccess.register(new RateLimiterAccess.Accessor() {
      @Override
      public RateLimiter wrap(RealRateLimiter engine, NanoClock clock) {
        return new RateLimiter(engine, clock);
      }

      @Override
      public RealRateLimiter engine(RateLimiter limiter) {
        return limiter.engine;
      }
    });
  }

  private final RealRateLimiter engine;
  private final NanoClock clock;

  private RateLimiter(RealRateLimiter engine, NanoClock clock) {
    this.engine = engine;
    this.clock = clock;
  }

  /**
   * A limiter on {@link System#nanoTime()}, every bucket starting full.
   *
   * @throws IllegalArgumentException if {@code limit} has a {@linkplain RateLimit#store store}:
   *     this limiter keeps its buckets in this JVM's memory (a shared store serves an
   *     {@link ApiClient}'s limit); or if it is {@linkplain RateLimit#adaptive() adaptive}: a
   *     limiter of your own sees no answers to adapt to (an {@link ApiClient}'s limit does)
   */
  public static RateLimiter of(RateLimit limit) {
    standalone(limit);
    return new RateLimiter(new RealRateLimiter(limit, System.nanoTime()), NanoClock.SYSTEM);
  }

  /**
   * A limiter on {@code nanos}, a supplier of monotonic nanoseconds (for tests: a clock moved by
   * hand). Waits park in slices of at most 10 ms and re-read {@code nanos} after each, so they
   * follow a clock that does not move with real time.
   *
   * @throws IllegalArgumentException if {@code limit} has a {@linkplain RateLimit#store store},
   *     or is {@linkplain RateLimit#adaptive() adaptive}, as {@link #of(RateLimit)}
   */
  public static RateLimiter of(RateLimit limit, LongSupplier nanos) {
    standalone(limit);
    Objects.requireNonNull(nanos, "nanos");
    return new RateLimiter(
        new RealRateLimiter(limit, nanos.getAsLong()), RateLimiterAccess.clockOf(nanos));
  }

  /** Refuses a limit a limiter of the caller's own would not follow as it says. */
  private static void standalone(RateLimit limit) {
    inMemory(limit);
    if (limit.isAdaptive()) {
      throw new IllegalArgumentException("a RateLimiter of your own sees no server answers, so "
          + "adaptive() would never adapt its rate: adaptive() serves an ApiClient's "
          + "rateLimit(...); give RateLimiter.of the limit without adaptive(), and tell it of "
          + "a server's pause with pause(key, duration)");
    }
  }

  /** Refuses a limit this limiter would not keep where it says. */
  private static void inMemory(RateLimit limit) {
    Objects.requireNonNull(limit, "limit");
    if (limit.store() != null) {
      throw new IllegalArgumentException("a RateLimiter keeps its buckets in this JVM's memory, "
          + "so the limit's store (" + limit.store() + ") would be ignored: a shared store "
          + "serves an ApiClient's rateLimit(...); give RateLimiter.of the limit without store");
    }
  }

  /** Takes one permit if one is available now; see {@link #tryAcquire(int)}. */
  public boolean tryAcquire() {
    return engine.tryAcquire(null, 1, clock.nanoTime());
  }

  /**
   * Takes {@code permits} now if they are all available, or returns false and changes nothing.
   * More than the burst is always false. Never waits, never jumps ahead of waiters.
   *
   * @throws IllegalArgumentException if {@code permits < 1}
   */
  public boolean tryAcquire(int permits) {
    checkPermits(permits);
    return engine.tryAcquire(null, permits, clock.nanoTime());
  }

  /**
   * {@link #tryAcquire(int)} on {@code key}'s bucket.
   *
   * @throws IllegalArgumentException if {@code permits < 1}
   */
  public boolean tryAcquire(String key, int permits) {
    Objects.requireNonNull(key, "key");
    checkPermits(permits);
    return engine.tryAcquire(key, permits, clock.nanoTime());
  }

  /**
   * Takes one permit, waiting at most {@code timeout}; see {@link #acquire(int, Duration)}.
   *
   * @throws RateLimitedException if the wait would be longer than {@code timeout}
   * @throws CancellationException if the thread is interrupted while waiting
   */
  public Duration acquire(Duration timeout) {
    return take(null, 1, timeout);
  }

  /**
   * Takes {@code permits}, waiting in line (first come, first served) at most {@code timeout}
   * (a negative timeout is zero). When the wait cannot fit, fails at once and consumes nothing.
   *
   * @return how long it waited
   * @throws IllegalArgumentException if {@code permits < 1}
   * @throws RateLimitedException if the wait would be longer than {@code timeout} (its
   *     {@link RateLimitedException#wouldWait()} says how long; for a negative timeout, its
   *     message says it waits for nothing and names a timeout that would), or {@code permits}
   *     exceeds the burst ({@code wouldWait()} is null)
   * @throws CancellationException if the thread is interrupted while waiting: the interrupt
   *     status is set again and the permits are given back unless others queued behind them
   */
  public Duration acquire(int permits, Duration timeout) {
    return take(null, permits, timeout);
  }

  /**
   * {@link #acquire(int, Duration)} on {@code key}'s bucket.
   *
   * @return how long it waited
   * @throws IllegalArgumentException if {@code permits < 1}
   * @throws RateLimitedException if the wait would be longer than {@code timeout} or
   *     {@code permits} exceeds the burst
   * @throws CancellationException if the thread is interrupted while waiting
   */
  public Duration acquire(String key, int permits, Duration timeout) {
    Objects.requireNonNull(key, "key");
    return take(key, permits, timeout);
  }

  /** {@link #acquire(String, int, Duration)} on {@code key}'s bucket, or the unkeyed one (null). */
  private Duration take(String key, int permits, Duration timeout) {
    checkPermits(permits);
    Objects.requireNonNull(timeout, "timeout");
    long r;
    try {
      r = engine.acquire(key, permits, Durations.saturatedNanos(timeout), clock);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      CancellationException c =
          new CancellationException("interrupted while waiting for a rate-limit permit");
      c.initCause(e);
      throw c;
    }
    if (RealRateLimiter.acquired(r)) {
      return Duration.ofNanos(r);
    }
    RateLimit limit = key == null ? engine.limit() : engine.limit(key);
    if (RealRateLimiter.never(r)) {
      throw new RateLimitedException(permits + " permits at once exceed the burst of " + limit
          + ": no wait could ever grant them", null, 0);
    }
    Duration wouldWait = Duration.ofNanos(-r);
    // A wait within the timeout was refused for the cap on every wait, not for the timeout.
    String beyond = -r > Durations.saturatedNanos(timeout)
        ? "the timeout of " + Durations.text(Durations.saturatedNanos(timeout))
        : "the longest wait a RateLimiter allows (30 days)";
    if (timeout.isNegative()) {
      // Read as zero, which "more than -1000 ms" alone does not say; name a timeout that would
      // do (the wait rounded up to the millisecond, which the text would cut).
      beyond += ": a negative timeout waits for nothing, as zero does; "
          + (-r <= RealRateLimiter.MAX_WAIT_NANOS
              ? "pass a timeout of at least " + Durations.text(-r + 999_999) + " to wait for them"
              : "and no wait may be longer than the longest a RateLimiter allows (30 days)");
    }
    throw new RateLimitedException("waiting for " + permits + " permit(s) of " + limit
        + " would take " + Durations.text(-r) + ", more than " + beyond, wouldWait, 0);
  }

  /** {@link #pause(String, Duration)} for the unkeyed bucket. */
  public void pause(Duration pause) {
    pauseKey(null, pause);
  }

  /**
   * Grants nothing to {@code key} for {@code pause} (cut to {@link RateLimit#maxPause()}), as a
   * server's {@code Retry-After} asks: waiters are pushed back by as much as the pause grows,
   * in the same order, and when it ends one permit is ready (unless a bucket emptied just before
   * would not have refilled one by then anyway) and the rest refill at the rate. Overlapping
   * pauses do not add up; only a later end moves anything; a change of the key's rate during it
   * does not move its end.
   */
  public void pause(String key, Duration pause) {
    Objects.requireNonNull(key, "key");
    pauseKey(key, pause);
  }

  private void pauseKey(String key, Duration pause) {
    Objects.requireNonNull(pause, "pause");
    engine.pause(key, clock.nanoTime(), Durations.saturatedNanos(pause));
  }

  /**
   * Changes the limit at run time: every bucket without a {@linkplain #reconfigure(String,
   * RateLimit) key override} takes {@code limit}'s bandwidths, and the limiter its key bound and
   * pause cap. Buckets keep their state: the permits they hold (at most the new burst), the
   * permits they owe to waiters, and the waiters' order (nobody new is served before them). On a
   * client's {@linkplain RateLimit#adaptive() adaptive} limiter, a key the server made adapt
   * down keeps its adapted rate under the new limit (capped by it at once).
   *
   * @throws IllegalArgumentException if {@code limit} has a {@linkplain RateLimit#store store},
   *     which this limiter, kept in memory, would ignore, or if it is
   *     {@linkplain RateLimit#adaptive() adaptive} and this limiter's limit is not (or the other
   *     way round): adaptation is chosen when the limiter is built, and would be silently kept
   *     or left off
   */
  public void reconfigure(RateLimit limit) {
    inMemory(limit);
    boolean adaptive = engine.limit().isAdaptive();
    if (limit.isAdaptive() != adaptive) {
      String is = adaptive ? "is" : "is not";
      throw new IllegalArgumentException("adaptive() cannot be turned " + (adaptive ? "off" : "on")
          + " at run time: this limiter's limit " + is + " adaptive, and keeps that; give "
          + "reconfigure a limit that " + is + " adaptive too, or build a new client with "
          + limit);
    }
    engine.reconfigure(limit, clock.nanoTime());
  }

  /**
   * Gives {@code key} its own bandwidths (those of {@code limit}; its other settings are
   * ignored), keeping the key's state as {@link #reconfigure(RateLimit)} does. The override
   * stays until replaced by another, even when the key's bucket is dropped while idle. On a
   * client's {@linkplain RateLimit#adaptive() adaptive} limiter the override is the key's
   * ceiling: a rate the server made the key adapt down to stays in force under it (lowered to the
   * override at once when above it), and the adaptation never lifts the key past it.
   */
  public void reconfigure(String key, RateLimit limit) {
    engine.reconfigure(key, limit, clock.nanoTime());
  }

  /**
   * Undoes {@link #reconfigure(String, RateLimit)}: {@code key} follows the limiter's limit
   * again (under its adapted rate, on an adaptive limiter, while it has one), keeping its state
   * (the permits it holds, at most the limit's burst, what it owes to waiters, and their
   * order). Does nothing for a key without an override.
   */
  public void removeOverride(String key) {
    engine.removeOverride(key, clock.nanoTime());
  }

  /**
   * The limit of the unkeyed bucket and of every key without an override (on an adaptive
   * limiter, their ceiling: {@link #limit(String)} tells a key's adapted rate).
   */
  public RateLimit limit() {
    return engine.limit();
  }

  /** The limit {@code key} follows (on an adaptive limiter, its adapted rate while it has one). */
  public RateLimit limit(String key) {
    Objects.requireNonNull(key, "key");
    return engine.limit(key);
  }

  /**
   * Permits the unkeyed bucket could grant now: negative when that many are already promised to
   * waiters; at most 0 while paused.
   */
  public long availablePermits() {
    return engine.available(null, clock.nanoTime());
  }

  /**
   * {@link #availablePermits()} of {@code key}'s bucket, or of the bucket its next use would
   * take from: a key never used is full, unless the key table is full, when it would share the
   * overflow bucket and has what that one has; a key that used the overflow bucket has what it
   * left there.
   */
  public long availablePermits(String key) {
    Objects.requireNonNull(key, "key");
    return engine.available(key, clock.nanoTime());
  }

  @Override
  public String toString() {
    return "RateLimiter[" + engine.limit() + ", " + engine.keyCount() + " keys]";
  }

  private static void checkPermits(int permits) {
    if (permits < 1) {
      throw new IllegalArgumentException("permits must be at least 1, but was " + permits);
    }
  }
}
