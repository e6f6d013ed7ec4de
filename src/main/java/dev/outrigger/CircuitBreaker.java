package dev.outrigger;

import dev.outrigger.internal.Durations;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.IntPredicate;
import java.util.function.Predicate;

/**
 * An immutable circuit-breaker configuration. The client keeps one breaker per key (by default
 * the target {@code host:port}, so a dead dependency does not stop calls to healthy ones), each
 * with this configuration and the state machine Resilience4j users know:
 *
 * <ul>
 *   <li><b>CLOSED</b>: calls go through and their outcomes fill a sliding window, either the last
 *       {@code slidingWindowSize} calls ({@link WindowType#COUNT_BASED}) or the calls of the last
 *       {@code slidingWindowSize} seconds ({@link WindowType#TIME_BASED}). Once the window holds
 *       at least {@code minimumNumberOfCalls}, a failure rate greater than or equal to
 *       {@code failureRateThreshold}, or a rate of calls slower than {@code slowCallDuration}
 *       greater than or equal to {@code slowCallRateThreshold}, opens the breaker.
 *   <li><b>OPEN</b>: calls are refused at once with {@link CircuitOpenException}, without touching
 *       the network or a rate-limit permit, for {@code waitInOpenState}. While probes keep failing,
 *       each new open period can grow ({@link Builder#waitInOpenStateGrowth}).
 *   <li><b>HALF_OPEN</b>: exactly {@code permittedCallsInHalfOpen} probes go through (however many
 *       threads arrive at once); the others are refused. When all probes have completed, their
 *       failure and slow-call rates decide: at or above a threshold, OPEN again; below, CLOSED with
 *       an empty window.
 *   <li><b>FORCED_OPEN</b> and <b>DISABLED</b>: set by hand through {@link Handle}; refuse
 *       everything, or let everything through without recording. Only {@link Handle#reset()}
 *       leaves them.
 * </ul>
 *
 * <p>What counts as a failure, by default: a {@link TransportException} of kind CONNECT, TLS,
 * TIMEOUT, IO or PROTOCOL (a malformed answer, a redirect loop), a
 * {@link DeadlineExceededException} that cut an attempt that was sent, and any 5xx status (also
 * one an attempt interceptor throws as an {@link HttpStatusException}, unless its URL names
 * another {@code host:port} than the call's and than the one a redirect the attempt followed
 * led to: that one is judged as any other exception). A 4xx (429 included) counts as a success:
 * the server is answering. {@link Builder#failureStatus} and
 * {@link Builder#failureException} replace these rules (a set failureException decides thrown
 * statuses too). Never counted, whatever the predicates say: a call cancelled by its caller
 * (interrupted thread) and an attempt that never reached the network (for example refused by
 * the rate limiter).
 *
 * <p>Time an attempt spends in the client's own queues (the client-side throttle, a rate-limit
 * permit, an in-flight slot; an attempt interceptor or {@code Auth} hook before it sends) is not
 * the host's fault. An attempt ended by the deadline, {@code close()} or an interrupt while it
 * waits there never reached the network, and is not counted. Nor is one the deadline cut on the
 * network after those waits took more of the time it had when its breaker admitted it than
 * they left it: the wait used up its deadline, not the host. For a retry, the {@link Retry}
 * policy's wait before it (its backoff, or the server's {@code Retry-After}) is such a wait too,
 * and the time it had is counted from when that wait began: a retry sent with 5 ms of a 1 s
 * deadline left after a 995 ms backoff, and cut, is let off the same way. Such a cut is let off
 * only on a pass a success of the host's gave (one per success, at most
 * {@link #minimumNumberOfCalls()} kept; once spent, such cuts count; none for a success a
 * breaker disabled by hand let through, as it records nothing), so a host that never
 * answered hides none behind a saturated local queue or its retries' backoffs, and one that
 * stopped answering at most that many. A half-open probe that is not counted gives its place to
 * another call. An attempt cut after it had most of its time on the
 * network (resolving, connecting, writing, awaiting the answer) counts as a failure, so a host
 * that never answers still opens its breaker.
 *
 * {@snippet :
 * CircuitBreaker cb = CircuitBreaker.builder()
 *     .slidingWindowSize(20).minimumNumberOfCalls(10).failureRateThreshold(0.5)
 *     .waitInOpenState(Duration.ofSeconds(5)).permittedCallsInHalfOpen(2).build();
 * }
 *
 * <p>Defaults: a count window of 100 calls, 20 calls minimum, failure rate threshold 0.5, slow
 * calls: longer than 60 s at a rate of 1.0, 5 s open without growth, 3 probes, one breaker per
 * {@link CallContext#host()}, at most 1,000 breakers per client. {@link #none()} turns breaking
 * off.
 *
 * <p>Instances are immutable and thread-safe; {@link #newBuilder()} derives a variant. The
 * breakers built from a configuration are lock-free: state is one immutable snapshot swapped by
 * compare-and-set, and recording a call costs O(1) atomic operations.
 */
