package dev.outrigger;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outrigger.internal.Closing;
import dev.outrigger.internal.Durations;
import dev.outrigger.internal.ExceptionAccess;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.breaker.BreakerInterceptor;
import dev.outrigger.internal.bulkhead.InFlightLimiter;
import dev.outrigger.internal.deadline.DeadlineInterceptor;
import dev.outrigger.internal.http.AuthInterceptors;
import dev.outrigger.internal.http.BufferedBody;
import dev.outrigger.internal.http.CancellableDns;
import dev.outrigger.internal.http.Charsets;
import dev.outrigger.internal.http.DeadlineWatchdog;
import dev.outrigger.internal.http.Json;
import dev.outrigger.internal.http.NetworkInterceptor;
import dev.outrigger.internal.http.SharedTransport;
import dev.outrigger.internal.http.Transport;
import dev.outrigger.internal.http.Urls;
import dev.outrigger.internal.http.WatchdogKeeper;
import dev.outrigger.internal.jfr.JfrListener;
import dev.outrigger.internal.ratelimit.RateLimitInterceptor;
import dev.outrigger.internal.ratelimit.SharedRateLimitInterceptor;
import dev.outrigger.internal.retry.RetryInterceptor;
import dev.outrigger.internal.throttle.ThrottleInterceptor;
import java.io.IOException;
import java.net.Proxy;
import java.nio.charset.Charset;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.CertificatePinner;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A resilient HTTP client over one pooled OkHttp transport. Build one, share it across threads,
 * and close it when the application stops; derive variants with {@link #newBuilder()}, which
 * share the connection pool.
 *
 * {@snippet :
 * try (ApiClient client = ApiClient.builder().baseUrl("https://api.example.com/v1").build()) {
 *   Post p = client.get("/posts/{id}", 42).execute(Post.class);
 * }
 * }
 *
 * <p>Every call runs through one policy chain, outer to inner:
 * <pre>
 * Deadline( call interceptors( [AuthRefreshOn401]( Retry( CircuitBreaker( [ClientThrottle](
 *     RateLimiter( InFlightLimit( [Auth]( attempt interceptors( OkHttp )))))))))))
 * </pre>
 * (The steps in brackets are there only when set; the two auth steps with {@link Builder#auth}.
 * {@link #describe()} prints the chain a client runs.)
 * The deadline bounds the whole call, waits and retries included; the retry policy re-runs
 * everything inside it once per attempt, so every attempt is checked by the breaker, takes a
 * rate-limit permit and an in-flight slot. An open breaker refuses before a permit is taken.
 * The optional client-side throttle ({@link Builder#clientThrottling}) sits between them, and
 * the in-flight limit may be adaptive ({@link Builder#adaptiveConcurrency}).
 *
 * <p>Defaults, for a client built with nothing but a base URL: a 10 s deadline per call; 3
 * attempts for idempotent calls on transient failures (connect errors, resets, 408, 429, 500,
 * 502, 503, 504) with full-jitter backoff from 100 ms to 2 s, within a per-host retry budget; a
 * per-host circuit breaker (100-call window, opens at 50% failures after 20 calls, 5 s open);
 * no rate limit; at most 1024 calls in flight per host; 128 idle pooled connections kept for
 * 60 s; 2 s connect timeout; bodies up to 16 MiB. README lists them all with the reasons.
 *
 * <p>Thread-safe and immutable. {@link #close()} releases the pool (when no derived client still
 * uses it) and stops every thread the client started (a fetch of fresh credentials, when no
 * other client shares its {@link Builder#auth Auth}); it is harmless to call twice.
 */
public final class ApiClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ApiClient.class);
  private static final Set<String> IDEMPOTENT_METHODS =
      Set.of("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "QUERY");

  private final Builder settings;
  private final HttpUrl baseUrl;
  /**
   * Resolved URLs of argument-free paths ({@code client.get("/health")}), so the common constant
   * path skips expansion and {@code HttpUrl} canonicalisation on every call. Bounded: once full,
   * further paths are resolved each time (a path built by string concatenation cannot grow it).
   */
  private final ConcurrentHashMap<String, Resolved> constantPaths = new ConcurrentHashMap<>();
  private static final int MAX_CONSTANT_PATHS = 256;
  /** The path arguments of a verb helper called without any. */
  private static final Object[] NO_ARGS = new Object[0];
  /** The User-Agent header alone, built once; null when no User-Agent is set. */
  private final Headers userAgentHeaders;
  private final SharedTransport transport;
  private final OkHttpClient okhttp;
  private final ObjectMapper mapper;
  private final Redactor redactor;
  private final CallListener listener;
  /** Whether the user added listeners: their callStart may take any time. */
  private final boolean userListeners;
  /** Whether the listener reads the elapsed times of call ends (see JfrListener). */
  private final boolean timedListener;
  private final NanoClock clock;
  /** {@link #clock} as the supplier deadlines read, made once rather than per call. */
  private final java.util.function.LongSupplier nanos;
  /** The default deadline's length in nanoseconds, saturated as {@link Deadline} does. */
  private final long defaultDeadlineNanos;
  /**
   * Makes a call's own deadline, at an instant of {@link #nanos}, when its context is first
   * asked for it: most calls never are.
   */
  private final java.util.function.LongFunction<Deadline> ownDeadline;
  private final PolicyChain chain;
  private final BreakerInterceptor breakers;
  private final RateLimitInterceptor rateLimiter;
  private final Closing closed;
  private static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration DEFAULT_IO_TIMEOUT = Duration.ofSeconds(30);

  private ApiClient(Builder b, HttpUrl baseUrl, SharedTransport transport, OkHttpClient okhttp,
      Redactor redactor, Closing closed) {
    this.settings = b.copy();
    this.closed = closed;
    this.userAgentHeaders =
        settings.userAgent == null ? null : Headers.of("User-Agent", settings.userAgent);
    this.baseUrl = transport.owned() && baseUrl != null
        ? Urls.withoutCredentials(baseUrl, "baseUrl ", redactor) : baseUrl;
    this.transport = transport;
    this.okhttp = okhttp;
    this.mapper = b.objectMapper != null ? b.objectMapper
        : b.defaultMapper != null ? b.defaultMapper : Json.defaultMapper();
    this.redactor = redactor;
    this.clock = b.clock;
    // The quiet minute between logs of a listener's throws, on the client's clock like all its
    // other time (read on a throw only).
    this.listener = Listeners.of(JfrListener.appendTo(b.listeners), clock);
    this.userListeners = !b.listeners.isEmpty();
    this.timedListener = !JfrListener.ignoresElapsed(listener);
    this.nanos = clock::nanoTime;
    this.defaultDeadlineNanos = Deadline.saturatedNanos(settings.deadline);
    this.ownDeadline = at -> Deadline.at(at, nanos);

    List<CallInterceptor> list = new ArrayList<>();
    list.add(new DeadlineInterceptor(b.deadline));
    list.addAll(b.callInterceptors);
    if (b.refresher != null) {
      list.add(AuthInterceptors.refresh(b.refresher, baseUrl));
    }
    list.add(new RetryInterceptor(b.retry, clock));
    this.breakers = new BreakerInterceptor(b.circuitBreaker, clock, listener);
    list.add(breakers);
    if (b.clientThrottlingK > 0) {
      list.add(new ThrottleInterceptor(b.clientThrottlingK, clock));
    }
    if (b.rateLimit != null) {
      if (b.rateLimit.store() != null) {
        list.add(new SharedRateLimitInterceptor(b.rateLimit, b.rateLimit.store(), clock));
        this.rateLimiter = null;
      } else {
        this.rateLimiter = new RateLimitInterceptor(b.rateLimit, clock);
        list.add(rateLimiter);
      }
    } else {
      this.rateLimiter = null;
    }
    list.add(b.adaptiveConcurrency != null
        ? new InFlightLimiter(b.adaptiveConcurrency, clock)
        : new InFlightLimiter(b.maxInFlightPerHost, clock));
    if (b.refresher != null) {
      list.add(AuthInterceptors.stamp(b.refresher, baseUrl));
    }
    list.addAll(b.attemptInterceptors);
    // With no user code anywhere between the client and the transport (no listener, no
    // interceptor of the user's, nothing that blocks), the transport may date its attempt from
    // the call's latest clock reading instead of taking one of its own.
    boolean noUserCode = !userListeners
        && list.stream().allMatch(i -> i instanceof dev.outrigger.internal.KeepsClock);
    // With no user code that sees responses (an interceptor, a retryOnResponse predicate, an
    // auth refresh), nothing reads a body between the transport and the decoder: the transport
    // need not copy it (listeners never see bodies).
    boolean noOneReadsBodies = b.callInterceptors.isEmpty() && b.attemptInterceptors.isEmpty()
        && b.retry.retryOnResponse() == null && b.refresher == null;
    list.add(new Transport(okhttp, b.attemptTimeout, b.maxResponseBytes, b.deadlineHeader,
        noUserCode, noOneReadsBodies, closed, transport));
    this.chain = new PolicyChain(list, closed);
    WatchdogKeeper.acquire();
    try {
      DeadlineWatchdog.acquire();
    } catch (RuntimeException | Error e) {
      // No client to close it: what this one took is given back here (build() gives back the
      // transport).
      WatchdogKeeper.release();
      throw e;
    }
    if (b.refresher != null) {
      b.refresher.acquire();
    }
  }

  /** A builder with every default. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A builder holding this client's settings whose {@code build()} makes a client that shares
   * this one's connection pool and dispatcher (unless it is given another
   * {@link Builder#okHttpClient}, which it then sends with). Policy state (rate-limit buckets,
   * breakers, retry budgets) is not shared: the derived client starts its own. The fetches of
   * fresh credentials are, while it keeps this one's {@link Builder#auth Auth} (see there). The
   * settings include this client's interceptors and listeners, which
   * {@link Builder#clearInterceptors()} and {@link Builder#clearListeners()} drop.
   */
  public Builder newBuilder() {
    Builder b = settings.copy();
    // The parent's default mapper, with the serializers it has learnt: a client derived per
    // tenant or per deadline does not build and warm one of its own. Kept apart from
    // objectMapper, so that objectMapper(null) on a child of a parent given a mapper of its own
    // goes back to a default one.
    b.defaultMapper = settings.objectMapper == null ? mapper : null;
    b.parentTransport = transport;
    b.parentRefresher = settings.refresher;
    b.derivedFrom = transport;
    b.parentClient = okhttp;
    b.poolSet = false;
    return b;
  }

  /** A GET of {@code pathOrUrl}, its {@code {name}} placeholders filled with {@code pathArgs}. */
  public ApiRequest get(String pathOrUrl, Object... pathArgs) {
    return build("GET", pathOrUrl, pathArgs);
  }

  /**
   * A GET of {@code pathOrUrl} with no path arguments: the same as
   * {@link #get(String, Object...)} given none, without the empty array that each call of
   * it makes.
   */
  public ApiRequest get(String pathOrUrl) {
    return build("GET", pathOrUrl, NO_ARGS);
  }

  /** A POST of {@code pathOrUrl}, its {@code {name}} placeholders filled with {@code pathArgs}. */
  public ApiRequest post(String pathOrUrl, Object... pathArgs) {
    return build("POST", pathOrUrl, pathArgs);
  }

  /**
   * A POST of {@code pathOrUrl} with no path arguments: the same as
   * {@link #post(String, Object...)} given none, without the empty array that each call of
   * it makes.
   */
  public ApiRequest post(String pathOrUrl) {
    return build("POST", pathOrUrl, NO_ARGS);
  }

  /** A PUT of {@code pathOrUrl}, its {@code {name}} placeholders filled with {@code pathArgs}. */
  public ApiRequest put(String pathOrUrl, Object... pathArgs) {
    return build("PUT", pathOrUrl, pathArgs);
  }

  /**
   * A PUT of {@code pathOrUrl} with no path arguments: the same as
   * {@link #put(String, Object...)} given none, without the empty array that each call of
   * it makes.
   */
  public ApiRequest put(String pathOrUrl) {
    return build("PUT", pathOrUrl, NO_ARGS);
  }

  /** A PATCH of {@code pathOrUrl}, its {@code {name}} placeholders filled with {@code pathArgs}. */
  public ApiRequest patch(String pathOrUrl, Object... pathArgs) {
    return build("PATCH", pathOrUrl, pathArgs);
  }

  /**
   * A PATCH of {@code pathOrUrl} with no path arguments: the same as
   * {@link #patch(String, Object...)} given none, without the empty array that each call of
   * it makes.
   */
  public ApiRequest patch(String pathOrUrl) {
    return build("PATCH", pathOrUrl, NO_ARGS);
  }

  /**
   * A DELETE of {@code pathOrUrl}, its {@code {name}} placeholders filled with {@code pathArgs}.
   */
  public ApiRequest delete(String pathOrUrl, Object... pathArgs) {
    return build("DELETE", pathOrUrl, pathArgs);
  }

  /**
   * A DELETE of {@code pathOrUrl} with no path arguments: the same as
   * {@link #delete(String, Object...)} given none, without the empty array that each call of
   * it makes.
   */
  public ApiRequest delete(String pathOrUrl) {
    return build("DELETE", pathOrUrl, NO_ARGS);
  }

  /** A HEAD of {@code pathOrUrl}, its {@code {name}} placeholders filled with {@code pathArgs}. */
  public ApiRequest head(String pathOrUrl, Object... pathArgs) {
    return build("HEAD", pathOrUrl, pathArgs);
  }

  /**
   * A HEAD of {@code pathOrUrl} with no path arguments: the same as
   * {@link #head(String, Object...)} given none, without the empty array that each call of
   * it makes.
   */
  public ApiRequest head(String pathOrUrl) {
    return build("HEAD", pathOrUrl, NO_ARGS);
  }

  /**
   * A request with any method. {@code pathOrUrl} is appended to the base URL's path
   * ({@code /v1} + {@code /posts} is {@code /v1/posts}), unless it is an absolute http(s) URL,
   * which is used as is. Each {@code {name}} placeholder takes the next argument, percent-encoded
   * as exactly one path segment.
   *
   * @throws IllegalArgumentException if {@code method} is not a method name (an HTTP token:
   *     letters, digits and {@code !#$%&'*+-.^_`|~}; it is sent upper-cased), {@code pathOrUrl}
   *     is null, placeholders and arguments do not match, an argument is null, the result is not
   *     a valid URL, or a relative path is used without a base URL
   * @throws NullPointerException if {@code method} is null
   */
  public ApiRequest request(String method, String pathOrUrl, Object... pathArgs) {
    Objects.requireNonNull(method, "method");
    String m = method;
    if (!isUpperCaseToken(m)) {
      m = method.toUpperCase(Locale.ROOT);
      if (!isUpperCaseToken(m)) {
        throw new IllegalArgumentException("not an HTTP method: '" + method + "'"
            + (method.isEmpty() ? "" : ": a method is one token of letters, digits and"
                + " !#$%&'*+-.^_`|~, with no space"));
      }
    }
    return build(m, pathOrUrl, pathArgs);
  }

  /**
   * A request with any method, of {@code pathOrUrl} with no path arguments: the same as
   * {@link #request(String, String, Object...)} given none, without the empty array that each
   * call of it makes.
   *
   * @throws IllegalArgumentException as {@link #request(String, String, Object...)} does
   * @throws NullPointerException if {@code method} is null
   */
  public ApiRequest request(String method, String pathOrUrl) {
    return request(method, pathOrUrl, NO_ARGS);
  }

  /**
   * {@link #request} with {@code m} already a method name as sent: the verb helpers pass their
   * own constants, which need no check on every call.
   */
  private ApiRequest build(String m, String pathOrUrl, Object... pathArgs) {
    if (pathOrUrl == null) {
      throw new IllegalArgumentException("path or URL must not be null");
    }
    if (pathArgs == null || pathArgs.length == 0) {
      Resolved known = constantPaths.get(pathOrUrl);
      if (known == null) {
        known = new Resolved(credentialsChecked(
            Urls.resolve(baseUrl, Urls.expand(redactor, pathOrUrl), redactor)));
        if (constantPaths.size() < MAX_CONSTANT_PATHS) {
          Resolved raced = constantPaths.putIfAbsent(pathOrUrl, known);
          known = raced == null ? known : raced;
        }
      }
      return new ApiRequest(this, m, known);
    }
    return new ApiRequest(this, m, credentialsChecked(
        Urls.resolve(baseUrl, Urls.expand(redactor, pathOrUrl, pathArgs), redactor)));
  }

  /** {@code url}, refused when it carries credentials this client would drop. */
  private HttpUrl credentialsChecked(HttpUrl url) {
    return transport.owned() ? Urls.withoutCredentials(url, "", redactor) : url;
  }

  /**
   * An argument-free path resolved once, and the plain GET of it built once: a call that adds no
   * header, query, body or key sends that very {@code Request} (OkHttp's requests are immutable,
   * and nothing of the call's rides on them).
   */
  static final class Resolved {
    final HttpUrl url;
    /** The URL's {@code host:port} key, the default key of every per-host policy. */
    final String hostKey;
    /** Built on first use; a race builds two equal requests, either is fine. */
    private Request get;

    Resolved(HttpUrl url) {
      this.url = url;
      this.hostKey = RealCallContext.hostKey(url);
    }

    Request get(ApiClient client) {
      Request r = get;
      if (r == null) {
        Request.Builder rb = new Request.Builder().url(url);
        if (client.userAgentHeaders != null) {
          rb.headers(client.userAgentHeaders);
        }
        r = rb.build();
        get = r;
      }
      return r;
    }
  }

  /**
   * Whether {@code s} is an HTTP token (RFC 9110: letters, digits and
   * {@code !#$%&'*+-.^_`|~}, as in WebDAV's {@code VERSION-CONTROL}) with no lower-case letter.
   */
  private static boolean isUpperCaseToken(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c < 'A' || c > 'Z') && (c < '0' || c > '9') && "!#$%&'*+-.^_`|~".indexOf(c) < 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * The circuit breaker for {@code key} (with the default key function, the target's
   * {@code host:port}, for example {@code "api.example.com:443"}), to inspect it or to force it
   * open, disable it or reset it by hand. Looking creates nothing: a key with no breaker yet reads
   * as closed with an empty window; forcing it open or disabling it creates its breaker.
   *
   * @throws IllegalArgumentException when breakers are keyed by host (no
   *     {@link CircuitBreaker.Builder#keyedBy}), for a key no call can have: one without its port
   *     ({@code "api.example.com"}), a URL, or a host not written as {@link CallContext#host()}
   *     writes it (lower case, an IPv6 literal in brackets); with a key function of your own, any
   *     key is taken
   * @throws NullPointerException if {@code key} is null
   */
  public CircuitBreaker.Handle breaker(String key) {
    Objects.requireNonNull(key, "key must not be null: give the breaker's key (by default "
        + "host:port, e.g. api.example.com:443)");
    if (settings.circuitBreaker.keyedByHost()) {
      checkHostKey(key);
    }
    return breakers.breaker(key);
  }

  /**
   * Refuses {@code key} unless it is a {@code host:port} as calls' keys are written
   * ({@link RealCallContext#hostKey}): a handle of any other key would look at, or force open, a
   * breaker no call ever uses (forcing it open would stop nothing).
   */
  private void checkHostKey(String key) {
    HttpUrl asHost = HttpUrl.parse("http://" + key + "/");
    String canonical = asHost == null ? null : RealCallContext.hostKey(asHost);
    if (key.equals(canonical)) {
      return;
    }
    HttpUrl asUrl = HttpUrl.parse(key);
    String authority = key.split("[/?#]", 2)[0];
    // The host:port the caller meant, when the key says it: a URL's, or the key written
    // otherwise than calls write it (upper case, a path after it). Without a port, any guess
    // (80? 443?) could name the wrong breaker.
    String meant = asUrl != null ? RealCallContext.hostKey(asUrl)
        : canonical != null && authority.matches(".*:[0-9]+") ? canonical : null;
    throw new IllegalArgumentException("breaker key '" + redactor.text(key) + "' is not one a "
        + "call can have: this client keys its breakers by host, and keys are host:port, e.g. "
        + "127.0.0.1:8080 or api.example.com:443 (the port always written, an IPv6 host in "
        + "brackets: [::1]:8080), as CallContext.host() gives them; from a URL, take "
        + "HttpUrl.get(url) and its host() + \":\" + port()"
        + (meant == null ? "" : "; for this one, " + meant));
  }

  /**
   * The live rate limiter behind {@link Builder#rateLimit}, to change a key's rate and burst while
   * the client runs ({@link RateLimiter#reconfigure(String, RateLimit)}), pause a key, or read its
   * permits. Empty when the client has no rate limit or keeps it in a shared store.
   */
  public java.util.Optional<RateLimiter> rateLimiter() {
    return java.util.Optional.ofNullable(rateLimiter).map(RateLimitInterceptor::limiter);
  }

  /** A snapshot of every breaker this client holds: state, failure and slow-call rates, calls. */
  public List<CircuitBreaker.Snapshot> breakers() {
    return breakers.snapshots();
  }

  /**
   * The OkHttp client this client sends with (for sharing its pool with other code). It holds
   * this client's network interceptor: once this client is closed, it (and any OkHttp client
   * made from it with OkHttp's own {@code newBuilder()}) writes no new call's request. For raw
   * calls that outlive this client, build on the {@code OkHttpClient} you supplied instead.
   */
  public OkHttpClient okHttpClient() {
    return okhttp;
  }

  /**
   * The JSON mapper in use: the one given with {@code objectMapper(...)}, or the default. The
   * default is set for response bodies this client has already bounded: it has no limit on a
   * string's length (the body's {@code maxResponseBytes} bounds it), and it refuses anything but
   * whitespace after a value ({@code FAIL_ON_TRAILING_TOKENS}, so reading several values from
   * one parser, as NDJSON, fails). Reusing it for other untrusted input, give that input a bound
   * of its own, or use a mapper of your own. It reads and writes {@code java.time} values as
   * ISO-8601 strings ({@code JavaTimeModule}, {@code WRITE_DATES_AS_TIMESTAMPS} and
   * {@code WRITE_DURATIONS_AS_TIMESTAMPS} off).
   *
   * <p>Each client built with {@link ApiClient#builder()} and no mapper makes a default of its
   * own; a client derived with {@link #newBuilder()} shares its parent's mapper, whichever it is
   * (configuring one configures the other), unless its builder is given another, or null: the
   * default, which is the parent's when the parent has the default, else a new one. For other
   * settings, give a copy:
   * {@code objectMapper(client.mapper().copy().registerModule(...))}.
   */
  public ObjectMapper mapper() {
    return mapper;
  }

  /** The effective chain and its settings, one policy per line. */
  public String describe() {
    return "ApiClient " + (baseUrl == null ? "(no base URL)" : redactor.url(baseUrl)) + "\n"
        + chain.interceptors().stream().map(i -> "  -> " + i)
            .collect(Collectors.joining("\n"))
        + "\n  pool: " + (transport.owned()
            ? settings.maxIdleConnections + " idle connections kept " + keptFor(settings.keepAlive)
            : "the supplied OkHttpClient's")
        + "; connect timeout " + Duration.ofMillis(okhttp.connectTimeoutMillis())
        + ", read " + Duration.ofMillis(okhttp.readTimeoutMillis())
        + ", write " + Duration.ofMillis(okhttp.writeTimeoutMillis())
        + (okhttp.callTimeoutMillis() == 0 ? ""
            : ", OkHttp call timeout " + Duration.ofMillis(okhttp.callTimeoutMillis()));
  }

  /**
   * {@code keepAlive} as {@link #describe()} shows it: whole seconds, else milliseconds, else
   * as {@link Duration#toString()} (under a millisecond).
   */
  private static String keptFor(Duration keepAlive) {
    if (keepAlive.compareTo(Duration.ofDays(36_500)) > 0) {
      return "without limit";
    }
    if (keepAlive.compareTo(Duration.ofMillis(1)) < 0) {
      return keepAlive.toString();
    }
    long millis = keepAlive.toMillis();
    return millis % 1000 == 0 ? millis / 1000 + " s"
        : Duration.ofMillis(millis).equals(keepAlive) ? millis + " ms" : keepAlive.toString();
  }

  @Override
  public String toString() {
    return describe();
  }

  /**
   * Releases the connection pool when no client derived with {@link #newBuilder()} still uses
   * it, and stops the dispatcher's threads. Calls after close fail with
   * {@link IllegalStateException}. A call under way finishes the attempt it has sent, but sends
   * no new one: a call waiting in a backoff, or for a rate-limit permit or an in-flight slot,
   * stops waiting at once and fails with a {@code CANCELLED} {@link TransportException}, its
   * thread's interrupt status left as it was. Once the pool is released each connection is
   * closed as its attempt ends. Each of this client's circuit breakers that is open,
   * half-open, forced open or disabled is closed, and listeners hear of it as a transition to
   * CLOSED (so a metrics gauge shared with other clients stops showing it); an attempt that
   * finishes afterwards counts no failure. Closing twice is harmless.
   */
  @Override
  public void close() {
    // Closing.close() is true, or throws (a wait's close hook threw), for the one close() that
    // closes: that one releases, after every hook ran; another returns at once.
    boolean closing = true;
    try {
      closing = closed.close();
    } finally {
      if (closing) {
        try {
          breakers.clientClosed();
        } finally {
          transport.release();
          WatchdogKeeper.release();
          DeadlineWatchdog.release();
          if (settings.refresher != null) {
            settings.refresher.release();
          }
        }
      }
    }
  }

  Redactor redactor() {
    return redactor;
  }

  /**
   * Sends {@code req}: the whole {@link ApiResponse} when {@code full}, else the body alone (no
   * response object, and no clock reading for its elapsed time unless a listener wants one).
   */
  @SuppressWarnings("unchecked")
  <R> R run(ApiRequest req, JavaType type, boolean full) {
    if (closed.isClosed()) {
      throw new IllegalStateException("this ApiClient is closed");
    }
    long now = clock.nanoTime();
    // The call's own deadline, on the client's clock, as Deadline.after(timeout, nanos, now)
    // would date it; the Deadline object itself is made only if something asks for it
    // (CallContext.deadline(): a failure, a wait, an interceptor of the user's), from this
    // very instant and clock (RealCallContext).
    long remaining = req.deadline() != null
        ? Deadline.saturatedNanos(req.deadline()) : defaultDeadlineNanos;
    Deadline deadline = null;
    Deadline scope = Deadline.currentOrNull();
    if (scope != null) {
      // The caller's scope may run on another clock than the client's: compare what each has
      // left on its own.
      long scopeLeft = scope.remainingNanos();
      if (scopeLeft < remaining) {
        deadline = scope;
        remaining = scopeLeft;
      }
    }

    String key = req.idempotencyKey();
    String method = req.method();
    boolean idempotentMethod = IDEMPOTENT_METHODS.contains(method);
    if (key == null && settings.generateIdempotencyKeys && !idempotentMethod) {
      key = UUID.randomUUID().toString();
    }
    boolean idempotent = idempotentMethod || key != null || req.isRetryable();
    HttpUrl url = req.url();
    RealCallContext ctx = new RealCallContext(method, url, req.hostKey(), deadline,
        now + remaining, idempotent, clock, now, listener, redactor,
        deadline == null ? ownDeadline : null);
    if (type.getRawClass() == Void.class || type.getRawClass() == void.class) {
      ctx.discardBody();
    }
    if (req.attributes() != null) {
      req.attributes().forEach(ctx::attribute);
    }

    Request request = request(req, method, url, key, idempotent);
    listener.callStart(ctx);
    if (userListeners) {
      ctx.staleClock();
    }
    int status = -1;
    boolean ended = false;
    try {
      Response response = chain.proceed(ctx, request);
      try (response) {
        status = response.code();
        if (!Failures.isSuccess(status)) {
          // After retried failures (a 503, then a 404 not worth retrying), they go with it.
          throw RetryInterceptor.endedAfterRetries(Failures.statusException(response, ctx), ctx);
        }
        Object value;
        try {
          value = decode(response, type, ctx);
        } catch (DeserializationException e) {
          // After retried failures (a 503, then a body that cannot be mapped), as a status is.
          throw RetryInterceptor.endedAfterRetries(e, ctx);
        }
        Duration elapsed = full || timedListener ? elapsed(ctx) : null;
        // Ended: a listener that throws past its isolation (an Error) is not told twice.
        ended = true;
        listener.callEnd(ctx, status, null, elapsed);
        return full
            ? (R) new ApiResponse<>(status, response.headers(), value, ctx.attemptsSent(), elapsed)
            : (R) value;
      }
    } catch (ApiException e) {
      ExceptionAccess.finish(e, ctx.attemptsSent(), null);
      if (status < 0 && e instanceof HttpStatusException h) {
        // Retries ran out on a status: the retry policy throws it rather than return it, and
        // it is the status the call ended with (metrics, JFR).
        status = h.status();
      } else if (status < 0 && e instanceof DeserializationException) {
        // A body the transport refused as too large: its status arrived.
        status = ctx.refusedStatus();
      }
      listener.callEnd(ctx, status, e, timedListener ? elapsed(ctx) : null);
      throw e;
    } catch (Throwable e) {
      // Unchecked, or a checked exception an interceptor of the user's threw undeclared (Kotlin,
      // a sneaky throw): the call ends in every account all the same.
      if (!ended) {
        listener.callEnd(ctx, status, e, timedListener ? elapsed(ctx) : null);
      }
      throw e;
    }
  }

  private Duration elapsed(RealCallContext ctx) {
    return Duration.ofNanos(clock.nanoTime() - ctx.startNanos());
  }

  /**
   * The OkHttp request of {@code req}: its GET template when nothing was added to it. One that
   * is not {@code idempotent} is tagged to be sent once ({@link NetworkInterceptor#SEND_ONCE}).
   */
  private Request request(
      ApiRequest req, String method, HttpUrl url, String key, boolean idempotent) {
    Headers headers = req.headers();
    RequestBody body = req.body();
    Request template = req.template();
    if (template != null && headers == null && key == null && body == null) {
      return template;
    }
    Request.Builder rb = new Request.Builder().url(url);
    if (headers != null) {
      rb.headers(headers);
      if (userAgentHeaders != null && headers.get("User-Agent") == null) {
        rb.header("User-Agent", settings.userAgent);
      }
    } else if (userAgentHeaders != null) {
      rb.headers(userAgentHeaders);
    }
    if (key != null) {
      rb.header("Idempotency-Key", key);
    }
    if (body == null && requiresBody(method)) {
      body = RequestBody.create(new byte[0], null);
    }
    if (!idempotent) {
      rb.tag(NetworkInterceptor.SEND_ONCE, NetworkInterceptor.SEND_ONCE_VALUE);
    }
    return rb.method(method, body).build();
  }

  /**
   * Whether OkHttp refuses {@code method} without a body (its {@code HttpMethod
   * .requiresRequestBody}, as of OkHttp 5.5: {@code QUERY} too): such a request goes with an
   * empty one.
   */
  private static boolean requiresBody(String method) {
    return switch (method) {
      case "POST", "PUT", "PATCH", "PROPPATCH", "REPORT", "QUERY" -> true;
      default -> false;
    };
  }

  @SuppressWarnings("unchecked")
  private <T> T decode(Response response, JavaType type, RealCallContext ctx) {
    Class<?> raw = type.getRawClass();
    ResponseBody body = response.body();
    // The transport read the body whole: take its bytes as read (whole, whatever an
    // interceptor read of it since), unless an interceptor put another body in its place. A
    // small body's copy is the call's alone (the body keeps its own buffer); a large body's
    // array is the body's (see Transport.buffer).
    boolean large = body instanceof BufferedBody;
    byte[] whole = large ? ((BufferedBody) body).array() : ctx.bufferedBytes(body);
    // With no user code that sees responses, a small body is still whole in its buffer, unread.
    Buffer inPlace = whole == null && !large ? ctx.bufferInPlace(body) : null;
    if (whole != null && !large) {
      // This is the body's last reader: hand its segments back to Okio's pool now (closing a
      // body made from a Buffer would not).
      body.source().getBuffer().clear();
    }
    try {
      if (ctx.bodyDiscarded()) {
        if (inPlace != null) {
          inPlace.clear();
        }
        return null;
      }
      if (raw == String.class && inPlace != null) {
        // Decoded from Okio's segments as they are (which go back to its pool): no copy.
        Charset cs = Charsets.of(response);
        // Only a body starting with 0xEF, 0xFE, 0xFF or 0 can start with a byte-order mark.
        if (inPlace.size() >= 2 && Charsets.mayStartBom(inPlace.getByte(0))) {
          int n = (int) Math.min(4, inPlace.size());
          byte[] head = new byte[n];
          for (int i = 0; i < n; i++) {
            head[i] = inPlace.getByte(i);
          }
          Charset bom = Charsets.bom(head, n);
          if (bom != null) {
            inPlace.skip(Charsets.bomLength(bom));
            cs = bom;
          }
        }
        return (T) inPlace.readString(cs);
      }
      byte[] bytes = whole != null ? whole
          : inPlace != null ? inPlace.readByteArray() : body.bytes();
      if (raw == byte[].class) {
        // A large body's array is the body's own, which an interceptor may still read later
        // (its source is made from the array on first use): the caller gets a copy.
        return (T) (large ? bytes.clone() : bytes);
      }
      if (raw == String.class) {
        return (T) Charsets.text(bytes, bytes.length,
            whole != null ? Charsets.of(response) : Charsets.of(body));
      }
      if (bytes.length == 0) {
        if (response.code() == 204 || response.code() == 205
            || response.request().method().equals("HEAD")) {
          return null;
        }
        throw new DeserializationException(ctx.describe() + " -> " + response.code()
            + ": empty body cannot be mapped to " + type.toCanonical(), null, ctx.attemptsSent());
      }
      Charset declared = whole != null || inPlace != null ? Charsets.of(response)
          : Charsets.of(body);
      if (!Charsets.isUnicode(declared) && !Charsets.startsAsWideUnicode(bytes)
          && !Charsets.isUtf8(bytes)) {
        // JSON is UTF-8 (RFC 8259; Jackson also tells UTF-16 and -32 apart itself, by the zeros
        // they start with), whatever a charset parameter says: a mislabelled UTF-8, UTF-16 or
        // UTF-32 body is read as what it is. Only a body that is none of them is read in the
        // other charset its Content-Type names (ISO-8859-1, say).
        return mapper.readValue(Charsets.text(bytes, bytes.length, declared), type);
      }
      return mapper.readValue(bytes, type);
    } catch (IOException e) {
      String why = e instanceof com.fasterxml.jackson.core.JacksonException je
          ? je.getOriginalMessage() : e.getMessage();
      String at = Failures.jsonPath(e);
      // The decoder quotes the body (a token it could not read, a value of the wrong type), and
      // a server may echo what it was sent: the request's secrets are masked, as in a status
      // snippet, before the message is cut (so no half of one shows).
      String masked = why == null ? null : redactor.scrub(why, response);
      String maskedAt = redactor.scrub(at, response);
      Throwable cause = e;
      if (!Objects.equals(masked, why) || !maskedAt.equals(at)) {
        // The decoder's own message would show it again in a stack trace: its type and stack
        // are kept, its message is not.
        cause = new IOException(e.getClass().getName() + " (its message quoted a secret the"
            + " request carried, so it is not kept)");
        cause.setStackTrace(e.getStackTrace());
      }
      if (masked != null) {
        // Cut, and the server's line breaks and other control characters flattened, as in a
        // status snippet: they would forge a log line.
        masked = Failures.flatten(masked);
      }
      throw new DeserializationException(ctx.describe() + " -> " + response.code()
          + ": cannot map the body to " + type.toCanonical() + ": " + masked + maskedAt,
          cause, ctx.attemptsSent());
    }
  }

  /**
   * Builds an {@link ApiClient}. Each setter checks its own argument; {@link #build()} checks the
   * settings against each other and copies them, so a builder can be reused.
   */
  public static final class Builder {
    private HttpUrl baseUrl;
    private String baseUrlText;
    private Duration deadline = Duration.ofSeconds(10);
    private Duration attemptTimeout;
    private RateLimit rateLimit;
    private Retry retry = Retry.defaults();
    private CircuitBreaker circuitBreaker = CircuitBreaker.defaults();
    private int maxInFlightPerHost = 1024;
    /**
     * The maxInFlightPerHost the client this builder was derived from set (kept here unless set
     * again), 0 if it set none.
     */
    private int parentMaxInFlight;
    /** Whether maxInFlightPerHost was set on this builder itself, not only kept from a parent. */
    private boolean maxInFlightSetHere;
    private AdaptiveLimit adaptiveConcurrency;
    private double clientThrottlingK;
    // Null: not set, so the client Outrigger makes uses the defaults below, and a supplied
    // OkHttpClient keeps its own.
    private Duration connectTimeout;
    private Duration readTimeout;
    private Duration writeTimeout;
    private int maxIdleConnections = 128;
    private Duration keepAlive = Duration.ofSeconds(60);
    /** Whether connectionPool() was called on this builder (not inherited by newBuilder()). */
    private boolean poolSet;
    private OkHttpClient okHttpClient;
    private SSLSocketFactory sslSocketFactory;
    private X509TrustManager trustManager;
    private CertificatePinner certificatePinner;
    private Proxy proxy;
    private okhttp3.Authenticator proxyAuthenticator;
    /**
     * The fetches of fresh values for the {@link #auth} set (it holds it; null: none), shared by
     * the clients built or derived with it.
     */
    private AuthInterceptors.Refresher refresher;
    /** The refresher of the client this builder derives from, for its Auth given again. */
    private AuthInterceptors.Refresher parentRefresher;
    private ObjectMapper objectMapper;
    /** The default mapper of the client this builder derives from, shared unless one is set. */
    private ObjectMapper defaultMapper;
    private long maxResponseBytes = 16L * 1024 * 1024;
    /** A body is read into one array: the largest the JVM allocates. */
    private static final long MAX_BODY_BYTES = Integer.MAX_VALUE - 8;
    private List<CallInterceptor> callInterceptors = new ArrayList<>();
    private List<CallInterceptor> attemptInterceptors = new ArrayList<>();
    private List<Interceptor> okHttpInterceptors = new ArrayList<>();
    private List<CallListener> listeners = new ArrayList<>();
    private Set<String> redactHeaders = new LinkedHashSet<>();
    private Set<String> redactQuery = new LinkedHashSet<>();
    private String userAgent = "outrigger/0.1";
    private boolean generateIdempotencyKeys;
    private String deadlineHeader;
    private NanoClock clock = NanoClock.SYSTEM;
    private SharedTransport parentTransport;
    /** The finished OkHttp client of the client this builder derives from, if any. */
    private OkHttpClient parentClient;
    /** The transport of the client this builder derives from, if any (kept when replaced). */
    private SharedTransport derivedFrom;

    private Builder() {}

    /**
     * The URL relative paths are appended to, for example {@code https://api.example.com/v1}.
     * Optional: without it, every call needs an absolute URL. Checked at {@link #build()}, which
     * refuses one that is not an absolute http(s) URL, or has a query, a fragment, a
     * {@code {placeholder}} (a base URL is not a template) or, on the client Outrigger makes, a
     * user name or password.
     *
     * @throws IllegalArgumentException if {@code baseUrl} is null (an unset environment
     *     variable, say): leave this setting out for a client of absolute URLs only
     */
    public Builder baseUrl(String baseUrl) {
      if (baseUrl == null) {
        throw new IllegalArgumentException("baseUrl must not be null: give an absolute http(s) "
            + "URL, or leave baseUrl(...) out for a client that calls absolute URLs only");
      }
      this.baseUrlText = baseUrl;
      this.baseUrl = null;
      return this;
    }

    /**
     * The deadline of every call that does not set its own (default 10 s): waits, retries and
     * every attempt's time on the wire all draw from it.
     *
     * @throws IllegalArgumentException if not positive
     * @throws NullPointerException if null (for no limit, {@code ChronoUnit.FOREVER.getDuration()})
     */
    public Builder deadline(Duration deadline) {
      if (deadline == null) {
        // Every call has a deadline: say how to make it as good as none.
        throw new NullPointerException("deadline must not be null: give a positive Duration "
            + "(default 10 s; ChronoUnit.FOREVER.getDuration() for no limit)");
      }
      this.deadline = positive(deadline, "deadline");
      return this;
    }

    /**
     * A cap on each attempt (default none: an attempt may use what remains of the deadline). An
     * attempt that hits it fails with {@link TransportException.Kind#TIMEOUT} and may be retried.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder attemptTimeout(Duration attemptTimeout) {
      this.attemptTimeout =
          attemptTimeout == null ? null : positive(attemptTimeout, "attemptTimeout");
      return this;
    }

    /**
     * A token-bucket limit on attempts per host (default none: no quota is universal); null
     * removes one set before.
     */
    public Builder rateLimit(RateLimit rateLimit) {
      this.rateLimit = rateLimit;
      return this;
    }

    /**
     * The retry policy (default {@link Retry#defaults()}: 3 attempts, full jitter, 100 ms to
     * 2 s); {@link Retry#none()} turns retries off, and {@code Retry.defaults().maxAttempts(5)}
     * changes one setting only.
     */
    public Builder retry(Retry retry) {
      this.retry = Objects.requireNonNull(retry, "retry must not be null: give a Retry "
          + "(default Retry.defaults()), or Retry.none() to turn retries off");
      return this;
    }

    /** The per-host circuit breaker's configuration (default {@link CircuitBreaker#defaults()}). */
    public Builder circuitBreaker(CircuitBreaker circuitBreaker) {
      this.circuitBreaker = Objects.requireNonNull(circuitBreaker, "circuitBreaker must not be "
          + "null: give a CircuitBreaker (default CircuitBreaker.defaults()), or "
          + "CircuitBreaker.none() to turn circuit breaking off");
      return this;
    }

    /**
     * The most calls in flight to one host (default 1024); more wait for a slot within their
     * deadline. OkHttp's own dispatcher limits apply only to asynchronous calls, so this is what
     * bounds thousands of virtual threads calling one host.
     *
     * @throws IllegalArgumentException if below 1
     */
    public Builder maxInFlightPerHost(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxInFlightPerHost must be at least 1, but was " + max);
      }
      this.maxInFlightPerHost = max;
      this.maxInFlightSetHere = true;
      return this;
    }

    /**
     * Learns each host's in-flight limit from latency and drops instead of using the static
     * {@link #maxInFlightPerHost} (default off; null turns it off again). See
     * {@link AdaptiveLimit}. {@link #build()} refuses a {@link #maxInFlightPerHost} set beside
     * it, which it would ignore, unless it equals the adaptive limit's {@code max}.
     *
     * @throws IllegalArgumentException if the limit's min is above its max, or its explicit
     *     initial value is outside them
     */
    public Builder adaptiveConcurrency(AdaptiveLimit limit) {
      this.adaptiveConcurrency = limit == null ? null : limit.checked();
      return this;
    }

    /**
     * Client-side throttling per host (default off), as in the Google SRE book: each attempt is
     * refused locally, with {@link RateLimitedException}, with probability
     * {@code max(0, (requests - k x accepts) / (requests + 1))} over the last 2 minutes, where
     * accepts are attempts the host did not reject (429, 503, transport failure). It runs
     * after the circuit breaker and before the rate limiter, once per attempt. {@code k} = 2 is
     * the book's choice; lower is more aggressive.
     *
     * @throws IllegalArgumentException if {@code k} is below 1 or not finite
     */
    public Builder clientThrottling(double k) {
      this.clientThrottlingK = ThrottleInterceptor.checkK(k);
      return this;
    }

    /**
     * Turns {@linkplain #clientThrottling(double) client-side throttling} off (the default), for
     * example on the builder of a client that has it, from {@link ApiClient#newBuilder()}.
     */
    public Builder noClientThrottling() {
      this.clientThrottlingK = 0;
      return this;
    }

    /**
     * TCP connect timeout (default 2 s; a {@linkplain #okHttpClient supplied OkHttpClient} keeps
     * its own unless this is set).
     *
     * @throws IllegalArgumentException if shorter than 1 ms (OkHttp's unit: less would be no
     *     timeout at all) or longer than OkHttp takes (about 24 days)
     */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = okHttpTimeout(timeout, "connectTimeout");
      return this;
    }

    /**
     * Longest silence while reading a response (default 30 s; the deadline usually ends it first;
     * a supplied OkHttpClient keeps its own unless this is set).
     *
     * @throws IllegalArgumentException if shorter than 1 ms (OkHttp's unit: less would be no
     *     timeout at all) or longer than OkHttp takes (about 24 days)
     */
    public Builder readTimeout(Duration timeout) {
      this.readTimeout = okHttpTimeout(timeout, "readTimeout");
      return this;
    }

    /**
     * Longest stall while writing a request (default 30 s; a supplied OkHttpClient keeps its own
     * unless this is set).
     *
     * @throws IllegalArgumentException if shorter than 1 ms (OkHttp's unit: less would be no
     *     timeout at all) or longer than OkHttp takes (about 24 days)
     */
    public Builder writeTimeout(Duration timeout) {
      this.writeTimeout = okHttpTimeout(timeout, "writeTimeout");
      return this;
    }

    /**
     * Idle connections the pool keeps (default 128; OkHttp's 5 makes a busy client reconnect
     * constantly) and for how long (default 60 s, below common server idle timeouts such as
     * nginx's 75 s).
     *
     * <p>This sizes the pool of the OkHttp client Outrigger makes. A
     * {@linkplain #okHttpClient supplied} client keeps its own pool, and a client derived with
     * {@link ApiClient#newBuilder()} shares its parent's, so {@code build()} refuses this setting
     * with either.
     *
     * @throws IllegalArgumentException if {@code maxIdle < 0} or {@code keepAlive} not positive
     */
    public Builder connectionPool(int maxIdle, Duration keepAlive) {
      if (maxIdle < 0) {
        throw new IllegalArgumentException("maxIdleConnections must be >= 0, but was " + maxIdle);
      }
      this.keepAlive = positive(keepAlive, "keepAlive");
      this.maxIdleConnections = maxIdle;
      this.poolSet = true;
      return this;
    }

    /**
     * Sends with a copy of {@code client}, sharing its pool and dispatcher (and its TLS, proxy,
     * interceptor and timeout settings: its connect, read and write timeouts stay unless
     * {@link #connectTimeout}, {@link #readTimeout} or {@link #writeTimeout} is set, and its call
     * timeout, if any, bounds each attempt as well as the deadline does). Outrigger never shuts a
     * supplied client down. Outrigger still turns off OkHttp's silent
     * {@code retryOnConnectionFailure} on its copy, so that a non-idempotent request is never
     * re-sent behind the retry policy's back, and has its copy run each name lookup of the
     * client's {@code Dns} on a virtual thread of its own, so that a call's deadline, an interrupt
     * or {@code close()} can end a lookup that hangs (the client's {@code EventListener}, if any,
     * still hears every event). OkHttp reuses a pooled connection only for the same {@code Dns}:
     * raw calls on {@code client} itself do not share connections with this client's calls; raw
     * calls on {@link ApiClient#okHttpClient()} do.
     *
     * <p>On a builder from {@link ApiClient#newBuilder()}, a client other than the parent's (the
     * one it was given, or its {@link ApiClient#okHttpClient()}) replaces the parent's transport:
     * the derived client sends with {@code client}, sharing what {@code client} shares. The
     * parent's own client keeps the parent's transport, as if this were not called: built once
     * the parent and every client sharing its pool are closed, the derived client gets a pool of
     * its own (or sends with the client the parent was given), as {@code newBuilder().build()}
     * does, not the released one, which its {@code close()} would not empty.
     */
    public Builder okHttpClient(OkHttpClient client) {
      this.okHttpClient = Objects.requireNonNull(client, "okHttpClient must not be null: leave "
          + "okHttpClient(...) out to send with a client Outrigger makes");
      if (derivedFrom != null) {
        // The parent's client (as given to it, or as it sends) means the parent's transport;
        // any other replaces it, or build() would never send with this one.
        boolean parents = derivedFrom.base() == client || parentClient == client;
        parentTransport = parents ? derivedFrom : null;
        if (parents) {
          // What the parent was given: once the parent's transport is released, build() makes
          // a pool of its own (the parent's was Outrigger's), or sends with the client the
          // parent was given, never with a released pool that no close() would empty again.
          this.okHttpClient = derivedFrom.owned() ? null : derivedFrom.base();
        }
      }
      return this;
    }

    /**
     * Custom TLS: trust material (and key material, for mutual TLS, in the socket factory).
     * Default none: the platform's trust, or a {@linkplain #okHttpClient supplied} client's own
     * TLS. Null for both goes back to that default, as on a builder from
     * {@link ApiClient#newBuilder()} for a client of another service, which would otherwise
     * trust what this one trusts and present this one's client certificate to it.
     *
     * @throws NullPointerException if one of the two is null and the other is not
     */
    public Builder tls(SSLSocketFactory socketFactory, X509TrustManager trustManager) {
      if (socketFactory == null && trustManager == null) {
        this.sslSocketFactory = null;
        this.trustManager = null;
        return this;
      }
      this.sslSocketFactory = Objects.requireNonNull(socketFactory, "socketFactory must not be "
          + "null when trustManager is not: give both, or null for both (the default TLS)");
      this.trustManager = Objects.requireNonNull(trustManager, "trustManager must not be null "
          + "when socketFactory is not: give both, or null for both (the default TLS)");
      return this;
    }

    /**
     * Pins certificates (see OkHttp's {@link CertificatePinner}). Default none (a
     * {@linkplain #okHttpClient supplied} client's own pins). Null goes back to that default, as
     * on a builder from {@link ApiClient#newBuilder()} for a client of another service, whose
     * certificates the parent's pins would refuse.
     */
    public Builder certificatePinner(CertificatePinner pinner) {
      this.certificatePinner = pinner;
      return this;
    }

    /**
     * Sends through {@code proxy}, with an optional authenticator for {@code 407}. Default none:
     * the JVM's {@code ProxySelector} (or a {@linkplain #okHttpClient supplied} client's own
     * proxy). Null for both goes back to that default, as on a builder from
     * {@link ApiClient#newBuilder()} for a client of another service, which would otherwise send
     * through this one's proxy and answer its {@code 407} with this one's proxy credentials.
     *
     * @throws NullPointerException if {@code proxy} is null and {@code proxyAuthenticator} is not
     */
    public Builder proxy(Proxy proxy, okhttp3.Authenticator proxyAuthenticator) {
      if (proxy == null && proxyAuthenticator != null) {
        throw new NullPointerException("proxy (null for both proxy and proxyAuthenticator: no "
            + "proxy of the client's own)");
      }
      this.proxy = proxy;
      this.proxyAuthenticator = proxyAuthenticator;
      return this;
    }

    /**
     * Supplies {@code Authorization} per attempt and refreshes it once on 401. With a
     * {@link #baseUrl base URL}, only calls to its origin (scheme, host and port) carry it: a
     * call to an absolute URL elsewhere (a pre-signed link from a response) goes without, and
     * its 401 is not answered with a refresh. Without a base URL, every call carries it.
     * Default none; null removes one set before, as on a builder from
     * {@link ApiClient#newBuilder()} for a client of another service, which would otherwise
     * send this one's credentials to its own base URL's origin.
     *
     * <p>The clients built from this builder, and those derived from them with
     * {@link ApiClient#newBuilder()} that keep this {@code Auth} (given it again or not, even
     * after another or null), share its refresh: one fetch of a fresh value at a time, and a 401
     * for an attempt signed before the latest fetch is signed again rather than fetched for (see
     * {@link Auth}). Another {@code Auth}, or this one on another builder, starts its own.
     */
    public Builder auth(Auth auth) {
      if (auth == null) {
        refresher = null;
      } else if (refresher == null || refresher.auth() != auth) {
        refresher = parentRefresher != null && parentRefresher.auth() == auth
            ? parentRefresher : new AuthInterceptors.Refresher(auth);
      }
      return this;
    }

    /**
     * The mapper for JSON bodies (default: the client's own, or its parent's default one for a
     * derived client; unknown fields ignored, nesting bounded to 500, {@code java.time} as
     * ISO-8601 strings; see {@link ApiClient#mapper()}). Null goes back to that default, as on a
     * builder from {@link ApiClient#newBuilder()} of a client given a mapper of its own.
     */
    public Builder objectMapper(ObjectMapper mapper) {
      this.objectMapper = mapper;
      return this;
    }

    /**
     * The largest response body read (default 16 MiB). A larger body of a successful response
     * fails with {@link DeserializationException} without being read whole, unless the caller
     * discards it ({@code execute()}, {@code Void.class}: the call succeeds, the body unread and
     * its connection closed); a larger body of an error status is cut to this size and its
     * connection closed, so the status stays what the retry policy and
     * {@link HttpStatusException} see. A body is read into one array, so at most
     * {@code Integer.MAX_VALUE - 8} bytes.
     *
     * @throws IllegalArgumentException if below 1 or above {@code Integer.MAX_VALUE - 8}
     */
    public Builder maxResponseBytes(long max) {
      if (max < 1 || max > MAX_BODY_BYTES) {
        throw new IllegalArgumentException("maxResponseBytes must be between 1 and "
            + MAX_BODY_BYTES + " (the largest Java array), but was " + max);
      }
      this.maxResponseBytes = max;
      return this;
    }

    /** Adds an interceptor run once per logical call, inside the deadline, outside retry. */
    public Builder addCallInterceptor(CallInterceptor interceptor) {
      callInterceptors.add(Objects.requireNonNull(interceptor,
          "interceptor must not be null: give the CallInterceptor to add"));
      return this;
    }

    /** Adds an interceptor run once per attempt, after every policy, before OkHttp. */
    public Builder addAttemptInterceptor(CallInterceptor interceptor) {
      attemptInterceptors.add(Objects.requireNonNull(interceptor,
          "interceptor must not be null: give the CallInterceptor to add"));
      return this;
    }

    /** Adds an OkHttp application interceptor (runs per attempt, inside OkHttp). */
    public Builder addOkHttpInterceptor(Interceptor interceptor) {
      okHttpInterceptors.add(Objects.requireNonNull(interceptor,
          "interceptor must not be null: give the OkHttp Interceptor to add"));
      return this;
    }

    /** Adds a listener for calls, attempts, retries, waits and breaker transitions. */
    public Builder addListener(CallListener listener) {
      listeners.add(Objects.requireNonNull(listener,
          "listener must not be null: give the CallListener to add"));
      return this;
    }

    /**
     * Removes every interceptor added so far with {@link #addCallInterceptor},
     * {@link #addAttemptInterceptor} and {@link #addOkHttpInterceptor}; those added after it
     * are kept. For a builder from {@link ApiClient#newBuilder()}, which otherwise keeps its
     * parent's (a client of another service may not want them). The interceptors of an OkHttp
     * client given with {@link #okHttpClient} are that client's, and stay. A new builder has
     * none.
     */
    public Builder clearInterceptors() {
      callInterceptors.clear();
      attemptInterceptors.clear();
      okHttpInterceptors.clear();
      return this;
    }

    /**
     * Removes every listener added so far with {@link #addListener} (a Micrometer binder
     * included); those added after it are kept. For a builder from
     * {@link ApiClient#newBuilder()}, which otherwise keeps its parent's. A new builder has none.
     */
    public Builder clearListeners() {
      listeners.clear();
      return this;
    }

    /**
     * Names headers whose values are never logged nor put in messages, beyond the always
     * redacted {@code Authorization}, {@code Proxy-Authorization}, {@code Cookie} and
     * {@code Set-Cookie}.
     */
    public Builder redactHeader(String name) {
      redactHeaders.add(nonBlank(name, "redactHeader name"));
      return this;
    }

    /**
     * Names query parameters whose values are masked in logs and messages, beyond the default
     * {@code access_token}, {@code api_key}, {@code apikey}, {@code client_secret},
     * {@code jsessionid}, {@code password}, {@code refresh_token}, {@code secret},
     * {@code signature}, {@code sig}, {@code token}, and the credentials of pre-signed links:
     * {@code X-Amz-Signature}, {@code X-Amz-Credential}, {@code X-Amz-Security-Token},
     * {@code X-Goog-Signature} and {@code X-Goog-Credential} (names compared in any case). A
     * path parameter of one of these names ({@code /cart;jsessionid=...}) is masked too, and so
     * is a field of one of these names of a form body the request sends
     * ({@code application/x-www-form-urlencoded}, from {@code ApiRequest.body(...)} or OkHttp's
     * {@code FormBody}) where an error body quotes it.
     */
    public Builder redactQueryParameter(String name) {
      redactQuery.add(nonBlank(name, "redactQueryParameter name"));
      return this;
    }

    /**
     * The {@code User-Agent} sent when a request sets none (default {@code outrigger/0.1}); null
     * leaves it to OkHttp, which sends {@code okhttp/} and its version.
     *
     * @throws IllegalArgumentException if {@code userAgent} is empty or blank (it would be sent
     *     as a header with no product token), or has a character a header value may not hold
     */
    public Builder userAgent(String userAgent) {
      if (userAgent != null) {
        if (userAgent.isBlank()) {
          // An unset environment variable read as "": sent as "User-Agent: ", which servers
          // that require a product token refuse on every call.
          throw new IllegalArgumentException("userAgent must not be empty or blank, but was '"
              + userAgent + "': give a product token such as myapp/1.2, or userAgent(null) to"
              + " leave it to OkHttp (okhttp/ and its version)");
        }
        // (ASCII only, no control characters: OkHttp sends nothing else in a header.)
        ApiRequest.checkHeader("User-Agent", userAgent, false);
      }
      this.userAgent = userAgent;
      return this;
    }

    /**
     * Gives every request whose method is not idempotent (POST, PATCH, or any method other than
     * GET, HEAD, PUT, DELETE, OPTIONS, TRACE and QUERY) and that has no {@code Idempotency-Key} a
     * fresh random one, kept across its retries, so it can be retried safely (default off: only
     * servers that honour the key make this safe).
     */
    public Builder generateIdempotencyKeys(boolean generate) {
      this.generateIdempotencyKeys = generate;
      return this;
    }

    /**
     * Sends the remaining budget on every attempt as header {@code headerName}: in gRPC's format
     * for {@code grpc-timeout} ({@code 250m}, {@code 3S}), otherwise as whole milliseconds. Off by
     * default; null turns it off again (on a builder from {@link ApiClient#newBuilder()}, for a
     * client of a service that should not be told this caller's budget).
     * {@link Deadline#fromHeader} reads such a header on the receiving side.
     *
     * @throws IllegalArgumentException if {@code headerName} is blank, not a header name, or one
     *     the client or OkHttp sets itself ({@code Authorization}, {@code Idempotency-Key},
     *     {@code User-Agent}, {@code Host}, {@code Content-Type} and the like)
     */
    public Builder propagateDeadline(String headerName) {
      if (headerName == null) {
        this.deadlineHeader = null;
        return this;
      }
      String n = nonBlank(headerName, "propagateDeadline header name");
      ApiRequest.checkHeader(n, "1", false);
      for (String owned : OWNED_HEADERS) {
        if (owned.equalsIgnoreCase(n)) {
          throw new IllegalArgumentException("propagateDeadline header name must not be '" + n
              + "', a header the client or OkHttp sets itself (the budget would replace it on"
              + " every attempt): use a header of its own, such as X-Deadline-Ms or"
              + " grpc-timeout");
        }
      }
      this.deadlineHeader = n;
      return this;
    }

    /** Headers Outrigger or OkHttp set, which the deadline's header must not replace. */
    private static final String[] OWNED_HEADERS = {
      "Authorization", "Proxy-Authorization", "Cookie", "Idempotency-Key", "User-Agent", "Host",
      "Connection", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding",
      "Accept-Encoding", "Range"
    };

    Builder clock(NanoClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Checks the settings against each other and builds the client.
     *
     * @throws IllegalArgumentException if the base URL is invalid (see {@link #baseUrl}), the
     *     attempt timeout is longer than the deadline, {@link #maxInFlightPerHost} is set beside a
     *     different {@link #adaptiveConcurrency} maximum, or {@link #connectionPool} is set on a
     *     builder given {@link #okHttpClient} or from {@link ApiClient#newBuilder()}
     */
    public ApiClient build() {
      Redactor redactor = new Redactor(redactHeaders, redactQuery);
      HttpUrl base = null;
      if (baseUrlText != null) {
        base = HttpUrl.parse(baseUrlText.trim());
        if (base == null) {
          throw new IllegalArgumentException(
              "baseUrl must be an absolute http or https URL, but was '"
                  + redactor.text(baseUrlText) + "'");
        }
        if (base.query() != null || base.fragment() != null) {
          throw new IllegalArgumentException("baseUrl must not have a query or fragment, but was '"
              + redactor.url(base) + "'");
        }
        String text = baseUrlText.trim();
        // The path only, from the first '/' or '\\' (OkHttp reads one as the other) after the
        // authority: a password in the user info may hold a brace.
        int path = Urls.pathStart(text);
        if (path >= 0 && (text.indexOf('{', path) >= 0 || text.indexOf('}', path) >= 0)) {
          // OkHttp would send the braces percent-encoded, as literal characters: every call
          // would go to a path no server has, with nothing said until its 404.
          throw new IllegalArgumentException("baseUrl must not have a {placeholder}: it is not a"
              + " template, and would be sent as the text '%7B...%7D'; put the placeholder in each"
              + " call's path (get(\"/orgs/{org}/repos\", org)), or derive a client per value with"
              + " newBuilder().baseUrl(...), but was '" + redactor.text(text) + "'");
        }
      }
      if (attemptTimeout != null && attemptTimeout.compareTo(deadline) > 0) {
        throw new IllegalArgumentException("attemptTimeout (" + attemptTimeout
            + ") is longer than the deadline (" + deadline
            + "), so it could never fire: lower attemptTimeout or raise the deadline");
      }
      if (maxInFlightSet() && adaptiveConcurrency != null
          && adaptiveConcurrency.max() != maxInFlightPerHost) {
        // A derived builder cannot drop what its parent set: only the adaptive max can agree.
        throw new IllegalArgumentException("maxInFlightPerHost(" + maxInFlightPerHost
            + ") would be ignored: adaptiveConcurrency replaces it, and its limit may reach "
            + adaptiveConcurrency.max() + "; bound the adaptive limit instead with "
            + "AdaptiveLimit.max(" + maxInFlightPerHost + ")"
            + maxInFlightWayOut());
      }
      warnIfPoliciesCannotWork();

      if (poolSet && (okHttpClient != null || parentTransport != null)) {
        throw new IllegalArgumentException("connectionPool(" + maxIdleConnections + ", "
            + keepAlive + ") sizes the pool of the OkHttp client Outrigger makes, but this "
            + (parentTransport != null
                ? "client is derived with newBuilder() and shares its parent's pool: size it on "
                    + "the parent's builder"
                : "builder was given okHttpClient(...), which keeps its own pool: set it there "
                    + "(OkHttpClient.Builder.connectionPool)"));
      }
      SharedTransport shared;
      OkHttpClient base0;
      if (parentTransport != null && parentTransport.retain()) {
        shared = parentTransport;
        base0 = parentTransport.base();
      } else if (okHttpClient != null) {
        shared = new SharedTransport(okHttpClient, false);
        base0 = okHttpClient;
      } else {
        Dispatcher dispatcher = new Dispatcher();
        // The dispatcher only limits enqueue(); Outrigger's calls are synchronous on the caller's
        // (virtual) thread and bounded by maxInFlightPerHost instead.
        dispatcher.setMaxRequests(Math.max(64, maxInFlightPerHost));
        dispatcher.setMaxRequestsPerHost(Math.max(5, maxInFlightPerHost));
        base0 = new OkHttpClient.Builder()
            .connectionPool(new ConnectionPool(
                maxIdleConnections, Durations.saturatedNanos(keepAlive), TimeUnit.NANOSECONDS))
            .dispatcher(dispatcher)
            // OkHttp's Happy Eyeballs races each new connection on a platform thread while the
            // calling (virtual) thread waits: dozens of extra threads under fan-out, no faster.
            .fastFallback(false)
            .build();
        shared = new SharedTransport(base0, true);
      }
      // From here the transport is this client's (a reference to a parent's, or a pool and
      // dispatcher of its own): a build that fails must give it back.
      try {
        OkHttpClient.Builder ob = base0.newBuilder().retryOnConnectionFailure(false);
        // The client Outrigger made gets Outrigger's defaults; a supplied one keeps its own
        // timeouts (its call timeout included) unless they were set here.
        boolean ours = shared.owned();
        if (connectTimeout != null || ours) {
          ob.connectTimeout(connectTimeout != null ? connectTimeout : DEFAULT_CONNECT_TIMEOUT);
        }
        if (readTimeout != null || ours) {
          ob.readTimeout(readTimeout != null ? readTimeout : DEFAULT_IO_TIMEOUT);
        }
        if (writeTimeout != null || ours) {
          ob.writeTimeout(writeTimeout != null ? writeTimeout : DEFAULT_IO_TIMEOUT);
        }
        if (sslSocketFactory != null) {
          ob.sslSocketFactory(sslSocketFactory, trustManager);
        }
        if (certificatePinner != null) {
          ob.certificatePinner(certificatePinner);
        }
        if (proxy != null) {
          ob.proxy(proxy);
          if (proxyAuthenticator != null) {
            ob.proxyAuthenticator(proxyAuthenticator);
          }
        }
        List<okhttp3.Interceptor> inherited = List.copyOf(ob.interceptors());
        for (okhttp3.Interceptor i : okHttpInterceptors) {
          // A client built from another ApiClient's okHttpClient() has that one's already; one
          // added here twice on purpose goes in twice.
          if (inherited.stream().noneMatch(x -> x == i)) {
            ob.addInterceptor(i);
          }
        }
        Closing closed = new Closing();
        // It also keeps every re-send the retry policy's decision: OkHttp re-sends any request
        // by itself on "503 Retry-After: 0" (see FollowUpGuard), keeps this client's secret
        // headers on their origin, and writes nothing once this client is closed. One per client
        // (a supplied OkHttp client may be another client's, with that one's).
        ob.networkInterceptors().removeIf(i -> i instanceof NetworkInterceptor);
        NetworkInterceptor network = new NetworkInterceptor(redactor, closed);
        ob.addNetworkInterceptor(network);
        // Name lookups end with the call (its deadline, an interrupt, this client's close()),
        // though OkHttp cannot interrupt a resolver: see CancellableDns.
        CancellableDns.install(ob, base0, closed);
        OkHttpClient built = ob.build();
        if (built.cookieJar() == okhttp3.CookieJar.NO_COOKIES) {
          network.noCookieJar();
        }
        return new ApiClient(this, base, shared, built, redactor, closed);
      } catch (RuntimeException | Error e) {
        shared.release();
        throw e;
      }
    }

    /**
     * Whether maxInFlightPerHost was set, here or by the client this builder was derived from
     * (an adaptive limit would ignore it).
     */
    private boolean maxInFlightSet() {
      return maxInFlightSetHere || parentMaxInFlight != 0;
    }

    /**
     * The end of build()'s refusal of a maxInFlightPerHost beside an adaptive limit whose max
     * differs: whether dropping it is a way out, which it is not for the value a derived builder
     * keeps from its parent.
     */
    private String maxInFlightWayOut() {
      if (parentMaxInFlight == 0) {
        return ", or drop maxInFlightPerHost";
      }
      if (!maxInFlightSetHere) {
        return " (this builder is derived from a client that set maxInFlightPerHost, which it"
            + " keeps)";
      }
      if (parentMaxInFlight == adaptiveConcurrency.max()) {
        return ", or drop this builder's maxInFlightPerHost(" + maxInFlightPerHost + "): it"
            + " would keep the maxInFlightPerHost(" + parentMaxInFlight + ") of the client it is"
            + " derived from, which agrees";
      }
      return " (set here, over the maxInFlightPerHost(" + parentMaxInFlight + ") of the client"
          + " this builder is derived from, which it would keep without it)";
    }

    private void warnIfPoliciesCannotWork() {
      if (circuitBreaker.enabled() && circuitBreaker.slowCallRateThreshold() < 1.0
          && circuitBreaker.slowCallDuration().compareTo(deadline) >= 0) {
        log.warn("the breaker's slowCallDuration ({}) is not shorter than the deadline ({}): "
            + "the deadline ends every call first, so no call can ever count as slow",
            circuitBreaker.slowCallDuration(), deadline);
      }
      if (retry.maxAttempts() <= 1) {
        return;
      }
      // The smallest sum of backoffs the policy can ask for, however jitter falls.
      double cap = Durations.saturatedNanos(retry.maxDelay());
      double initial = Durations.saturatedNanos(retry.initialDelay());
      double limit = Durations.saturatedNanos(deadline);
      double total = 0;
      if (retry.jitter() == Jitter.DECORRELATED) {
        // Each wait is drawn from [initial, 3 x the previous], capped: at least the initial
        // delay (or the cap), whatever the multiplier.
        total = (retry.maxAttempts() - 1) * Math.min(initial, cap);
      } else if (retry.jitter() != Jitter.FULL) {
        // FULL may draw 0 each time. EQUAL waits at least half of each backoff.
        double share = retry.jitter() == Jitter.EQUAL ? 0.5 : 1;
        double delay = initial;
        // Up to the first sum past the deadline: maxAttempts(Integer.MAX_VALUE) must not make
        // build() add two billion terms.
        for (int i = 1; i < retry.maxAttempts() && total < limit; i++) {
          if (delay >= cap || retry.multiplier() <= 1) {
            // Every wait from here on is the same.
            total += share * Math.min(delay, cap) * (retry.maxAttempts() - i);
            break;
          }
          total += share * delay;
          delay *= retry.multiplier();
        }
      }
      if (total >= limit) {
        log.warn("retry backoffs alone (at least {} ms for {} attempts) exceed the deadline ({}): "
            + "later attempts will never run; shorten the backoff or raise the deadline",
            (long) (total / 1e6), retry.maxAttempts(), deadline);
      }
    }

    Builder copy() {
      Builder b = new Builder();
      b.baseUrl = baseUrl;
      b.baseUrlText = baseUrlText;
      b.deadline = deadline;
      b.attemptTimeout = attemptTimeout;
      b.rateLimit = rateLimit;
      b.retry = retry;
      b.circuitBreaker = circuitBreaker;
      b.maxInFlightPerHost = maxInFlightPerHost;
      b.parentMaxInFlight = maxInFlightSet() ? maxInFlightPerHost : 0;
      b.adaptiveConcurrency = adaptiveConcurrency;
      b.clientThrottlingK = clientThrottlingK;
      b.connectTimeout = connectTimeout;
      b.readTimeout = readTimeout;
      b.writeTimeout = writeTimeout;
      b.maxIdleConnections = maxIdleConnections;
      b.keepAlive = keepAlive;
      b.okHttpClient = okHttpClient;
      b.sslSocketFactory = sslSocketFactory;
      b.trustManager = trustManager;
      b.certificatePinner = certificatePinner;
      b.proxy = proxy;
      b.proxyAuthenticator = proxyAuthenticator;
      b.refresher = refresher;
      b.objectMapper = objectMapper;
      b.defaultMapper = defaultMapper;
      b.maxResponseBytes = maxResponseBytes;
      b.callInterceptors = new ArrayList<>(callInterceptors);
      b.attemptInterceptors = new ArrayList<>(attemptInterceptors);
      b.okHttpInterceptors = new ArrayList<>(okHttpInterceptors);
      b.listeners = new ArrayList<>(listeners);
      b.redactHeaders = new LinkedHashSet<>(redactHeaders);
      b.redactQuery = new LinkedHashSet<>(redactQuery);
      b.userAgent = userAgent;
      b.generateIdempotencyKeys = generateIdempotencyKeys;
      b.deadlineHeader = deadlineHeader;
      b.clock = clock;
      b.parentTransport = parentTransport;
      b.parentClient = parentClient;
      b.derivedFrom = derivedFrom;
      return b;
    }

    /**
     * {@link #positive}, and within what OkHttp's timeouts take: whole milliseconds, from 1 to
     * {@code Integer.MAX_VALUE}. OkHttp refuses more at {@code build()} saying only "timeout too
     * large", and truncates less than a millisecond to 0, which it reads as no timeout at all.
     */
    private static Duration okHttpTimeout(Duration d, String name) {
      positive(d, name);
      if (d.compareTo(Duration.ofMillis(1)) < 0) {
        // OkHttp's Duration setters take toMillis(): 0, which means "never time out".
        throw new IllegalArgumentException(name + " must be at least 1 ms (OkHttp counts whole "
            + "milliseconds, and would read this as 0: no timeout at all), but was " + d);
      }
      if (d.compareTo(Duration.ofMillis(Integer.MAX_VALUE)) > 0) {
        throw new IllegalArgumentException(name + " must be at most " + Integer.MAX_VALUE
            + " ms (about 24 days, OkHttp's limit), but was " + d + "; the deadline bounds "
            + "every call in any case");
      }
      return d;
    }

    private static Duration positive(Duration d, String name) {
      if (d == null) {
        throw new NullPointerException(name + " must not be null: give a positive Duration");
      }
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(name + " must be positive, but was " + d);
      }
      return d;
    }

    private static String nonBlank(String s, String name) {
      if (s == null || s.isBlank()) {
        throw new IllegalArgumentException(name + " must not be null or blank");
      }
      return s;
    }
  }
}
