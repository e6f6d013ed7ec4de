package dev.outrigger;

import java.time.Duration;
import java.util.Objects;
import java.util.function.IntPredicate;
import java.util.function.Predicate;
import java.util.random.RandomGenerator;
import okhttp3.Response;

/**
 * An immutable retry policy: exponential backoff with jitter, bounded by the call's deadline and
 * by a per-host retry budget. Each wither returns a new value; the original is unchanged.
 *
 * {@snippet :
 * Retry retry = Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(2))
 *     .maxAttempts(4).jitter(Jitter.FULL);
 * }
 *
 * <p><b>Defaults</b> for {@link #exponential}: 3 attempts, multiplier 2, {@link Jitter#FULL},
 * {@code Retry-After} honoured up to 60 s, a retry budget of 20% of the calls to a host over the
 * last 10 s plus 10 retries per second, circuit-open rejections not retried. {@link #defaults()}
 * is the policy a client uses when given none, these with backoff from 100 ms to 2 s;
 * {@link #none()} sends every call once.
 *
 * <p><b>What is retried by default</b>: a {@link TransportException} of kind
 * {@link TransportException.Kind#CONNECT CONNECT}, {@link TransportException.Kind#TIMEOUT TIMEOUT}
 * (one attempt's own timeout, not the call's deadline) or {@link TransportException.Kind#IO IO};
 * and the statuses 408, 429, 500, 502, 503 and 504. Never another 4xx, never a
 * {@link RateLimitedException}, {@link DeserializationException}, {@link DeadlineExceededException}
 * or TLS failure, and a {@link CircuitOpenException} only after {@link #retryWhenCircuitOpen}.
 * {@link #retryOnStatus}, {@link #retryOnResponse} and {@link #retryOnException} replace these
 * rules (but for {@code retryWhenCircuitOpen(true)}, which holds beside them); a cancelled call
 * (interrupted thread) is never retried.
 *
 * <p><b>Safety rules no predicate overrides</b>: a call is sent again only when it is idempotent
 * ({@link CallContext#idempotent()}: GET, HEAD, OPTIONS, PUT, DELETE, TRACE, QUERY, a request
 * carrying an {@code Idempotency-Key}, or the caller's opt-in), except after a failure that
 * happened before any byte of the request was written, which left the server untouched. A request whose body is
 * {@linkplain okhttp3.RequestBody#isOneShot() one-shot} is never sent twice: it is retried only
 * after a failure before its request was written (which left the body unread). No retry starts
 * when its wait (the backoff, or the server's {@code Retry-After} on 429 and 503 and on any
 * status a rule of the caller's retries, capped by {@link #maxRetryAfter}) cannot fit in the
 * remaining deadline: the call fails at once with its last failure, the message saying why.
 *
 * <p><b>Retry budget</b> (as Finagle's {@code RetryBudget} and gRPC's retry throttling): per
 * host, retries may add at most {@code ratio} of the calls made over the last {@code window},
 * plus {@code minRetriesPerSecond} per second so a lightly used client can always make its
 * {@link #maxAttempts}. Under a total outage a client then sends about {@code 1 + ratio} times
 * its call rate, not {@code maxAttempts} times.
 *
 * <p>Thread-safety: immutable and safe to share. The predicates and the {@link #random} source
 * are called from every calling thread and must be thread-safe.
 */
public final class Retry {
  private static final Duration DEFAULT_MAX_RETRY_AFTER = Duration.ofSeconds(60);
  private static final double DEFAULT_BUDGET_RATIO = 0.2;
  private static final Duration DEFAULT_BUDGET_WINDOW = Duration.ofSeconds(10);
  /** The contract's floor: a lightly used client can always make its attempts. */
  private static final int MIN_RETRIES_PER_SECOND_FLOOR = 10;

  private static final Retry NONE = new Retry(initialValues(Duration.ZERO, Duration.ZERO, 1));
  private static final Retry DEFAULTS =
      new Retry(initialValues(Duration.ofMillis(100), Duration.ofSeconds(2), 3));