public final class CircuitBreaker {

  /** A breaker's state. */
  public enum State {
    /** Calls go through and are recorded. */
    CLOSED,
    /** Calls are refused until the open wait is over. */
    OPEN,
    /** A fixed number of probe calls go through; the rest are refused. */
    HALF_OPEN,
    /** Set by hand: every call is refused until the breaker is reset. */
    FORCED_OPEN,
    /** Set by hand: every call goes through and nothing is recorded until the breaker is reset. */
    DISABLED
  }

  /** How the sliding window of a closed breaker is measured. */
  public enum WindowType {
    /** The last {@code slidingWindowSize} calls. */
    COUNT_BASED,
    /** The calls of the last {@code slidingWindowSize} seconds, in one-second buckets. */
    TIME_BASED
  }

  /**
   * What a breaker looks like at one moment. {@code failureRate} and {@code slowCallRate} are
   * fractions in {@code [0, 1]} of {@code calls}: the calls now in the window (in OPEN: the calls
   * or probes that opened it; in HALF_OPEN: the probes completed so far; none in FORCED_OPEN and
   * DISABLED). {@code retryAfter} is how long until an OPEN breaker lets a probe through
   * ({@link Duration#ZERO} in other states, {@code Long.MAX_VALUE} nanoseconds when FORCED_OPEN).
   * {@link #toString()} writes it as other messages write time ({@code retryAfter=4999 ms}), and
   * that of a FORCED_OPEN breaker as {@code retryAfter=until reset}.
   */
  public record Snapshot(
      String key,
      State state,
      double failureRate,
      double slowCallRate,
      int calls,
      int failedCalls,
      int slowCalls,
      Duration retryAfter) {
    @Override
    public String toString() {
      // A forced-open breaker admits no probe until it is reset: its Long.MAX_VALUE nanoseconds
      // are no wait ("PT2562047H47M16.854775807S" would read as one).
      return "Snapshot[key=" + key + ", state=" + state + ", failureRate=" + failureRate
          + ", slowCallRate=" + slowCallRate + ", calls=" + calls + ", failedCalls=" + failedCalls
          + ", slowCalls=" + slowCalls + ", retryAfter="
          + (state == State.FORCED_OPEN ? "until reset"
              : retryAfter == null ? "null"
              : Durations.text(Durations.saturatedNanos(retryAfter))) + "]";
    }
  }

  /**
   * The live breaker of one key: look at it, or take it over by hand. Obtained from the client
   * that owns the breaker; thread-safe. Looking does not create a breaker. A handle stays valid
   * when the client evicts an idle breaker: it then acts on a fresh one. Once the client is
   * closed, its breakers are out of use ({@code ApiClient.close()}): a snapshot still reads
   * them, and {@link #forceOpen}, {@link #disable} and {@link #reset} throw
   * {@link IllegalStateException}, as a call on the closed client does.
   *
   * <p>Not meant to be implemented outside Outrigger.
   */
  public interface Handle {
    /** The breaker's key (by default {@code host:port}). */
    String key();

    /** The breaker's state and window counts now. */
    Snapshot snapshot();

    /**
     * Refuses every call to this key until {@link #reset()}; transitions are reported.
     *
     * @throws IllegalStateException if the client is closed, or circuit breaking is off
     */
    void forceOpen();

    /**
     * Lets every call to this key through, recording nothing, until {@link #reset()}.
     *
     * @throws IllegalStateException if the client is closed, or circuit breaking is off
     */
    void disable();

    /**
     * Back to CLOSED with an empty window, whatever the state. With circuit breaking off, does
     * nothing.
     *
     * @throws IllegalStateException if the client is closed (with circuit breaking off too)
     */
    void reset();
  }

