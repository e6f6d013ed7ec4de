package dev.outrigger.bench;

import dev.failsafe.Bulkhead;
import dev.failsafe.CircuitBreaker;
import dev.failsafe.Policy;
import dev.failsafe.RetryPolicy;
import dev.failsafe.okhttp.FailsafeCall;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.core.functions.CheckedSupplier;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.RateLimiterRegistry;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Resilience4j and Failsafe wired by hand around OkHttp for the work one Outrigger call does
 * with every policy on, as far as each library has the parts: a retry, a breaker, a rate limit
 * that never blocks and an in-flight limit (a bulkhead), each per host, and the call's deadline
 * (10 s, spanning its retries) put on each attempt as OkHttp's own call timeout, the way an
 * OkHttp user bounds a call. Neither has a retry budget, and neither resolves a URL or decodes
 * the body. The settings are those of the plain Resilience4j and Failsafe stacks beside them.
 */
final class SameWork {
  private SameWork() {}

  /** The call's deadline. */
  static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(10);

  /**
   * Resilience4j: its registries give each host its own retry, breaker, rate limiter and
   * bulkhead (keyed by the URL's host alone, with no port: cheaper than Outrigger's key).
   */
  static final class Resilience4j {
    private final OkHttpClient okhttp;
    private final CircuitBreakerRegistry breakers = CircuitBreakerRegistry.of(
        CircuitBreakerConfig.custom().slidingWindowSize(100).minimumNumberOfCalls(20).build());
    private final RateLimiterRegistry limiters = RateLimiterRegistry.of(RateLimiterConfig.custom()
        .limitForPeriod(1_000_000_000).limitRefreshPeriod(Duration.ofSeconds(1))
        .timeoutDuration(Duration.ZERO).build());
    private final RetryRegistry retries = RetryRegistry.of(
        RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ofMillis(100)).build());
    private final BulkheadRegistry bulkheads = BulkheadRegistry.of(BulkheadConfig.custom()
        .maxConcurrentCalls(1024).maxWaitDuration(Duration.ofSeconds(10)).build());

    Resilience4j(OkHttpClient okhttp) {
      this.okhttp = okhttp;
    }

    /** One call of {@code request}: its body as text. */
    String call(Request request) throws Throwable {
      String host = request.url().host();
      long deadline = System.nanoTime() + DEADLINE_NANOS;
      CheckedSupplier<String> attempt = () -> {
        Call call = okhttp.newCall(request);
        call.timeout().timeout(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        try (Response r = call.execute()) {
          return r.body().string();
        }
      };
      return Retry.decorateCheckedSupplier(retries.retry(host),
          io.github.resilience4j.circuitbreaker.CircuitBreaker.decorateCheckedSupplier(
              breakers.circuitBreaker(host),
              RateLimiter.decorateCheckedSupplier(limiters.rateLimiter(host),
                  io.github.resilience4j.bulkhead.Bulkhead.decorateCheckedSupplier(
                      bulkheads.bulkhead(host), attempt))))
          .get();
    }
  }

  /** Failsafe: one set of policies per host, in a map (Failsafe has no registry). */
  static final class Failsafe {
    private final OkHttpClient okhttp;
    private final ConcurrentHashMap<String, Policy<Response>[]> byHost =
        new ConcurrentHashMap<>();

    Failsafe(OkHttpClient okhttp) {
      this.okhttp = okhttp;
    }

    @SuppressWarnings("unchecked")
    private static Policy<Response>[] policies(String host) {
      return new Policy[] {
        RetryPolicy.<Response>builder().withMaxAttempts(3)
            .withBackoff(Duration.ofMillis(100), Duration.ofSeconds(2)).build(),
        CircuitBreaker.<Response>builder()
            .withFailureRateThreshold(50, 20, Duration.ofMinutes(1)).build(),
        dev.failsafe.RateLimiter.<Response>smoothBuilder(1_000_000_000L, Duration.ofSeconds(1))
            .build(),
        Bulkhead.<Response>builder(1024).withMaxWaitTime(Duration.ofSeconds(10)).build()
      };
    }

    /** One call of {@code request}: its body as text. */
    String call(Request request) throws IOException {
      Policy<Response>[] p = byHost.computeIfAbsent(request.url().host(), Failsafe::policies);
      Call call = okhttp.newCall(request);
      // Failsafe runs the first attempt on this call, and later ones on clones of it (which
      // OkHttp gives the client's own timeouts): the deadline bounds the first attempt only.
      call.timeout().timeout(DEADLINE_NANOS, TimeUnit.NANOSECONDS);
      try (Response r = FailsafeCall.with(p[0], p[1], p[2], p[3]).compose(call).execute()) {
        return r.body().string();
      }
    }
  }
}
