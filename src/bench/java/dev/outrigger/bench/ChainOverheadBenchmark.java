package dev.outrigger.bench;

import dev.failsafe.okhttp.FailsafeCall;
import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.Jitter;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.core.functions.CheckedSupplier;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.retry.RetryConfig;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
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
 * (RetryPolicy + CircuitBreaker + RateLimiter through failsafe-okhttp). Run with -t 1 and -t 2.
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
  private dev.failsafe.Policy<Response>[] failsafePolicies;

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
        io.github.resilience4j.circuitbreaker.CircuitBreaker.of("bench",
            CircuitBreakerConfig.custom().slidingWindowSize(100).minimumNumberOfCalls(20).build());
    io.github.resilience4j.retry.Retry retry = io.github.resilience4j.retry.Retry.of("bench",
        RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ofMillis(100)).build());
    RateLimiter rl = RateLimiter.of("bench", RateLimiterConfig.custom()
        .limitForPeriod(1_000_000_000).limitRefreshPeriod(Duration.ofSeconds(1))
        .timeoutDuration(Duration.ZERO).build());
    CheckedSupplier<String> call = () -> {
      try (Response r = okhttp.newCall(request).execute()) {
        return r.body().string();
      }
    };
    r4j = io.github.resilience4j.retry.Retry.decorateCheckedSupplier(retry,
        io.github.resilience4j.circuitbreaker.CircuitBreaker.decorateCheckedSupplier(cb,
            RateLimiter.decorateCheckedSupplier(rl, call)));

    failsafePolicies = new dev.failsafe.Policy[] {
      dev.failsafe.RetryPolicy.<Response>builder().withMaxAttempts(3)
          .withBackoff(Duration.ofMillis(100), Duration.ofSeconds(2)).build(),
      dev.failsafe.CircuitBreaker.<Response>builder()
          .withFailureRateThreshold(50, 20, Duration.ofMinutes(1)).build(),
      dev.failsafe.RateLimiter.<Response>smoothBuilder(1_000_000_000L, Duration.ofSeconds(1))
          .build()
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

  @Benchmark
  public String resilience4j() throws Throwable {
    return r4j.get();
  }

  @Benchmark
  public String failsafe() throws IOException {
    try (Response r = FailsafeCall.with(failsafePolicies[0], failsafePolicies[1],
        failsafePolicies[2]).compose(okhttp.newCall(request)).execute()) {
      return r.body().string();
    }
  }
}