  /** The largest count window, in calls (one byte of memory per call per breaker). */
  public static final int MAX_WINDOW_CALLS = 1_000_000;
  /** The largest time window, in seconds. */
  public static final int MAX_WINDOW_SECONDS = 3_600;
  /** The most half-open probes. */
  public static final int MAX_HALF_OPEN_CALLS = 100_000;

  private static final Predicate<Throwable> DEFAULT_FAILURE_EXCEPTION =
      new Predicate<>() {
        @Override
        public boolean test(Throwable t) {
          if (t instanceof TransportException te) {
            return te.kind() != TransportException.Kind.CANCELLED;
          }
          return t instanceof DeadlineExceededException;
        }

        @Override
        public String toString() {
          return "transport failures and deadline-cut attempts";
        }
      };
  private static final IntPredicate DEFAULT_FAILURE_STATUS =
      new IntPredicate() {
        @Override
        public boolean test(int status) {
          return status >= 500 && status <= 599;
        }

        @Override
        public String toString() {
          return "5xx";
        }
      };
  private static final Function<CallContext, String> PER_HOST =
      new Function<>() {
        @Override
        public String apply(CallContext ctx) {
          return ctx.host();
        }

        @Override
        public String toString() {
          return "per host";
        }
      };

  private static final CircuitBreaker NONE = new CircuitBreaker(new Builder(), false);

  private final boolean enabled;
  private final WindowType slidingWindowType;
  private final int slidingWindowSize;
  private final int minimumNumberOfCalls;
  private final double failureRateThreshold;
  private final double slowCallRateThreshold;
  private final Duration slowCallDuration;
  private final Duration waitInOpenState;
  private final double waitInOpenStateMultiplier;
  private final Duration maxWaitInOpenState;
  private final int permittedCallsInHalfOpen;
  private final IntPredicate failureStatus;
  private final Predicate<? super Throwable> failureException;
  private final Function<? super CallContext, String> keyFunction;
  private final int maxBreakers;

  private CircuitBreaker(Builder b, boolean enabled) {
    this.enabled = enabled;
    this.slidingWindowType = b.slidingWindowType;
    this.slidingWindowSize = b.slidingWindowSize;
    this.minimumNumberOfCalls = b.minimumNumberOfCalls;
    this.failureRateThreshold = b.failureRateThreshold;
    this.slowCallRateThreshold = b.slowCallRateThreshold;
    this.slowCallDuration = b.slowCallDuration;
    this.waitInOpenState = b.waitInOpenState;
    this.waitInOpenStateMultiplier = b.waitInOpenStateMultiplier;
    this.maxWaitInOpenState = b.maxWaitInOpenState == null || b.waitInOpenStateMultiplier == 1.0
        ? b.waitInOpenState
        : b.maxWaitInOpenState;
    this.permittedCallsInHalfOpen = b.permittedCallsInHalfOpen;
    this.failureStatus = b.failureStatus;
    this.failureException = b.failureException;
    this.keyFunction = b.keyFunction;
    this.maxBreakers = b.maxBreakers;
  }

  /** A builder with the defaults listed above. */
  public static Builder builder() {
    return new Builder();
  }

  /** The defaults listed above. */
  public static CircuitBreaker defaults() {
    return builder().build();
  }

  /** No circuit breaking: every call goes through and nothing is recorded. */
  public static CircuitBreaker none() {
    return NONE;
  }

  /** A builder holding this configuration's values (of the defaults, for {@link #none()}). */
  public Builder newBuilder() {
    Builder b = new Builder();
    b.slidingWindowType = slidingWindowType;
    b.slidingWindowSize = slidingWindowSize;
    b.minimumNumberOfCalls = minimumNumberOfCalls;
    b.failureRateThreshold = failureRateThreshold;
    b.slowCallRateThreshold = slowCallRateThreshold;
    b.slowCallDuration = slowCallDuration;
    b.waitInOpenState = waitInOpenState;
    b.waitInOpenStateMultiplier = waitInOpenStateMultiplier;
    b.maxWaitInOpenState = waitInOpenStateMultiplier == 1.0 ? null : maxWaitInOpenState;
    b.permittedCallsInHalfOpen = permittedCallsInHalfOpen;
    b.failureStatus = failureStatus;
    b.failureException = failureException;
    b.keyFunction = keyFunction;
    b.maxBreakers = maxBreakers;
    return b;
  }

