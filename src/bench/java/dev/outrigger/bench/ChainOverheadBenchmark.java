package dev.outrigger.bench;

import dev.failsafe.okhttp.FailsafeCall;
import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.Jitter;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import dev.outrigger.internal.http.DeadlineWatchdog;
import io.github.resilience4j.core.functions.CheckedSupplier;
import io.github.resilience4j.ratelimiter.RateLimiter;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.Call;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of the whole policy chain around a call that a final OkHttp interceptor answers
 * without touching the network, so only the policies (and the OkHttp call object every stack
 * shares) are measured: raw OkHttp, Outrigger with every policy on (keyed per host, limits that
 * never block), Resilience4j (Retry + CircuitBreaker + RateLimiter decorators) and Failsafe
 * (RetryPolicy + CircuitBreaker + RateLimiter through failsafe-okhttp); both libraries wired by
 * hand for the same work as Outrigger's row ({@link SameWork}); and {@link #designFloor}, a lower
 * bound for clients built like Outrigger with these policies. Run with -t 1 and -t 2.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ChainOverheadBenchmark {
  private static final MediaType TEXT = MediaType.get("text/plain; charset=utf-8");
  private static final String URL = "http://bench.invalid/items/1";
  /** {@link #URL}'s host and port: {@link #designFloor}'s key. */
  private static final String HOST = "bench.invalid:80";

  /** Answers every call in memory: nothing reaches the network. */
  static final Interceptor ANSWER = chain -> new Response.Builder()
      .request(chain.request())
      .protocol(Protocol.HTTP_1_1)
      .code(200)
      .message("OK")
      .body(ResponseBody.create("ok", TEXT))
      .build();

  private OkHttpClient okhttp;
  private ApiClient outrigger;
  private ApiClient outriggerBare;
  private Request request;
  private CheckedSupplier<String> r4j;
  private SameWork.R4jStack r4jSameWork;
  private SameWork.FailsafeStack failsafeSameWork;
  private dev.failsafe.Policy<Response>[] failsafePolicies;
  private final ConcurrentHashMap<String, HostState> hosts = new ConcurrentHashMap<>();

  @Setup(Level.Trial)
  @SuppressWarnings("unchecked")
  public void setUp() {
    okhttp = new OkHttpClient.Builder().addInterceptor(ANSWER).build();
    request = new Request.Builder().url(URL).build();
    outrigger = ApiClient.builder()
        .okHttpClient(okhttp)
        .rateLimit(RateLimit.perSecond(1e9).burst(1_000_000))
        .retry(Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(2)).maxAttempts(3)
            .jitter(Jitter.FULL))
        .circuitBreaker(CircuitBreaker.defaults())
        .build();
    // The spine alone: deadline, in-flight limit, buffering and decoding, no retry, breaker or
    // rate limit. What every call costs before any policy.
    outriggerBare = ApiClient.builder()
        .okHttpClient(okhttp)
        .retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none())
        .build();

    io.github.resilience4j.circuitbreaker.CircuitBreaker cb =
        io.github.resilience4j.circuitbreaker.CircuitBreaker.of("bench", SameWork.r4jBreaker());
    io.github.resilience4j.retry.Retry retry =
        io.github.resilience4j.retry.Retry.of("bench", SameWork.r4jRetry());
    RateLimiter rl = RateLimiter.of("bench", SameWork.r4jLimiter());
    CheckedSupplier<String> call = () -> {
      try (Response r = okhttp.newCall(request).execute()) {
        return r.body().string();
      }
    };
    r4j = io.github.resilience4j.retry.Retry.decorateCheckedSupplier(retry,
        io.github.resilience4j.circuitbreaker.CircuitBreaker.decorateCheckedSupplier(cb,
            RateLimiter.decorateCheckedSupplier(rl, call)));
    r4jSameWork = new SameWork.R4jStack(okhttp);
    failsafeSameWork = new SameWork.FailsafeStack(okhttp);

    hosts.put(HOST, new HostState());

    failsafePolicies = new dev.failsafe.Policy[] {
      SameWork.<Response>failsafeRetry(),
      SameWork.<Response>failsafeBreaker(),
      SameWork.<Response>failsafeLimiter()
    };
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    outrigger.close();
    outriggerBare.close();
  }

  @Benchmark
  public String rawOkHttp() throws IOException {
    try (Response r = okhttp.newCall(request).execute()) {
      return r.body().string();
    }
  }

  /**
   * Raw OkHttp building its request from the URL string on each call, as a caller whose URL
   * varies must: context for the request building every Outrigger call does.
   */
  @Benchmark
  public String rawOkHttpNewRequest() throws IOException {
    try (Response r = okhttp.newCall(new Request.Builder().url(URL).build()).execute()) {
      return r.body().string();
    }
  }

  @Benchmark
  public String outrigger() {
    return outrigger.get(URL).execute(String.class);
  }

  @Benchmark
  public String outriggerNoPolicies() {
    return outriggerBare.get(URL).execute(String.class);
  }

  /**
   * The least per-host state a client built like Outrigger with these policies keeps, each part
   * in its cheapest form: a token bucket as one time stamp (GCRA), a breaker as a state word and
   * a success counter, a retry budget as a counter, an in-flight limit as a counter.
   */
  static final class HostState {
    final AtomicLong bucket = new AtomicLong(Long.MIN_VALUE / 2);
    volatile int breakerState;
    final AtomicLong breakerSuccesses = new AtomicLong();
    final AtomicLong budgetDeposits = new AtomicLong();
    final AtomicInteger inFlight = new AtomicInteger();
  }

  /**
   * A lower bound, not a client: what every policy on, keyed per host, costs at the least here
   * in this design, with no call context, no chain, no extension point, no URL, request or
   * decoder, and no accounting beyond one counter per policy. One clock reading (the bucket
   * and the deadline need "now"), one map lookup for the host's state, one compare-and-set for
   * a rate-limit permit (1e9/s, burst 1e6, as the {@link #outrigger} row), the breaker's state
   * read and its success counted, a retry-budget deposit, an in-flight slot taken and given
   * back, and the deadline registered with Outrigger's watchdog (one lock-free push) and
   * cleared: a floor for this design (a clock reading per call, shared atomics, a watchdog
   * timer), not for every conceivable one. The watchdog thread runs because the clients built
   * in {@link #setUp} keep it running.
   */
  @Benchmark
  public String designFloor() throws IOException {
    long now = System.nanoTime();
    HostState h = hosts.get(HOST);
    for (;;) {
      // The bucket's theoretical arrival time: one permit every nanosecond, a burst of 1e6.
      long tat = h.bucket.get();
      long next = Math.max(tat, now) + 1;
      if (next - now > 1_000_000L) {
        // Only a reading made stale by a preemption gets here at this rate (another thread's
        // later "now" moved the bucket on): a limiter would wait that long, so read the clock
        // again. (At a rate this loop could reach, it would spin: fine for a bound.)
        now = System.nanoTime();
        continue;
      }
      if (h.bucket.compareAndSet(tat, next)) {
        break;
      }
    }
    if (h.breakerState != 0) {
      throw new IllegalStateException("breaker open");
    }
    h.budgetDeposits.incrementAndGet();
    if (h.inFlight.incrementAndGet() > 1024) {
      h.inFlight.decrementAndGet();
      throw new IllegalStateException("no slot");
    }
    try {
      Call call = okhttp.newCall(request);
      DeadlineWatchdog.Timer timer =
          DeadlineWatchdog.watch(call, now + 10_000_000_000L, 10_000_000_000L);
      try (Response r = call.execute()) {
        String body = r.body().string();
        h.breakerSuccesses.incrementAndGet();
        return body;
      } finally {
        timer.done();
      }
    } finally {
      h.inFlight.decrementAndGet();
    }
  }

  @Benchmark
  public String resilience4j() throws Throwable {
    return r4j.get();
  }

  /** Resilience4j wired by hand for the work the {@link #outrigger} row does ({@link SameWork}). */
  @Benchmark
  public String resilience4jSameWork() throws Throwable {
    return r4jSameWork.call(request);
  }

  /** Failsafe wired by hand for the work the {@link #outrigger} row does ({@link SameWork}). */
  @Benchmark
  public String failsafeSameWork() throws IOException {
    return failsafeSameWork.call(request);
  }

  @Benchmark
  public String failsafe() throws IOException {
    try (Response r = FailsafeCall.with(failsafePolicies[0], failsafePolicies[1],
        failsafePolicies[2]).compose(okhttp.newCall(request)).execute()) {
      return r.body().string();
    }
  }
}
