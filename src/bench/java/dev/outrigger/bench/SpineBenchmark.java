package dev.outrigger.bench;

import dev.outrigger.ApiClient;
import dev.outrigger.BenchAccess;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.Retry;
import dev.outrigger.RateLimit;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.breaker.BreakerState;
import dev.outrigger.internal.breaker.BreakerStateMachine;
import dev.outrigger.internal.breaker.Breakers;
import dev.outrigger.internal.http.DeadlineWatchdog;
import dev.outrigger.internal.ratelimit.RealRateLimiter;
import dev.outrigger.internal.retry.RetryBudget;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import okhttp3.Call;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.bulkhead.InFlightLimiter;
import dev.outrigger.internal.deadline.DeadlineInterceptor;
import dev.outrigger.internal.http.Transport;
import dev.outrigger.internal.retry.RetryInterceptor;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
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
 * The spine of an Outrigger call taken apart, in memory (the same answering interceptor as
 * {@link ChainOverheadBenchmark}): raw OkHttp; Outrigger's transport alone behind a call context
 * (one OkHttp call, the deadline watchdog, the body read whole and left in place, as a client
 * with no interceptor of the user's does); the transport with the deadline step and the retry
 * step (one attempt); then with the in-flight limit too, the chain a client with no policies
 * runs; and that client itself, which adds resolving the URL, the request object and decoding
 * the body. Each row minus the one before is what that layer costs. {@link #componentsOnly} is a
 * reference point beside them: each policy's state touched once, with no context or chain.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SpineBenchmark {
  private static final String URL = "http://bench.invalid/items/1";

  private OkHttpClient okhttp;
  private Request request;
  private PolicyChain transportOnly;
  private PolicyChain noPolicyChain;
  private PolicyChain noInFlight;
  private ApiClient client;
  private Redactor redactor;
  // The floor: Outrigger's own policy components, called directly, no context or chain.
  private RealRateLimiter limiter;
  private Breakers breakers;
  private RetryBudget budget;
  private final ConcurrentHashMap<String, Semaphore> slots = new ConcurrentHashMap<>();
  private static final String HOST = "bench.invalid:80";
  private static final Duration THIRTY_SECONDS = Duration.ofSeconds(30);

  @Setup(Level.Trial)
  public void setUp() {
    okhttp = new OkHttpClient.Builder().addInterceptor(ChainOverheadBenchmark.ANSWER).build();
    request = new Request.Builder().url(URL).build();
    redactor = new Redactor(Set.of(), Set.of());
    // A client keeps the deadline watchdog running; the chains below use it too.
    client = ApiClient.builder().okHttpClient(okhttp).retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none()).build();
    transportOnly =
        new PolicyChain(List.of(new Transport(okhttp, null, 16 << 20, null, true, true)));
    noPolicyChain = new PolicyChain(List.of(
        new DeadlineInterceptor(Duration.ofSeconds(30)),
        new RetryInterceptor(Retry.none(), NanoClock.SYSTEM),
        new InFlightLimiter(InFlightLimiter.DEFAULT_MAX_PER_HOST, NanoClock.SYSTEM),
        new Transport(okhttp, null, 16 << 20, null, true, true)));
    noInFlight = new PolicyChain(List.of(
        new DeadlineInterceptor(Duration.ofSeconds(30)),
        new RetryInterceptor(Retry.none(), NanoClock.SYSTEM),
        new Transport(okhttp, null, 16 << 20, null, true, true)));
    limiter = new RealRateLimiter(RateLimit.perSecond(1e9).burst(1_000_000), System.nanoTime());
    breakers = new Breakers(CircuitBreaker.defaults(), CallListener.NONE);
    budget = new RetryBudget(0.2, 10_000_000_000L, 10, RetryBudget.DEFAULT_MAX_KEYS,
        System::nanoTime);
    slots.put(HOST, new Semaphore(InFlightLimiter.DEFAULT_MAX_PER_HOST));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    client.close();
  }

  @Benchmark
  public String rawOkHttp() throws IOException {
    try (Response r = okhttp.newCall(request).execute()) {
      return r.body().string();
    }
  }

  @Benchmark
  public String transportOnly() throws IOException {
    return through(transportOnly);
  }

  @Benchmark
  public String noPolicyChain() throws IOException {
    return through(noPolicyChain);
  }

  /**
   * The floor of any design with these features: raw OkHttp plus one touch of each policy's
   * state, by Outrigger's own components called directly (each measured faster than its peers
   * in its own benchmark), with no call context, no chain, no URL, request or decoder: one
   * clock reading, a rate-limit permit, a keyed breaker's permission and recorded success, a
   * retry-budget deposit, a per-host in-flight slot, and a deadline registered with the
   * watchdog.
   */
  @Benchmark
  public String componentsOnly() throws IOException {
    long now = System.nanoTime();
    if (!limiter.tryAcquire(HOST, 1, now)) {
      throw new IllegalStateException("rate limited");
    }
    BreakerStateMachine breaker = breakers.get(HOST, now);
    BreakerState token = breaker.acquire(now);
    budget.deposit(HOST, now);
    Semaphore slot = slots.get(HOST);
    if (!slot.tryAcquire()) {
      throw new IllegalStateException("no slot");
    }
    try {
      Call call = okhttp.newCall(request);
      DeadlineWatchdog.Timer timer = DeadlineWatchdog.watch(call, now + 10_000_000_000L,
          10_000_000_000L);
      try (Response r = call.execute()) {
        String body = r.body().string();
        breaker.onResult(token, BreakerStateMachine.SUCCESS, now);
        return body;
      } finally {
        timer.done();
      }
    } finally {
      slot.release();
    }
  }

  /** The no-policy chain without its in-flight limit: what that limit costs per attempt. */
  @Benchmark
  public String noInFlight() throws IOException {
    return through(noInFlight);
  }

  @Benchmark
  public String client() {
    return client.get(URL).execute(String.class);
  }

  private String through(PolicyChain chain) throws IOException {
    long now = System.nanoTime();
    // As the client makes its context: one clock reading, and the host key found once.
    RealCallContext ctx = new RealCallContext("GET", request.url(), HOST,
        BenchAccess.deadlineAfter(THIRTY_SECONDS, now), now + THIRTY_SECONDS.toNanos(), true,
        NanoClock.SYSTEM, now, CallListener.NONE, redactor);
    if (chain == transportOnly) {
      ctx.beginAttempt();
    }
    try (Response r = chain.proceed(ctx, request)) {
      return r.body().string();
    }
  }
}
