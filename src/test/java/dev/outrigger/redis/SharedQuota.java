package dev.outrigger.redis;

import dev.outrigger.ApiClient;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.Retry;

/** How the tests (and the second JVM) build a client whose rate limit lives in a store. */
final class SharedQuota {
  private SharedQuota() {}

  /**
   * A client of {@code baseUrl} whose rate limit {@code limit} is shared through {@code store},
   * stamping each request with {@code X-Client: name}.
   */
  static ApiClient client(String baseUrl, RateLimit limit, RateLimitStore store, String name) {
    return ApiClient.builder()
        .baseUrl(baseUrl)
        .retry(Retry.none())
        .rateLimit(limit.store(store))
        .addAttemptInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().header("X-Client", name).build()))
        .build();
  }
}