  /** False only for {@link #none()}. */
  public boolean enabled() {
    return enabled;
  }

  /** Whether the window counts calls or seconds. */
  public WindowType slidingWindowType() {
    return slidingWindowType;
  }

  /** Calls ({@link WindowType#COUNT_BASED}) or seconds ({@link WindowType#TIME_BASED}). */
  public int slidingWindowSize() {
    return slidingWindowSize;
  }

  /** How many calls the window must hold before the breaker may open. */
  public int minimumNumberOfCalls() {
    return minimumNumberOfCalls;
  }

  /** The failure rate, in {@code (0, 1]}, at or above which the breaker opens. */
  public double failureRateThreshold() {
    return failureRateThreshold;
  }

  /** The rate of slow calls, in {@code (0, 1]}, at or above which the breaker opens. */
  public double slowCallRateThreshold() {
    return slowCallRateThreshold;
  }

  /** A call that takes longer than this is slow. */
  public Duration slowCallDuration() {
    return slowCallDuration;
  }

  /** The first open period. */
  public Duration waitInOpenState() {
    return waitInOpenState;
  }

  /** How much each open period grows over the previous while probes keep failing (1: none). */
  public double waitInOpenStateMultiplier() {
    return waitInOpenStateMultiplier;
  }

  /** The longest open period ({@link #waitInOpenState()} when it does not grow). */
  public Duration maxWaitInOpenState() {
    return maxWaitInOpenState;
  }

  /** How many probe calls the half-open breaker admits. */
  public int permittedCallsInHalfOpen() {
    return permittedCallsInHalfOpen;
  }

  /** Which response statuses count as failures. */
  public IntPredicate failureStatus() {
    return failureStatus;
  }

  /** Which exceptions (of attempts that were sent, not cancelled) count as failures. */
  public Predicate<? super Throwable> failureException() {
    return failureException;
  }

  /** Which breaker a call uses. */
  public Function<? super CallContext, String> keyFunction() {
    return keyFunction;
  }

  /** Whether calls are keyed by their {@code host:port} (no {@link Builder#keyedBy} given). */
  boolean keyedByHost() {
    return keyFunction == PER_HOST;
  }

  /** The most breakers a client keeps. */
  public int maxBreakers() {
    return maxBreakers;
  }

  @Override
  public String toString() {
    if (!enabled) {
      return "CircuitBreaker[none]";
    }
    String window = slidingWindowType == WindowType.COUNT_BASED
        ? slidingWindowSize + " calls"
        : slidingWindowSize + " s";
    String open = waitInOpenStateMultiplier == 1.0
        ? waitInOpenState.toString()
        : waitInOpenState + " x" + waitInOpenStateMultiplier + " up to " + maxWaitInOpenState;
    return "CircuitBreaker[window " + window + ", min " + minimumNumberOfCalls
        + ", failure rate >= " + failureRateThreshold + " ("
        + (failureStatus == DEFAULT_FAILURE_STATUS ? failureStatus : "custom status rule") + ", "
        + (failureException == DEFAULT_FAILURE_EXCEPTION ? failureException
            : "custom exception rule") + "), slow rate >= " + slowCallRateThreshold + " over "
        + slowCallDuration + ", open " + open + ", half-open probes " + permittedCallsInHalfOpen
        + ", " + (keyFunction == PER_HOST ? "per host" : "custom key") + ", max " + maxBreakers
        + " breakers]";
  }