  private final Duration initialDelay;
  private final Duration maxDelay;
  private final int maxAttempts;
  private final double multiplier;
  private final Jitter jitter;
  private final RandomGenerator random;
  private final Duration maxRetryAfter;
  private final boolean budgetEnabled;
  private final double budgetRatio;
  private final Duration budgetWindow;
  private final int budgetMinRetriesPerSecond;
  private final IntPredicate retryOnStatus;
  private final Predicate<? super Response> retryOnResponse;
  private final Predicate<? super ApiException> retryOnException;
  private final boolean retryWhenCircuitOpen;

  private Retry(Values v) {
    this.initialDelay = v.initialDelay;
    this.maxDelay = v.maxDelay;
    this.maxAttempts = v.maxAttempts;
    this.multiplier = v.multiplier;
    this.jitter = v.jitter;
    this.random = v.random;
    this.maxRetryAfter = v.maxRetryAfter;
    this.budgetEnabled = v.budgetEnabled;
    this.budgetRatio = v.budgetRatio;
    this.budgetWindow = v.budgetWindow;
    this.budgetMinRetriesPerSecond = v.budgetMinRetriesPerSecond;
    this.retryOnStatus = v.retryOnStatus;
    this.retryOnResponse = v.retryOnResponse;
    this.retryOnException = v.retryOnException;
    this.retryWhenCircuitOpen = v.retryWhenCircuitOpen;
  }

  /**
   * Backoff that starts at {@code initialDelay} and grows by the multiplier up to
   * {@code maxDelay}, with the defaults listed above.
   *
   * @throws IllegalArgumentException if {@code initialDelay} is not positive or {@code maxDelay}
   *     is smaller than it
   */
  public static Retry exponential(Duration initialDelay, Duration maxDelay) {
    Objects.requireNonNull(initialDelay,
        "initialDelay must not be null: give a positive Duration (the client's default: 100 ms)");
    Objects.requireNonNull(maxDelay, "maxDelay must not be null: give a Duration of at least "
        + "initialDelay (the client's default: 2 s)");
    if (initialDelay.isNegative() || initialDelay.isZero()) {
      throw new IllegalArgumentException("initialDelay must be positive, but was " + initialDelay);
    }
    if (maxDelay.compareTo(initialDelay) < 0) {
      throw new IllegalArgumentException(
          "maxDelay must be at least initialDelay (" + initialDelay + "), but was " + maxDelay);
    }
    return new Retry(initialValues(initialDelay, maxDelay, 3));
  }

  /**
   * No retries: the retry policy sends every call once (an {@code Auth} refresh after a 401
   * still sends it again, as its own pass). Its withers apply as to any policy:
   * {@code none().maxAttempts(3)} retries, with no backoff between attempts.
   */
  public static Retry none() {
    return NONE;
  }

  /**
   * The policy a client uses when none is given ({@code ApiClient.Builder.retry}): backoff from
   * 100 ms to 2 s, with the defaults listed above (3 attempts, multiplier 2, full jitter,
   * {@code Retry-After} up to 60 s, the default budget). Change one setting with a wither, the
   * rest staying the client's defaults: {@code Retry.defaults().maxAttempts(5)}.
   */
  public static Retry defaults() {
    return DEFAULTS;
  }

  private static Values initialValues(Duration initialDelay, Duration maxDelay, int maxAttempts) {
    Values v = new Values();
    v.initialDelay = initialDelay;
    v.maxDelay = maxDelay;
    v.maxAttempts = maxAttempts;
    v.multiplier = 2.0;
    v.jitter = maxAttempts == 1 ? Jitter.NONE : Jitter.FULL;
    v.maxRetryAfter = DEFAULT_MAX_RETRY_AFTER;
    v.budgetEnabled = true;
    v.budgetRatio = DEFAULT_BUDGET_RATIO;
    v.budgetWindow = DEFAULT_BUDGET_WINDOW;
    v.budgetMinRetriesPerSecond = MIN_RETRIES_PER_SECOND_FLOOR;
    return v;
  }

