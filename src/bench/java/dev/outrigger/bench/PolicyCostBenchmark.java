package dev.outrigger.bench;

import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.Jitter;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What each policy adds to {@link ChainOverheadBenchmark#outrigger}'s call: the same in-memory
 * call through a client with every policy on ({@link #all}, that row's client), then with one
 * policy taken off at a time, and with none ({@link #none}: no retry, breaker, rate limit or
 * client-side throttle; the deadline and the in-flight limit, which every client has, stay).
 * The difference between {@link #all} and a row is what that policy costs a call that
 * succeeds.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 6, time = 1)
@Fork(2)
public class PolicyCostBenchmark {
  private static final String URL = "http://bench.invalid/items/1";

  private OkHttpClient okhttp;
  private ApiClient all;
  private ApiClient withoutRateLimit;
  private ApiClient withoutBreaker;
  private ApiClient withoutRetry;
  private ApiClient withoutBudget;
  private ApiClient withoutThrottle;
  private ApiClient none;

  private static Retry retry() {
    return Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(2)).maxAttempts(3)
        .jitter(Jitter.FULL);
  }

  /** {@link ChainOverheadBenchmark#outrigger}'s client. */
  private ApiClient.Builder every() {
    return ApiClient.builder()
        .okHttpClient(okhttp)
        .rateLimit(RateLimit.perSecond(1e9).burst(1_000_000))
        .retry(retry())
        .circuitBreaker(CircuitBreaker.defaults());
  }

  @Setup
  public void setUp() {
    okhttp = new OkHttpClient.Builder().addInterceptor(ChainOverheadBenchmark.ANSWER).build();
    all = every().build();
    withoutRateLimit = ApiClient.builder().okHttpClient(okhttp).retry(retry())
        .circuitBreaker(CircuitBreaker.defaults()).build();
    withoutBreaker = every().circuitBreaker(CircuitBreaker.none()).build();
    withoutRetry = every().retry(Retry.none()).build();
    withoutBudget = every().retry(retry().noBudget()).build();
    withoutThrottle = every().noClientThrottling().build();
    none = ApiClient.builder().okHttpClient(okhttp).retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none()).noClientThrottling().build();
  }

  @TearDown
  public void tearDown() {
    for (ApiClient c : new ApiClient[] {all, withoutRateLimit, withoutBreaker, withoutRetry,
        withoutBudget, withoutThrottle, none}) {
      c.close();
    }
  }

  @Benchmark
  public String all() {
    return all.get(URL).execute(String.class);
  }

  @Benchmark
  public String withoutRateLimit() {
    return withoutRateLimit.get(URL).execute(String.class);
  }

  @Benchmark
  public String withoutBreaker() {
    return withoutBreaker.get(URL).execute(String.class);
  }

  /** No retry step at all (and so no budget). */
  @Benchmark
  public String withoutRetry() {
    return withoutRetry.get(URL).execute(String.class);
  }

  /** The retry step without its budget's deposit. */
  @Benchmark
  public String withoutBudget() {
    return withoutBudget.get(URL).execute(String.class);
  }

  @Benchmark
  public String withoutThrottle() {
    return withoutThrottle.get(URL).execute(String.class);
  }

  @Benchmark
  public String none() {
    return none.get(URL).execute(String.class);
  }
}