  /**
   * Equal when every setting is: predicates and key functions by identity (the defaults are
   * shared instances), as {@link Retry} compares them.
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof CircuitBreaker c
        && c.enabled == enabled
        && c.slidingWindowType == slidingWindowType
        && c.slidingWindowSize == slidingWindowSize
        && c.minimumNumberOfCalls == minimumNumberOfCalls
        && Double.compare(c.failureRateThreshold, failureRateThreshold) == 0
        && Double.compare(c.slowCallRateThreshold, slowCallRateThreshold) == 0
        && c.slowCallDuration.equals(slowCallDuration)
        && c.waitInOpenState.equals(waitInOpenState)
        && Double.compare(c.waitInOpenStateMultiplier, waitInOpenStateMultiplier) == 0
        && c.maxWaitInOpenState.equals(maxWaitInOpenState)
        && c.permittedCallsInHalfOpen == permittedCallsInHalfOpen
        && c.failureStatus == failureStatus
        && c.failureException == failureException
        && c.keyFunction == keyFunction
        && c.maxBreakers == maxBreakers;
  }

  @Override
  public int hashCode() {
    return Objects.hash(enabled, slidingWindowType, slidingWindowSize, minimumNumberOfCalls,
        failureRateThreshold, slowCallRateThreshold, slowCallDuration, waitInOpenState,
        waitInOpenStateMultiplier, maxWaitInOpenState, permittedCallsInHalfOpen,
        System.identityHashCode(failureStatus), System.identityHashCode(failureException),
        System.identityHashCode(keyFunction), maxBreakers);
  }

  /**
   * Builds a {@link CircuitBreaker}; each setter checks its own argument, {@link #build()} the
   * rules between settings, so the order of the calls never matters. Not thread-safe.
   */
  public static final class Builder {
    private WindowType slidingWindowType = WindowType.COUNT_BASED;
    private static final int DEFAULT_WINDOW = 100;
    private static final int DEFAULT_MINIMUM_CALLS = 20;
    private int slidingWindowSize = DEFAULT_WINDOW;
    private int minimumNumberOfCalls = DEFAULT_MINIMUM_CALLS;
    private double failureRateThreshold = 0.5;
    private double slowCallRateThreshold = 1.0;
    private Duration slowCallDuration = Duration.ofSeconds(60);
    private Duration waitInOpenState = Duration.ofSeconds(5);
    private double waitInOpenStateMultiplier = 1.0;
    private Duration maxWaitInOpenState;
    private int permittedCallsInHalfOpen = 3;
    private IntPredicate failureStatus = DEFAULT_FAILURE_STATUS;
    private Predicate<? super Throwable> failureException = DEFAULT_FAILURE_EXCEPTION;
    private Function<? super CallContext, String> keyFunction = PER_HOST;
    private int maxBreakers = 1_000;

    private Builder() {}

    /**
     * Whether the window counts calls or seconds (default {@link WindowType#COUNT_BASED}).
     *
     * @throws NullPointerException if {@code type} is null
     */
    public Builder slidingWindowType(WindowType type) {
      this.slidingWindowType = Objects.requireNonNull(type,
          "slidingWindowType must not be null: give COUNT_BASED (the default) or TIME_BASED");
      return this;
    }

    /**
     * How many of the most recent calls ({@link WindowType#COUNT_BASED}) or seconds
     * ({@link WindowType#TIME_BASED}) the rates are computed over (default 100).
     *
     * @throws IllegalArgumentException if {@code size < 1} or above {@link #MAX_WINDOW_CALLS};
     *     {@link #build()} also rejects a time window above {@link #MAX_WINDOW_SECONDS}
     */
    public Builder slidingWindowSize(int size) {
      if (size < 1 || size > MAX_WINDOW_CALLS) {
        throw new IllegalArgumentException(
            "slidingWindowSize must be between 1 and " + MAX_WINDOW_CALLS + ", but was " + size);
      }
      this.slidingWindowSize = size;
      return this;
    }

    /**
     * How many calls the window must hold before the breaker may open (default 20).
     *
     * @throws IllegalArgumentException if {@code calls < 1}
     */
    public Builder minimumNumberOfCalls(int calls) {
      if (calls < 1) {
        throw new IllegalArgumentException(
            "minimumNumberOfCalls must be at least 1, but was " + calls);
      }
      this.minimumNumberOfCalls = calls;
      return this;
    }

    /**
     * The failure rate, in {@code (0, 1]}, at or above which the breaker opens (default 0.5). A
     * fraction, not a percentage: 0.5 for 50% (where Resilience4j takes 50).
     *
     * @throws IllegalArgumentException if outside {@code (0, 1]} or NaN
     */
    public Builder failureRateThreshold(double rate) {
      if (!(rate > 0 && rate <= 1)) {
        throw new IllegalArgumentException("failureRateThreshold must be greater than 0 and at "
            + "most 1 (a fraction: 0.5 for 50%), but was " + rate);
      }
      this.failureRateThreshold = rate;
      return this;
    }