  /**
   * The most attempts per call, the first included (default 3). {@code 1} turns retries off.
   *
   * @throws IllegalArgumentException if {@code maxAttempts < 1}
   */
  public Retry maxAttempts(int maxAttempts) {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1, but was " + maxAttempts);
    }
    Values v = values();
    v.maxAttempts = maxAttempts;
    return new Retry(v);
  }

  /**
   * How much each delay grows over the previous one (default 2). {@link Jitter#DECORRELATED}
   * ignores it, as in Brooker's formula.
   *
   * @throws IllegalArgumentException if {@code multiplier} is below 1, NaN or infinite
   */
  public Retry multiplier(double multiplier) {
    if (!(multiplier >= 1) || Double.isInfinite(multiplier)) {
      throw new IllegalArgumentException(
          "multiplier must be a finite number >= 1, but was " + multiplier);
    }
    Values v = values();
    v.multiplier = multiplier;
    return new Retry(v);
  }

  /** How delays are randomised (default {@link Jitter#FULL}). */
  public Retry jitter(Jitter jitter) {
    Objects.requireNonNull(jitter,
        "jitter must not be null: give Jitter.FULL (the default), EQUAL, DECORRELATED or NONE");
    Values v = values();
    v.jitter = jitter;
    return new Retry(v);
  }

  /**
   * The random source of the jitter, for reproducible tests and simulations (default: a
   * {@link java.util.concurrent.ThreadLocalRandom} of the calling thread). The source is shared
   * by every call of the client, so it must be thread-safe when calls run concurrently
   * ({@code new java.util.Random(seed)} is; {@code SplittableRandom} is not).
   */
  public Retry random(RandomGenerator random) {
    Objects.requireNonNull(random, "random must not be null: leave random(...) out for the "
        + "calling thread's ThreadLocalRandom");
    Values v = values();
    v.random = random;
    return new Retry(v);
  }

  /**
   * The longest wait a server's {@code Retry-After} can impose (default 60 s), on 429 and 503,
   * and on any status that {@link #retryOnStatus} or {@link #retryOnResponse} retries (a 403 of
   * GitHub's secondary rate limits, a 202 still pending); on the default rules' 408, 500, 502 and
   * 504 the backoff applies. It is independent of {@link #maxDelay()}. A longer hint is cut to
   * this; the call's deadline still bounds every wait. {@code Retry-After: 0} retries at once.
   * {@link Duration#ZERO} ignores the header: the backoff applies, as for an answer without
   * one.
   *
   * @throws IllegalArgumentException if {@code max} is negative
   */
  public Retry maxRetryAfter(Duration max) {
    Objects.requireNonNull(max, "maxRetryAfter must not be null: give a Duration (default 60 s), "
        + "or Duration.ZERO to ignore Retry-After");
    if (max.isNegative()) {
      throw new IllegalArgumentException("maxRetryAfter must not be negative, but was " + max);
    }
    Values v = values();
    v.maxRetryAfter = max;
    return new Retry(v);
  }

  /**
   * The per-host retry budget (default: ratio 0.2, window 10 s, 10 retries per second): over
   * any {@code window}, retries to one host may add {@code ratio} of the calls made to it, and
   * beyond that a floor of {@code minRetriesPerSecond} is always there: a bucket per host that
   * holds a window's worth ({@code minRetriesPerSecond} x the window's seconds, full at first)
   * and refills at {@code minRetriesPerSecond}, so a burst that spent it gets retries back a
   * second later. A retry the budget refuses ends the call with its last failure. A retry that
   * is never sent gives its share back: one whose backoff is interrupted, and one refused before
   * it reaches the network (by an open breaker, the client-side throttle, a rate limit or the
   * in-flight limit) or answered by an attempt interceptor.
   *
   * @param ratio retries allowed per call, for example 0.2 for 20%; 0 leaves only the floor
   * @param window how far back calls and retries count, from 1 to 60 seconds
   * @param minRetriesPerSecond the floor, at least 10 (a lightly used client can always make
   *     its {@link #maxAttempts})
   * @throws IllegalArgumentException if {@code ratio} is negative, NaN or infinite, if
   *     {@code window} is outside 1 to 60 seconds, or if {@code minRetriesPerSecond < 10}
   */
  public Retry budget(double ratio, Duration window, int minRetriesPerSecond) {
    Objects.requireNonNull(window,
        "budget window must not be null: give a Duration from 1 to 60 seconds (default 10 s)");
    if (!(ratio >= 0) || Double.isInfinite(ratio)) {
      throw new IllegalArgumentException(
          "budget ratio must be a finite number >= 0, but was " + ratio);
    }
    if (window.compareTo(Duration.ofSeconds(1)) < 0
        || window.compareTo(Duration.ofSeconds(60)) > 0) {
      throw new IllegalArgumentException(
          "budget window must be between 1 and 60 seconds, but was " + window);
    }
    if (minRetriesPerSecond < MIN_RETRIES_PER_SECOND_FLOOR) {
      throw new IllegalArgumentException("budget minRetriesPerSecond must be at least "
          + MIN_RETRIES_PER_SECOND_FLOOR + ", but was " + minRetriesPerSecond);
    }
    Values v = values();
    v.budgetEnabled = true;
    v.budgetRatio = ratio;
    v.budgetWindow = window;
    v.budgetMinRetriesPerSecond = minRetriesPerSecond;
    return new Retry(v);
  }

  /**
   * Turns the retry budget off: every call may make all its attempts even when the host is
   * down for everybody. Prefer a larger {@link #budget} ratio.
   */
  public Retry noBudget() {
    Values v = values();
    v.budgetEnabled = false;
    return new Retry(v);
  }

  /**
   * Decides from the status alone which responses are retried, replacing the default statuses
   * (408, 429, 500, 502, 503, 504), and which statuses an attempt interceptor throws as
   * {@link HttpStatusException} (unless {@link #retryOnException} is set). Applies to every
   * status, 2xx included: a 2xx it wants retried is an answer all the same, returned as is, body
   * and all, when the retry is not made (attempts run out, its wait does not fit in the deadline,
   * the budget refuses it, the request may not be sent twice) or is refused before it is sent (an
   * open circuit breaker, a wait for a rate-limit permit or an in-flight slot that cannot fit, an
   * attempt interceptor's failure). A retry that was sent ends the call with what it got. One of
   * this and {@link #retryOnResponse} decides.
   *
   * @throws IllegalArgumentException if {@link #retryOnResponse} is set: it would decide alone
   */
  public Retry retryOnStatus(IntPredicate retryOnStatus) {
    Objects.requireNonNull(retryOnStatus,
        "retryOnStatus must not be null: give a predicate of the statuses to retry");
    if (this.retryOnResponse != null) {
      throw new IllegalArgumentException("retryOnStatus cannot be set beside retryOnResponse, "
          + "which decides from the whole response alone: test the status in retryOnResponse");
    }
    Values v = values();
    v.retryOnStatus = retryOnStatus;
    return new Retry(v);
  }

  /**
   * Decides from the whole response (status, headers, buffered body) which responses are
   * retried, replacing the status rules. The predicate may read the body with
   * {@link Response#peekBody(long)}; it must not close the response. A 2xx it wants retried is
   * returned as is when that retry is not made, as with {@link #retryOnStatus}.
   *
   * <p>A status an attempt interceptor throws as an {@link HttpStatusException}, rather than
   * returns, is decided by this predicate too (unless {@link #retryOnException} is set, which
   * decides every failure): it is shown a response made of the exception, with its status and
   * {@linkplain HttpStatusException#bodySnippet() body snippet} as the body, and no headers.
   *
   * @throws IllegalArgumentException if {@link #retryOnStatus} is set: this would replace it
   */
  public Retry retryOnResponse(Predicate<? super Response> retryOnResponse) {
    Objects.requireNonNull(retryOnResponse,
        "retryOnResponse must not be null: give a predicate of the responses to retry");
    if (this.retryOnStatus != null) {
      throw new IllegalArgumentException("retryOnResponse cannot be set beside retryOnStatus, "
          + "which it would replace: test the status in retryOnResponse (r.code()) instead");
    }
    Values v = values();
    v.retryOnResponse = retryOnResponse;
    return new Retry(v);
  }

  /**
   * Decides which failures are retried, replacing the default rules for exceptions (a cancelled
   * call is still never retried, and a {@link CircuitOpenException} is always retried after
   * {@link #retryWhenCircuitOpen retryWhenCircuitOpen(true)}, whatever this says of it). A retried
   * {@link CircuitOpenException} waits at least its {@link CircuitOpenException#retryAfter()}.
   */
  public Retry retryOnException(Predicate<? super ApiException> retryOnException) {
    Objects.requireNonNull(retryOnException,
        "retryOnException must not be null: give a predicate of the failures to retry");
    Values v = values();
    v.retryOnException = retryOnException;
    return new Retry(v);
  }

  /**
   * Whether a call refused by an open circuit breaker is tried again once the breaker admits a
   * probe (default false). The retry waits the longer of the backoff and the breaker's
   * {@link CircuitOpenException#retryAfter()}, and only when that fits in the deadline. True holds
   * beside a {@link #retryOnException} rule; with false, such a rule may still retry the refusal.
   */
  public Retry retryWhenCircuitOpen(boolean retry) {
    Values v = values();
    v.retryWhenCircuitOpen = retry;
    return new Retry(v);
  }

  /** The delay before the first retry, before jitter (zero for {@link #none()}). */
  public Duration initialDelay() {
    return initialDelay;
  }

  /** The longest backoff delay, before jitter (zero for {@link #none()}). */
  public Duration maxDelay() {
    return maxDelay;
  }

  /** The most attempts per call, the first included (1 for {@link #none()}). */
  public int maxAttempts() {
    return maxAttempts;
  }

  /** How much each delay grows over the previous one. */
  public double multiplier() {
    return multiplier;
  }

  /** How delays are randomised ({@link Jitter#NONE} for {@link #none()}). */
  public Jitter jitter() {
    return jitter;
  }

  /** The configured random source, or null for the calling thread's {@code ThreadLocalRandom}. */
  public RandomGenerator random() {
    return random;
  }

  /** The longest wait a server's {@code Retry-After} can impose. */
  public Duration maxRetryAfter() {
    return maxRetryAfter;
  }

  /** Whether the per-host retry budget applies (true unless {@link #noBudget()}). */
  public boolean budgetEnabled() {
    return budgetEnabled;
  }

  /** The retries the budget allows per call made, over {@link #budgetWindow()}. */
  public double budgetRatio() {
    return budgetRatio;
  }

  /** How far back the budget counts calls and retries. */
  public Duration budgetWindow() {
    return budgetWindow;
  }

  /** The budget's floor: retries per second always allowed per host, whatever the ratio. */
  public int budgetMinRetriesPerSecond() {
    return budgetMinRetriesPerSecond;
  }

  /** The status predicate, or null for the default statuses. */
  public IntPredicate retryOnStatus() {
    return retryOnStatus;
  }

  /** The response predicate, or null. */
  public Predicate<? super Response> retryOnResponse() {
    return retryOnResponse;
  }

  /** The exception predicate, or null for the default rules. */
  public Predicate<? super ApiException> retryOnException() {
    return retryOnException;
  }

  /** Whether a call refused by an open circuit breaker is tried again. */
  public boolean retryWhenCircuitOpen() {
    return retryWhenCircuitOpen;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Retry r
        && r.initialDelay.equals(initialDelay)
        && r.maxDelay.equals(maxDelay)
        && r.maxAttempts == maxAttempts
        && Double.compare(r.multiplier, multiplier) == 0
        && r.jitter == jitter
        && Objects.equals(r.random, random)
        && r.maxRetryAfter.equals(maxRetryAfter)
        && r.budgetEnabled == budgetEnabled
        && Double.compare(r.budgetRatio, budgetRatio) == 0
        && r.budgetWindow.equals(budgetWindow)
        && r.budgetMinRetriesPerSecond == budgetMinRetriesPerSecond
        && Objects.equals(r.retryOnStatus, retryOnStatus)
        && Objects.equals(r.retryOnResponse, retryOnResponse)
        && Objects.equals(r.retryOnException, retryOnException)
        && r.retryWhenCircuitOpen == retryWhenCircuitOpen;
  }

  @Override
  public int hashCode() {
    return Objects.hash(initialDelay, maxDelay, maxAttempts, multiplier, jitter, random,
        maxRetryAfter, budgetEnabled, budgetRatio, budgetWindow, budgetMinRetriesPerSecond,
        retryOnStatus, retryOnResponse, retryOnException, retryWhenCircuitOpen);
  }

  @Override
  public String toString() {
    if (maxAttempts == 1) {
      return "Retry[none]";
    }
    StringBuilder sb = new StringBuilder("Retry[")
        .append(maxAttempts).append(" attempts, ")
        .append(initialDelay).append("..").append(maxDelay)
        .append(" x").append(multiplier)
        .append(", jitter ").append(jitter)
        .append(maxRetryAfter.isZero() ? ", Retry-After ignored"
            : ", Retry-After up to " + maxRetryAfter);
    if (budgetEnabled) {
      sb.append(", budget ").append(budgetRatio).append(" of calls per ").append(budgetWindow)
          .append(" + ").append(budgetMinRetriesPerSecond).append("/s per host");
    } else {
      sb.append(", no budget");
    }
    if (retryOnStatus != null) {
      sb.append(", custom status rule");
    }
    if (retryOnResponse != null) {
      sb.append(", custom response rule");
    }
    if (retryOnException != null) {
      sb.append(", custom exception rule");
    }
    if (retryWhenCircuitOpen) {
      sb.append(", retries open circuits");
    }
    if (random != null) {
      sb.append(", random ").append(random.getClass().getSimpleName());
    }
    return sb.append(']').toString();
  }

  private Values values() {
    Values v = new Values();
    v.initialDelay = initialDelay;
    v.maxDelay = maxDelay;
    v.maxAttempts = maxAttempts;
    v.multiplier = multiplier;
    v.jitter = jitter;
    v.random = random;
    v.maxRetryAfter = maxRetryAfter;
    v.budgetEnabled = budgetEnabled;
    v.budgetRatio = budgetRatio;
    v.budgetWindow = budgetWindow;
    v.budgetMinRetriesPerSecond = budgetMinRetriesPerSecond;
    v.retryOnStatus = retryOnStatus;
    v.retryOnResponse = retryOnResponse;
    v.retryOnException = retryOnException;
    v.retryWhenCircuitOpen = retryWhenCircuitOpen;
    return v;
  }

  /** The mutable scratch copy each wither fills before building the next immutable value. */
  private static final class Values {
    Duration initialDelay;
    Duration maxDelay;
    int maxAttempts;
    double multiplier;
    Jitter jitter;
    RandomGenerator random;
    Duration maxRetryAfter;
    boolean budgetEnabled;
    double budgetRatio;
    Duration budgetWindow;
    int budgetMinRetriesPerSecond;
    IntPredicate retryOnStatus;
    Predicate<? super Response> retryOnResponse;
    Predicate<? super ApiException> retryOnException;
    boolean retryWhenCircuitOpen;
  }
}
