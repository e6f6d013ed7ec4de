package dev.outrigger.micrometer;

import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.internal.Outcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.LongTaskTimer;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Publishes what Outrigger clients do to a Micrometer {@link MeterRegistry}. Add it as a listener;
 * one builder call binds it:
 *
 * {@snippet :
 * ApiClient client = ApiClient.builder()
 *     .baseUrl("https://api.example.com/v1")
 *     .addListener(OutriggerMetrics.of(registry))
 *     .build();
 * }
 *
 * <p>Meters (durations in seconds, Micrometer's base unit; every meter also carries the
 * {@linkplain Builder#tags extra tags}):
 * <ul>
 *   <li>{@code outrigger.calls} (timer; host, method, status, outcome): logical calls, retries
 *       and waits included.
 *   <li>{@code outrigger.attempts} (timer; host, method, status, outcome): attempts sent.
 *   <li>{@code outrigger.calls.active} (long task timer; host): calls in progress.
 *   <li>{@code outrigger.retries} (counter; host, reason): retries scheduled (counted when
 *       scheduled: one whose wait a slow listener used up is counted, though not sent).
 *   <li>{@code outrigger.retry.backoff} (timer; host): the backoff chosen before each retry.
 *   <li>{@code outrigger.retry.budget.exhausted} (counter; host): retries the budget refused.
 *   <li>{@code outrigger.ratelimit.waits} (timer; host): waits for a rate-limit permit.
 *   <li>{@code outrigger.ratelimit.rejections} (counter; host): attempts refused with a
 *       {@code RateLimitedException}: by a rate limit, or by the client-side throttle. A
 *       call's first attempt, or a retry. A retry refused with a wait
 *       ({@code RateLimitedException.wouldWait()}) longer than the time left before the
 *       deadline ends its call with the failure it was retrying (the refusal suppressed on it),
 *       still counted here; any other refusal ends the call as that
 *       {@code RateLimitedException}: one with no wait to give (the throttle's, more permits
 *       than the burst, a shared store that cannot answer in time) or with a wait that would
 *       have fit.
 *   <li>{@code outrigger.ratelimit.pauses} (counter; host): times the server paused a bucket
 *       ({@code Retry-After}, quota used up).
 *   <li>{@code outrigger.inflight.waits} (timer; host): waits for an in-flight slot.
 *   <li>{@code outrigger.breaker.rejections} (counter; breaker): attempts refused by a breaker
 *       (with {@code retryWhenCircuitOpen}, one call may be refused more than once).
 *   <li>{@code outrigger.breaker.transitions} (counter; breaker, from, to).
 *   <li>{@code outrigger.breaker.state} (gauge; breaker): the breaker's state: 0 closed,
 *       1 half-open, 2 open, 3 forced open, -1 disabled. When several clients sharing this
 *       instance have a breaker of the same key (a derived client has its own), the worst of
 *       them: the highest value, and -1 only when none but disabled ones has left CLOSED.
 *   <li>{@code outrigger.inflight.limit} (gauge; host): the adaptive in-flight limit last
 *       reported for the host (appears with its first change; back at the initial limit when
 *       the client drops the host's state as idle).
 *   <li>{@code outrigger.ratelimit.rate} (gauge; host): an adaptive rate limit's current rate,
 *       in permits per second (appears with its first change; keyed limits report per host).
 *   <li>{@code outrigger.throttle.probability} (gauge; host): the client-side throttle's
 *       rejection probability last reported for the host, 0 to 1.
 * </ul>
 *
 * <p>Cardinality is bounded: {@code host} is the call's {@code host:port} (never a URL or path);
 * at most {@link Builder#maxHosts(int) maxHosts} distinct hosts (default 100) get their own tag
 * value and later ones are counted as {@code other}; the same cap applies to breaker keys (a
 * folded breaker gets counters but no state gauge); {@code method} is one of the standard HTTP
 * methods or {@code OTHER}; {@code status} is the numeric code or {@code NONE}; {@code outcome}
 * is a closed set ({@code SUCCESS}, {@code CLIENT_ERROR}, {@code SERVER_ERROR},
 * {@code REDIRECTION}, {@code INFORMATIONAL}, {@code CONNECT}, {@code TLS}, {@code TIMEOUT},
 * {@code IO}, {@code CANCELLED}, {@code PROTOCOL}, {@code DEADLINE_EXCEEDED}, {@code RATE_LIMITED},
 * {@code CIRCUIT_OPEN}, {@code DESERIALIZATION}, {@code ERROR}); retry reasons are normalised to
 * short lower-case words ({@code http_503}, {@code connect_failure}, {@code circuit_open}: the
 * reason's text before any detail) and capped at 32 distinct values. Rate-limit meters are
 * tagged by host, not by the limit's key, which may be a credential.
 *
 * <p>Thread-safe; share one instance between clients that report to the same registry. Breaker
 * states are gauges this instance maintains from transition events: two instances with the same
 * tags on one registry would both try to register the same gauge, and only the first would be
 * read, so give each a distinct tag ({@code tags("client", "billing")}) or share the instance.
 * A breaker's gauge appears with its first transition (until then it is closed), and counts
 * the key's breakers of every client sharing the instance, so one client's closed breaker does
 * not hide another's open one. Histograms
 * and percentiles are off; turn them on with a {@code MeterFilter}, as for any Micrometer timer.
 *
 * <p>The gauges (breaker states, adaptive limits and rates, throttle probabilities) show the
 * last value reported. For the per-host ones ({@code outrigger.inflight.limit},
 * {@code outrigger.ratelimit.rate}, {@code outrigger.throttle.probability}) that is the value of
 * whichever client sharing this instance reported last for the host (each has its own limit,
 * rate and throttle window, and listeners are not told which client reports), and for
 * {@code outrigger.ratelimit.rate} of whichever key of a keyed limit on the host was adapted
 * last: give each client an instance of its own, with distinct tags, to read them per client.
 * A client reports nothing once closed: {@link #close()} this instance
 * when the clients reporting to it are closed, and its gauges leave the registry (its counters
 * and timers stay, as history). After that it registers no gauge again.
 *
 * <p>This class is the only one in Outrigger that touches Micrometer, which is an optional
 * dependency: clients that do not use it need no Micrometer on the class path.
 */
public final class OutriggerMetrics implements CallListener, AutoCloseable {
  private static final Set<String> METHODS =
      Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT");
  /** The tag keys the meters set themselves, in the order the meters list them. */
  private static final java.util.List<String> OWN_TAG_KEYS =
      java.util.List.of("host", "method", "status", "outcome", "reason", "breaker", "from", "to");
  private static final int MAX_REASONS = 32;
  private static final int MAX_REASON_CHARS = 40;
  private static final AtomicLong INSTANCES = new AtomicLong();

  private final MeterRegistry registry;
  private final Tags tags;
  private final int maxHosts;
  private final BoundedValues hosts;
  private final BoundedValues breakers;
  private final BoundedValues reasons = new BoundedValues(MAX_REASONS);
  private final ConcurrentHashMap<String, BreakerStates> breakerStates =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, AtomicInteger> inFlightLimits = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, java.util.concurrent.atomic.AtomicLong> adaptiveRates =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, AtomicLong> throttleBits = new ConcurrentHashMap<>();
  // The hot meters, cached by their (bounded) tag values: no tag list built per call.
  private final ConcurrentHashMap<RequestKey, Timer> callTimers = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<RequestKey, Timer> attemptTimers = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, LongTaskTimer> activeTimers = new ConcurrentHashMap<>();
  /**
   * The call attribute that holds this instance's in-progress sample: one name per instance, so
   * that two instances on one client (one per registry, say) each stop their own.
   */
  private final String activeSample =
      OutriggerMetrics.class.getName() + ".active." + INSTANCES.incrementAndGet();

  private record RequestKey(String host, String method, String status, String outcome) {}

  /** The gauges registered so far, for {@link #close()}. */
  private final java.util.Queue<Gauge> gauges = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private volatile boolean closed;

  private final Meter.MeterProvider<Timer> calls;
  private final Meter.MeterProvider<Timer> attempts;
  private final Meter.MeterProvider<LongTaskTimer> active;
  private final Meter.MeterProvider<Counter> retries;
  private final Meter.MeterProvider<Timer> backoff;
  private final Meter.MeterProvider<Counter> budgetExhausted;
  private final Meter.MeterProvider<Timer> rateLimitWaits;
  private final Meter.MeterProvider<Counter> rateLimitRejections;
  private final Meter.MeterProvider<Counter> rateLimitPauses;
  private final Meter.MeterProvider<Timer> inFlightWaits;
  private final Meter.MeterProvider<Counter> breakerRejections;
  private final Meter.MeterProvider<Counter> breakerTransitions;

  private OutriggerMetrics(Builder b) {
    this.registry = b.registry;
    this.tags = b.tags;
    this.maxHosts = b.maxHosts;
    this.hosts = new BoundedValues(b.maxHosts);
    this.breakers = new BoundedValues(b.maxHosts);
    this.calls = Timer.builder("outrigger.calls").tags(tags)
        .description("Logical calls, from start to the caller's result, retries included")
        .withRegistry(registry);
    this.attempts = Timer.builder("outrigger.attempts").tags(tags)
        .description("Attempts sent to the network")
        .withRegistry(registry);
    this.active = LongTaskTimer.builder("outrigger.calls.active").tags(tags)
        .description("Calls in progress")
        .withRegistry(registry);
    this.retries = Counter.builder("outrigger.retries").tags(tags)
        .description("Retries scheduled, by the reason the previous attempt failed")
        .withRegistry(registry);
    this.backoff = Timer.builder("outrigger.retry.backoff").tags(tags)
        .description("The backoff chosen before each retry")
        .withRegistry(registry);
    this.budgetExhausted = Counter.builder("outrigger.retry.budget.exhausted").tags(tags)
        .description("Retries refused because the host's retry budget was spent")
        .withRegistry(registry);
    this.rateLimitWaits = Timer.builder("outrigger.ratelimit.waits").tags(tags)
        .description("Waits for a rate-limit permit")
        .withRegistry(registry);
    this.rateLimitRejections = Counter.builder("outrigger.ratelimit.rejections").tags(tags)
        .description("Attempts refused with RateLimitedException: by a rate limit (the wait for"
            + " a permit could not fit) or by the client-side throttle; a retry refused with a"
            + " wait longer than its deadline allows counts too, though its call ends with the"
            + " failure it was retrying")
        .withRegistry(registry);
    this.rateLimitPauses = Counter.builder("outrigger.ratelimit.pauses").tags(tags)
        .description("Times the server paused a rate-limit bucket (Retry-After, quota used up)")
        .withRegistry(registry);
    this.inFlightWaits = Timer.builder("outrigger.inflight.waits").tags(tags)
        .description("Waits for an in-flight slot to the host")
        .withRegistry(registry);
    this.breakerRejections = Counter.builder("outrigger.breaker.rejections").tags(tags)
        .description("Attempts refused by a circuit breaker")
        .withRegistry(registry);
    this.breakerTransitions = Counter.builder("outrigger.breaker.transitions").tags(tags)
        .description("Circuit breaker state transitions")
        .withRegistry(registry);
  }

  /** Metrics into {@code registry} with the defaults: no extra tags, at most 100 hosts. */
  public static OutriggerMetrics of(MeterRegistry registry) {
    return builder(registry).build();
  }

  /** A builder for metrics into {@code registry}. */
  public static Builder builder(MeterRegistry registry) {
    return new Builder(Objects.requireNonNull(registry, "registry"));
  }

  @Override
  public void callStart(CallContext call) {
    if (call.attribute(activeSample) != null) {
      // Told twice of one call (a client lists an instance once, but a listener of the user's
      // may pass events on to it): one sample per call, which the first callEnd stops.
      return;
    }
    String host = host(call);
    LongTaskTimer t = activeTimers.get(host);
    if (t == null) {
      t = active.withTags(Tags.of("host", host));
      LongTaskTimer prev = activeTimers.putIfAbsent(host, t);
      t = prev != null ? prev : t;
    }
    call.attribute(activeSample, t.start());
  }

  @Override
  public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
    if (call.attribute(activeSample) instanceof LongTaskTimer.Sample sample) {
      sample.stop();
      call.attribute(activeSample, null);
    }
    timer(callTimers, calls, call, status, error).record(elapsed);
  }

  @Override
  public void attemptEnd(CallContext call, int status, Throwable error, Duration elapsed) {
    timer(attemptTimers, attempts, call, status, error).record(elapsed);
  }

  private Timer timer(ConcurrentHashMap<RequestKey, Timer> cache, Meter.MeterProvider<Timer> meter,
      CallContext call, int status, Throwable error) {
    RequestKey k = new RequestKey(
        host(call), method(call), Outcome.status(status), Outcome.of(status, error));
    Timer t = cache.get(k);
    if (t == null) {
      t = meter.withTags(Tags.of("host", k.host, "method", k.method, "status", k.status,
          "outcome", k.outcome));
      Timer prev = cache.putIfAbsent(k, t);
      t = prev != null ? prev : t;
    }
    return t;
  }

  @Override
  public void retryScheduled(CallContext call, Duration delay, String reason) {
    String host = host(call);
    retries.withTags(Tags.of("host", host, "reason", reasons.bound(reason(reason)))).increment();
    backoff.withTags(Tags.of("host", host)).record(delay);
  }

  @Override
  public void retryBudgetExhausted(CallContext call) {
    budgetExhausted.withTags(Tags.of("host", host(call))).increment();
  }

  @Override
  public void rateLimitWaited(CallContext call, String key, Duration waited) {
    rateLimitWaits.withTags(Tags.of("host", host(call))).record(waited);
  }

  @Override
  public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
    rateLimitRejections.withTags(Tags.of("host", host(call))).increment();
  }

  @Override
  public void rateLimitPaused(CallContext call, String key, Duration pause) {
    rateLimitPauses.withTags(Tags.of("host", host(call))).increment();
  }

  @Override
  public void inFlightWaited(CallContext call, Duration waited) {
    inFlightWaits.withTags(Tags.of("host", host(call))).record(waited);
  }

  @Override
  public void breakerRejected(CallContext call, String key) {
    breakerRejections.withTags(Tags.of("breaker", breakers.bound(key))).increment();
  }

  @Override
  public void breakerTransition(String key, CircuitBreaker.State from, CircuitBreaker.State to) {
    String breaker = breakers.bound(key);
    breakerTransitions.withTags(Tags.of("breaker", breaker,
        "from", from.name().toLowerCase(Locale.ROOT), "to", to.name().toLowerCase(Locale.ROOT)))
        .increment();
    // A gauge of "other" would mix unrelated breakers: folded keys get counters only.
    if (breaker.equals(BoundedValues.OTHER)) {
      return;
    }
    BreakerStates states = breakerStates.get(breaker);
    if (states == null) {
      BreakerStates fresh = new BreakerStates();
      states = breakerStates.putIfAbsent(breaker, fresh);
      if (states == null) {
        states = fresh;
        gauge(() -> Gauge.builder("outrigger.breaker.state", fresh, BreakerStates::worst)
            .tags(tags).tag("breaker", breaker)
            .description("Circuit breaker state, the worst of the key's breakers: 0 closed, "
                + "1 half-open, 2 open, 3 forced open, -1 disabled")
            .strongReference(true)
            .register(registry));
      }
    }
    states.moved(from, to);
  }

  /**
   * How many breakers of one key (one per client reporting here: a derived client has its own)
   * are in each state but CLOSED, the state every breaker starts in. Each breaker reports its
   * transitions one at a time and in order, so its count moves from its last state to its new
   * one; breakers of several clients move their counts concurrently.
   */
  static final class BreakerStates {
    private final java.util.concurrent.atomic.AtomicIntegerArray counts =
        new java.util.concurrent.atomic.AtomicIntegerArray(CircuitBreaker.State.values().length);

    void moved(CircuitBreaker.State from, CircuitBreaker.State to) {
      // The new state first: a gauge read in between sees the breaker in both, never in neither.
      if (to != CircuitBreaker.State.CLOSED) {
        counts.incrementAndGet(to.ordinal());
      }
      if (from != CircuitBreaker.State.CLOSED) {
        // Never below zero, whatever a caller reports.
        counts.getAndUpdate(from.ordinal(), n -> n > 0 ? n - 1 : 0);
      }
    }

    /** The gauge's value: the worst state a breaker of the key is in (0 when all are closed). */
    double worst() {
      int worst = 0;
      boolean disabled = false;
      for (CircuitBreaker.State s : CircuitBreaker.State.values()) {
        if (s != CircuitBreaker.State.CLOSED && counts.get(s.ordinal()) > 0) {
          worst = Math.max(worst, stateValue(s));
          disabled |= s == CircuitBreaker.State.DISABLED;
        }
      }
      return worst == 0 && disabled ? stateValue(CircuitBreaker.State.DISABLED) : worst;
    }
  }

  @Override
  public void rateLimitAdapted(CallContext call, String key, double permitsPerSecond) {
    String h = hosts.bound(host(call));
    if (h.equals(BoundedValues.OTHER)) {
      return;
    }
    java.util.concurrent.atomic.AtomicLong bits = adaptiveRates.get(h);
    if (bits == null) {
      java.util.concurrent.atomic.AtomicLong fresh =
          new java.util.concurrent.atomic.AtomicLong(Double.doubleToLongBits(permitsPerSecond));
      bits = adaptiveRates.putIfAbsent(h, fresh);
      if (bits == null) {
        bits = fresh;
        gauge(() -> Gauge.builder("outrigger.ratelimit.rate", fresh,
                b -> Double.longBitsToDouble(b.get()))
            .tags(tags).tag("host", h)
            .description("Adaptive rate limit per host, permits per second")
            .strongReference(true)
            .register(registry));
      }
    }
    bits.set(Double.doubleToLongBits(permitsPerSecond));
  }

  @Override
  public void adaptiveLimitChanged(String host, int from, int to) {
    String h = hosts.bound(host);
    // A gauge of "other" would mix unrelated hosts.
    if (h.equals(BoundedValues.OTHER)) {
      return;
    }
    AtomicInteger limit = inFlightLimits.get(h);
    if (limit == null) {
      AtomicInteger fresh = new AtomicInteger(to);
      limit = inFlightLimits.putIfAbsent(h, fresh);
      if (limit == null) {
        limit = fresh;
        gauge(() -> Gauge.builder("outrigger.inflight.limit", fresh, AtomicInteger::get)
            .tags(tags).tag("host", h)
            .description("Adaptive in-flight limit per host")
            .strongReference(true)
            .register(registry));
      }
    }
    limit.set(to);
  }

  @Override
  public void throttleProbability(String host, double probability, long requests, long accepts) {
    String h = hosts.bound(host);
    if (h.equals(BoundedValues.OTHER)) {
      return;
    }
    AtomicLong bits = throttleBits.get(h);
    if (bits == null) {
      AtomicLong fresh = new AtomicLong(Double.doubleToLongBits(probability));
      bits = throttleBits.putIfAbsent(h, fresh);
      if (bits == null) {
        bits = fresh;
        gauge(() -> Gauge.builder("outrigger.throttle.probability", fresh,
                b -> Double.longBitsToDouble(b.get()))
            .tags(tags).tag("host", h)
            .description("Client-side throttle rejection probability per host")
            .strongReference(true)
            .register(registry));
      }
    }
    bits.set(Double.doubleToLongBits(probability));
  }

  /**
   * Registers the gauge {@code register} makes, unless closed, and keeps it for
   * {@link #close()} (which a racing close may already have run: then it goes at once).
   */
  private void gauge(java.util.function.Supplier<Gauge> register) {
    if (closed) {
      return;
    }
    Gauge g = register.get();
    gauges.add(g);
    if (closed) {
      registry.remove(g);
    }
  }

  /**
   * Removes this instance's gauges from the registry, whose last values would otherwise be
   * read for ever, and registers none after. Counters and timers stay. Closing twice is
   * harmless.
   */
  @Override
  public void close() {
    closed = true;
    for (Gauge g; (g = gauges.poll()) != null; ) {
      registry.remove(g);
    }
  }

  /** The gauge value of a breaker state: larger is worse, disabled is -1. */
  static int stateValue(CircuitBreaker.State state) {
    return switch (state) {
      case CLOSED -> 0;
      case HALF_OPEN -> 1;
      case OPEN -> 2;
      case FORCED_OPEN -> 3;
      case DISABLED -> -1;
    };
  }

  private String host(CallContext call) {
    return hosts.bound(call.host());
  }

  private static String method(CallContext call) {
    String m = call.method();
    return METHODS.contains(m) ? m : "OTHER";
  }

  /**
   * A reason as a short lower-case word: its text before any ',' or '(' (where details such as
   * a Retry-After value or a breaker's name start), in letters, digits, '_' and '.', at most 40
   * characters: {@code "HTTP 503, Retry-After 2 s"} is {@code http_503}.
   */
  static String reason(String reason) {
    if (reason == null) {
      return "unknown";
    }
    int cut = reason.length();
    for (int i = 0; i < reason.length(); i++) {
      char c = reason.charAt(i);
      if (c == ',' || c == '(') {
        cut = i;
        break;
      }
    }
    String head = reason.substring(0, cut).strip();
    if (head.isEmpty()) {
      return "unknown";
    }
    int n = Math.min(head.length(), MAX_REASON_CHARS);
    StringBuilder sb = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      char c = Character.toLowerCase(head.charAt(i));
      sb.append((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ? c : '_');
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return "OutriggerMetrics[" + registry.getClass().getSimpleName() + ", tags " + tags
        + ", maxHosts " + maxHosts + "]";
  }

  /**
   * Configures {@link OutriggerMetrics}. Not thread-safe; {@link #build()} copies the settings.
   */
  public static final class Builder {
    private final MeterRegistry registry;
    private Tags tags = Tags.empty();
    private int maxHosts = 100;

    private Builder(MeterRegistry registry) {
      this.registry = registry;
    }

    /**
     * Tags added to every meter, as key/value pairs, for example {@code "client", "billing"}
     * (default none). Adds to tags set before.
     *
     * @throws IllegalArgumentException if the count is odd, a key or value is null or blank, or
     *     a key is one the meters set themselves ({@code host}, {@code method}, {@code status},
     *     {@code outcome}, {@code reason}, {@code breaker}, {@code from}, {@code to}), which
     *     would replace it on some meters and not on others; nothing is added then
     */
    public Builder tags(String... keyValues) {
      Objects.requireNonNull(keyValues, "keyValues");
      if (keyValues.length % 2 != 0) {
        throw new IllegalArgumentException(
            "tags must be key/value pairs, but " + keyValues.length + " strings were given");
      }
      for (int i = 0; i < keyValues.length; i += 2) {
        String key = keyValues[i];
        if (key == null || key.isBlank()) {
          throw new IllegalArgumentException(
              "tag keys must not be null or blank, but key " + i / 2 + " was " + quoted(key));
        }
        if (OWN_TAG_KEYS.contains(key)) {
          throw new IllegalArgumentException("tag key '" + key + "' is one OutriggerMetrics "
              + "sets itself (" + String.join(", ", OWN_TAG_KEYS) + "): it would be replaced "
              + "on some meters and not on others; choose another key, such as 'client'");
        }
        if (keyValues[i + 1] == null || keyValues[i + 1].isBlank()) {
          throw new IllegalArgumentException("tag values must not be null or blank, but the "
              + "value of '" + key + "' was " + quoted(keyValues[i + 1]));
        }
      }
      this.tags = tags.and(keyValues);
      return this;
    }

    private static String quoted(String s) {
      return s == null ? "null" : "'" + s + "'";
    }

    /**
     * The most distinct hosts (and, separately, breaker keys) that get their own tag value
     * (default 100); the rest are tagged {@code other}.
     *
     * @throws IllegalArgumentException if {@code maxHosts < 1}
     */
    public Builder maxHosts(int maxHosts) {
      if (maxHosts < 1) {
        throw new IllegalArgumentException("maxHosts must be at least 1, but was " + maxHosts);
      }
      this.maxHosts = maxHosts;
      return this;
    }

    /** A new listener with these settings; add it to a client with {@code addListener}. */
    public OutriggerMetrics build() {
      return new OutriggerMetrics(this);
    }
  }
}