    /**
     * The rate of slow calls, in {@code (0, 1]}, at or above which the breaker opens (default
     * 1.0: every call in the window slow). A fraction, not a percentage: 0.8 for 80% (where
     * Resilience4j takes 80).
     *
     * @throws IllegalArgumentException if outside {@code (0, 1]} or NaN
     */
    public Builder slowCallRateThreshold(double rate) {
      if (!(rate > 0 && rate <= 1)) {
        throw new IllegalArgumentException("slowCallRateThreshold must be greater than 0 and at "
            + "most 1 (a fraction: 0.8 for 80%), but was " + rate);
      }
      this.slowCallRateThreshold = rate;
      return this;
    }

    /**
     * A call (successful or not) that takes longer than this is slow (default 60 s). The time is
     * the attempt's, from when its request went to the network to when the rest of the chain
     * returned: a wait for a rate-limit permit or an in-flight slot is the client's own and is
     * not counted. With no interceptor or listener of the user's around it, an attempt whose
     * deadline falls at least a second short of this duration when it is sent cannot be slow
     * (the deadline ends it first), and is not timed: with the default 10 s deadline, the
     * default 60 s never applies.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder slowCallDuration(Duration duration) {
      Objects.requireNonNull(duration, "slowCallDuration must not be null: give a positive "
          + "Duration (ChronoUnit.FOREVER.getDuration() for no call to count as slow)");
      if (duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException(
            "slowCallDuration must be positive, but was " + duration);
      }
      this.slowCallDuration = duration;
      return this;
    }

    /**
     * How long the breaker stays open before it lets probes through (default 5 s).
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder waitInOpenState(Duration wait) {
      Objects.requireNonNull(wait,
          "waitInOpenState must not be null: give a positive Duration (default 5 s)");
      if (wait.isNegative() || wait.isZero()) {
        throw new IllegalArgumentException("waitInOpenState must be positive, but was " + wait);
      }
      this.waitInOpenState = wait;
      return this;
    }

    /**
     * Lets the open period grow while the service keeps failing its probes: each time HALF_OPEN
     * goes back to OPEN, the wait is {@code multiplier} times the previous one, at most
     * {@code max}. Closing the breaker starts again from {@link #waitInOpenState}. Default: no
     * growth (multiplier 1). A multiplier of 1 means a constant wait: {@code max} is then
     * unused, and not checked against {@link #waitInOpenState}.
     *
     * @throws IllegalArgumentException if {@code multiplier} is below 1, NaN or infinite, or
     *     {@code max} is not positive; {@link #build()} also rejects a {@code max} shorter than
     *     {@link #waitInOpenState} when {@code multiplier} is above 1
     */
    public Builder waitInOpenStateGrowth(double multiplier, Duration max) {
      Objects.requireNonNull(max, "waitInOpenStateGrowth max must not be null: give the "
          + "longest open wait, at least waitInOpenState");
      if (!(multiplier >= 1) || Double.isInfinite(multiplier)) {
        throw new IllegalArgumentException(
            "waitInOpenStateGrowth multiplier must be a finite number >= 1, but was "
                + multiplier);
      }
      if (max.isNegative() || max.isZero()) {
        throw new IllegalArgumentException(
            "waitInOpenStateGrowth max must be positive, but was " + max);
      }
      this.waitInOpenStateMultiplier = multiplier;
      this.maxWaitInOpenState = max;
      return this;
    }

    /**
     * How many probe calls the half-open breaker admits (default 3).
     *
     * @throws IllegalArgumentException if {@code calls < 1} or above
     *     {@link #MAX_HALF_OPEN_CALLS}
     */
    public Builder permittedCallsInHalfOpen(int calls) {
      if (calls < 1 || calls > MAX_HALF_OPEN_CALLS) {
        throw new IllegalArgumentException("permittedCallsInHalfOpen must be between 1 and "
            + MAX_HALF_OPEN_CALLS + ", but was " + calls);
      }
      this.permittedCallsInHalfOpen = calls;
      return this;
    }

    /**
     * Which response statuses count as failures (default: 500 to 599). Others count as
     * successes. Also asked about a {@link HttpStatusException} an attempt interceptor throws
     * instead of returning the response, unless its URL names another {@code host:port} than the
     * call's (that one goes to {@link #failureException}), or {@link #failureException} is set:
     * then that rule decides it.
     *
     * @throws NullPointerException if {@code isFailure} is null
     */
    public Builder failureStatus(IntPredicate isFailure) {
      this.failureStatus = Objects.requireNonNull(isFailure, "failureStatus must not be null: "
          + "give a predicate of the statuses that count as failures (default: 5xx)");
      return this;
    }

