package dev.outrigger.redis;

import dev.outrigger.ApiClient;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.Retry;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.ratelimit.SharedRateLimitInterceptor;

/** How the tests (and the second JVM) build a client whose rate limit lives in a store. */
final class SharedQuota {
  private SharedQuota() {}

  /**
   * A client of {@code baseUrl} whose rate limit {@code limit} is shared through {@code store},
   * stamping each request with {@code X-Client: name}.
   */
  static ApiClient client(String baseUrl, RateLimit limit, RateLimitStore store, String name) {
    // Until RateLimit carries its store (the lead's integration step), the store's interceptor
    // is installed as an attempt interceptor: once per attempt, like the rate-limit step.
    return ApiClient.builder()
        .baseUrl(baseUrl)
        .retry(Retry.none())
        .addAttemptInterceptor(new SharedRateLimitInterceptor(limit, store, NanoClock.SYSTEM))
        .addAttemptInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().header("X-Client", name).build()))
        .build();
  }
}
