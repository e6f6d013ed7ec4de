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
 * The retry and the breaker judge answers as Outrigger's defaults do, not only exceptions: the
 * retry repeats an attempt that threw or answered 408, 429, 500, 502, 503 or 504 (closing the
 * answer it discards), the breaker counts an exception or a 5xx answer as a failure; each attempt
 * reads the whole body, so a reset mid-body fails the attempt, as in Outrigger. On a 200 that is
 * one status check more for each (an {@code int} comparison through a predicate). Neither library
 * has a retry budget, and neither resolves a URL or decodes the body. It also holds the settings
 * every Resilience4j and Failsafe stack of the benchmarks uses, plain or wired for the same work:
 * three attempts with 100 ms backoff, a breaker judging at least 20 calls, a rate limit of 1e9/s
 * that never blocks. The plain stacks (three decorators, three policies) keep the libraries'
 * defaults, which judge exceptions only.
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

  /** {@link #r4jRetry()} that also retries the statuses Outrigger's default retry does. */
  static RetryConfig r4jSameWorkRetry() {
    return RetryConfig.<Response>custom().maxAttempts(3).waitDuration(Duration.ofMillis(100))
        .retryOnResult(SameWork::retryable)
        // The answer a retry discards is closed, as Outrigger's retry closes it.
        .consumeResultBeforeRetryAttempt((attempt, discarded) -> discarded.close())
        .build();
  }

  /** {@link #r4jBreaker()} that also counts a 5xx answer as a failure, as Outrigger's does. */
  static CircuitBreakerConfig r4jSameWorkBreaker() {
    return CircuitBreakerConfig.from(r4jBreaker())
        .recordResult(r -> r instanceof Response answer && failed(answer)).build();
  }

  static <R> RetryPolicy<R> failsafeRetry() {
    return RetryPolicy.<R>builder().withMaxAttempts(3)
        .withBackoff(Duration.ofMillis(100), Duration.ofSeconds(2)).build();
  }

  static <R> CircuitBreaker<R> failsafeBreaker() {
    return CircuitBreaker.<R>builder().withFailureRateThreshold(50, 20, Duration.ofMinutes(1))
        .build();
  }

  /** {@link #failsafeRetry()} that also retries the statuses Outrigger's default retry does. */
  static RetryPolicy<Response> failsafeSameWorkRetry() {
    return RetryPolicy.<Response>builder().withMaxAttempts(3)
        .withBackoff(Duration.ofMillis(100), Duration.ofSeconds(2))
        .handleResultIf(SameWork::retryable)
        // Exceptions stay handled: Failsafe handles any exception while no handle(...) is given.
        .onRetry(e -> {
          // The answer a retry discards is closed, as Outrigger's retry closes it.
          Response discarded = e.getLastResult();
          if (discarded != null) {
            discarded.close();
          }
        })
        .build();
  }

  /** {@link #failsafeBreaker()} that also counts a 5xx answer as a failure. */
  static CircuitBreaker<Response> failsafeSameWorkBreaker() {
    return CircuitBreaker.<Response>builder()
        .withFailureRateThreshold(50, 20, Duration.ofMinutes(1))
        .handleResultIf(SameWork::failed).build();
  }

  /** Whether Outrigger's default retry repeats an attempt that answered {@code r}. */
  static boolean retryable(Response r) {
    return switch (r.code()) {
      case 408, 429, 500, 502, 503, 504 -> true;
      default -> false;
    };
  }

  /** Whether Outrigger's default breaker counts an answer {@code r} as a failure: a 5xx. */
  static boolean failed(Response r) {
    return r.code() >= 500 && r.code() <= 599;
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

  /**
   * One attempt of {@code call} through {@code okhttp}: its answer, the whole body read into the
   * body's buffer (the connection is back in the pool), for the caller to close.
   */
  static Response attempt(OkHttpClient okhttp, CallDeadline call) throws IOException {
    Call c = okhttp.newCall(call.request);
    c.timeout().timeout(call.timeoutNanos(), TimeUnit.NANOSECONDS);
    Response r = c.execute();
    try {
      // Read inside the attempt, as Outrigger reads it: a reset mid-body fails this attempt.
      r.body().source().request(Long.MAX_VALUE);
      return r;
    } catch (IOException | RuntimeException | Error e) {
      r.close();
      throw e;
    }
  }

  /** The body of the call's last answer, as text; closes it. */
  static String body(Response r) throws IOException {
    try (r) {
      return r.body().string();
    }
  }

  /**
   * Resilience4j: its registries make each host's retry, breaker, rate limiter and bulkhead,
   * decorated once per host into one function of the call (keyed by the URL's host).
   */
  static final class R4jStack {
    private final OkHttpClient okhttp;
    private final CircuitBreakerRegistry breakers =
        CircuitBreakerRegistry.of(r4jSameWorkBreaker());
    private final RateLimiterRegistry limiters = RateLimiterRegistry.of(r4jLimiter());
    private final RetryRegistry retries = RetryRegistry.of(r4jSameWorkRetry());
    private final BulkheadRegistry bulkheads = BulkheadRegistry.of(BulkheadConfig.custom()
        .maxConcurrentCalls(1024).maxWaitDuration(Duration.ofSeconds(10)).build());
    private final ConcurrentHashMap<String, CheckedFunction<CallDeadline, Response>> byHost =
        new ConcurrentHashMap<>();

    R4jStack(OkHttpClient okhttp) {
      this.okhttp = okhttp;
    }

    private CheckedFunction<CallDeadline, Response> decorated(String host) {
      CheckedFunction<CallDeadline, Response> attempt = call -> attempt(okhttp, call);
      return Retry.decorateCheckedFunction(retries.retry(host),
          io.github.resilience4j.circuitbreaker.CircuitBreaker.decorateCheckedFunction(
              breakers.circuitBreaker(host),
              RateLimiter.decorateCheckedFunction(limiters.rateLimiter(host),
                  io.github.resilience4j.bulkhead.Bulkhead.decorateCheckedFunction(
                      bulkheads.bulkhead(host), attempt))));
    }

    /** One call of {@code request}: the body of its last answer, as text. */
    String call(Request request) throws Throwable {
      return body(byHost.computeIfAbsent(request.url().host(), this::decorated)
          .apply(new CallDeadline(request, System.nanoTime())));
    }
  }

  /** Failsafe: one executor of each host's policies, in a map (Failsafe has no registry). */
  static final class FailsafeStack {
    private final OkHttpClient okhttp;
    private final ConcurrentHashMap<String, FailsafeExecutor<Response>> byHost =
        new ConcurrentHashMap<>();

    FailsafeStack(OkHttpClient okhttp) {
      this.okhttp = okhttp;
    }

    private static FailsafeExecutor<Response> executor(String host) {
      return Failsafe.with(failsafeSameWorkRetry(), failsafeSameWorkBreaker(),
          SameWork.<Response>failsafeLimiter(),
          Bulkhead.<Response>builder(1024).withMaxWaitTime(Duration.ofSeconds(10)).build());
    }

    /** One call of {@code request}: the body of its last answer, as text. */
    String call(Request request) throws IOException {
      CallDeadline call = new CallDeadline(request, System.nanoTime());
      return body(byHost.computeIfAbsent(request.url().host(), FailsafeStack::executor)
          .get(() -> attempt(okhttp, call)));
    }
  }
}