    /**
     * Which exceptions count as failures (default: {@link TransportException} of any kind but
     * CANCELLED, so CONNECT, TLS, TIMEOUT, IO and PROTOCOL, and
     * {@link DeadlineExceededException}); an {@link HttpStatusException} an attempt interceptor
     * throws is judged by {@link #failureStatus} unless its URL names another {@code host:port}.
     * Others count as successes. Once set, this rule decides thrown statuses too. The predicate
     * only sees attempts that were sent and not cancelled, and no deadline's cut of an attempt
     * that the client's own waits left too little time (see the class doc); those never count.
     *
     * @throws NullPointerException if {@code isFailure} is null
     */
    public Builder failureException(Predicate<? super Throwable> isFailure) {
      this.failureException = Objects.requireNonNull(isFailure, "failureException must not be "
          + "null: give a predicate of the exceptions that count as failures");
      return this;
    }

    /**
     * Which breaker a call uses (default {@link CallContext#host()}: one breaker per
     * {@code host:port}). Use it for finer keys, for example per endpoint; keep the number of
     * distinct keys bounded. A function returning null exempts that call from circuit breaking.
     *
     * @throws NullPointerException if {@code key} is null
     */
    public Builder keyedBy(Function<? super CallContext, String> key) {
      this.keyFunction = Objects.requireNonNull(key, "keyedBy must not be null: give a function "
          + "of the call to its breaker's key (default CallContext::host)");
      return this;
    }

    /**
     * The most breakers a client keeps (default 1,000). Past it, the least recently used
     * breakers are dropped; never one forced open or disabled by hand (kept even beyond the
     * maximum), nor one open or half-open that was opened or used within its own open wait
     * (as grown for that opening, not the growth's maximum) or has a probe still out. A
     * dropped breaker counts nothing more (a call it admitted that ends later is not counted),
     * so it never opens once dropped; the key's next call starts a fresh one.
     *
     * @throws IllegalArgumentException if {@code max < 1}
     */
    public Builder maxBreakers(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxBreakers must be at least 1, but was " + max);
      }
      this.maxBreakers = max;
      return this;
    }

    /**
     * The configuration, after checking the rules between settings.
     *
     * @throws IllegalArgumentException if a count window is smaller than
     *     {@code minimumNumberOfCalls} (the breaker could never open), a time window is longer
     *     than {@link #MAX_WINDOW_SECONDS}, or the open wait grows (multiplier above 1) and the
     *     growth's maximum is shorter than {@code waitInOpenState}
     */
    public CircuitBreaker build() {
      if (slidingWindowType == WindowType.COUNT_BASED
          && minimumNumberOfCalls > slidingWindowSize) {
        throw new IllegalArgumentException("minimumNumberOfCalls (" + minimumNumberOfCalls
            + (minimumNumberOfCalls == DEFAULT_MINIMUM_CALLS ? ", the default" : "")
            + ") must not exceed slidingWindowSize (" + slidingWindowSize
            + (slidingWindowSize == DEFAULT_WINDOW ? ", the default" : "")
            + "): the breaker could never open; set minimumNumberOfCalls(n) to at most "
            + slidingWindowSize + ", or a larger window");
      }
      if (slidingWindowType == WindowType.TIME_BASED && slidingWindowSize > MAX_WINDOW_SECONDS) {
        throw new IllegalArgumentException("a TIME_BASED slidingWindowSize must be at most "
            + MAX_WINDOW_SECONDS + " seconds, but was " + slidingWindowSize);
      }
      // At multiplier 1 the wait never grows, so the maximum is never used.
      if (waitInOpenStateMultiplier > 1.0 && maxWaitInOpenState != null
          && maxWaitInOpenState.compareTo(waitInOpenState) < 0) {
        throw new IllegalArgumentException("waitInOpenStateGrowth max (" + maxWaitInOpenState
            + ") must be at least waitInOpenState (" + waitInOpenState
            + "): raise the max, shorten waitInOpenState, or grow by 1.0 (a constant wait)");
      }
      return new CircuitBreaker(this, true);
    }
  }
}
