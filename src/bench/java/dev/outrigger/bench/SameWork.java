package dev.outrigger.bench;

import dev.failsafe.Bulkhead;
import dev.failsafe.CircuitBreaker;
import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.RetryPolicy;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.core.functions.CheckedFunction;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.RateLimiterRegistry;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Resilience4j and Failsafe wired by hand around OkHttp for the work one Outrigger call does
 * with every policy on, as far as each library has the parts, the way a careful user would: a
 * retry, a breaker, a rate limit that never blocks and an in-flight limit (a bulkhead), one set
 * per host, composed once per host and found with one map lookup per call; and the call's
 * deadline (10 s, spanning its retries) put on each attempt as OkHttp's own call timeout, the
 * way an OkHttp user bounds a call, with one clock reading per call (and one more per retry).
 * Neither library has a retry budget, and neither resolves a URL or decodes the body. It also
 * holds the settings every Resilience4j and Failsafe stack of the benchmarks uses, plain or
 * wired for the same work: three attempts with 100 ms backoff, a breaker judging at least 20
 * calls, a rate limit of 1e9/s that never blocks.
 */
final class SameWork {
  private SameWork() {}

  static CircuitBreakerConfig r4jBreaker() {
    return CircuitBreakerConfig.custom().slidingWindowSize(100).minimumNumberOfCalls(20).build();
  }

  static RateLimiterConfig r4jLimiter() {
    return RateLimiterConfig.custom().limitForPeriod(1_000_000_000)
        .limitRefreshPeriod(Duration.ofSeconds(1)).timeoutDuration(Duration.ZERO).build();
  }

  static RetryConfig r4jRetry() {
    return RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ofMillis(100)).build();
  }

  static <R> RetryPolicy<R> failsafeRetry() {
    return RetryPolicy.<R>builder().withMaxAttempts(3)
        .withBackoff(Duration.ofMillis(100), Duration.ofSeconds(2)).build();
  }

  static <R> CircuitBreaker<R> failsafeBreaker() {
    return CircuitBreaker.<R>builder().withFailureRateThreshold(50, 20, Duration.ofMinutes(1))
        .build();
  }

  static <R> dev.failsafe.RateLimiter<R> failsafeLimiter() {
    return dev.failsafe.RateLimiter.<R>smoothBuilder(1_000_000_000L, Duration.ofSeconds(1))
        .build();
  }

  /** The call's deadline. */
  static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(10);

  /** One call: its request and when it began, on {@link System#nanoTime()}. */
  static final class CallDeadline {
    final Request request;
    final long start;
    private boolean retry;

    CallDeadline(Request request, long start) {
      this.request = request;
      this.start = start;
    }

    /** The next attempt's timeout: the whole budget for the first, what is left for a retry. */
    long timeoutNanos() throws InterruptedIOException {
      if (!retry) {
        retry = true;
        return DEADLINE_NANOS;
      }
      long left = start + DEADLINE_NANOS - System.nanoTime();
      if (left <= 0) {
        throw new InterruptedIOException("deadline exceeded");
      }
      return left;
    }
  }

  /** One attempt of {@code call} through {@code okhttp}: its body as text. */
  static String attempt(OkHttpClient okhttp, CallDeadline call) throws IOException {
    Call c = okhttp.newCall(call.request);
    c.timeout().timeout(call.timeoutNanos(), TimeUnit.NANOSECONDS);
    try (Response r = c.execute()) {
      return r.body().string();
    }
  }

  /**
   * Resilience4j: its registries make each host's retry, breaker, rate limiter and bulkhead,
   * decorated once per host into one function of the call (keyed by the URL's host).
   */
  static final class R4jStack {
    private final OkHttpClient okhttp;
    private final CircuitBreakerRegistry breakers = CircuitBreakerRegistry.of(r4jBreaker());
    private final RateLimiterRegistry limiters = RateLimiterRegistry.of(r4jLimiter());
    private final RetryRegistry retries = RetryRegistry.of(r4jRetry());
    private final BulkheadRegistry bulkheads = BulkheadRegistry.of(BulkheadConfig.custom()
        .maxConcurrentCalls(1024).maxWaitDuration(Duration.ofSeconds(10)).build());
    private final ConcurrentHashMap<String, CheckedFunction<CallDeadline, String>> byHost =
        new ConcurrentHashMap<>();

    R4jStack(OkHttpClient okhttp) {
      this.okhttp = okhttp;
    }

    private CheckedFunction<CallDeadline, String> decorated(String host) {
      CheckedFunction<CallDeadline, String> attempt = call -> attempt(okhttp, call);
      return Retry.decorateCheckedFunction(retries.retry(host),
          io.github.resilience4j.circuitbreaker.CircuitBreaker.decorateCheckedFunction(
              breakers.circuitBreaker(host),
              RateLimiter.decorateCheckedFunction(limiters.rateLimiter(host),
                  io.github.resilience4j.bulkhead.Bulkhead.decorateCheckedFunction(
                      bulkheads.bulkhead(host), attempt))));
    }

    /** One call of {@code request}: its body as text. */
    String call(Request request) throws Throwable {
      return byHost.computeIfAbsent(request.url().host(), this::decorated)
          .apply(new CallDeadline(request, System.nanoTime()));
    }
  }

  /** Failsafe: one executor of each host's policies, in a map (Failsafe has no registry). */
  static final class FailsafeStack {
    private final OkHttpClient okhttp;
    private final ConcurrentHashMap<String, FailsafeExecutor<String>> byHost =
        new ConcurrentHashMap<>();

    FailsafeStack(OkHttpClient okhttp) {
      this.okhttp = okhttp;
    }

    private static FailsafeExecutor<String> executor(String host) {
      return Failsafe.with(SameWork.<String>failsafeRetry(), failsafeBreaker(), failsafeLimiter(),
          Bulkhead.<String>builder(1024).withMaxWaitTime(Duration.ofSeconds(10)).build());
    }

    /** One call of {@code request}: its body as text. */
    String call(Request request) {
      CallDeadline call = new CallDeadline(request, System.nanoTime());
      return byHost.computeIfAbsent(request.url().host(), FailsafeStack::executor)
          .get(() -> attempt(okhttp, call));
    }
  }
}
