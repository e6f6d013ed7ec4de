package dev.outrigger.redis;

import dev.outrigger.ApiClient;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.Retry;

/** How the tests (and the second JVM) build a client whose rate limit lives in a store. */
final class SharedQuota {
  /**
   * When the store let this thread's current attempt go: {@code System.nanoTime()} when its
   * answer came plus the wait it gave. CLOCK_MONOTONIC, so comparable across the test's JVMs.
   */
  private static final ThreadLocal<long[]> RELEASED = ThreadLocal.withInitial(() -> new long[1]);

  private SharedQuota() {}

  /**
   * A client of {@code baseUrl} whose rate limit {@code limit} is shared through {@code store},
   * stamping each request with {@code X-Client: name} and {@code X-Released: nanos}, the time
   * the store released its permit (what the bucket bounds, before this JVM's scheduling, OkHttp
   * and the server add their delays).
   */
  static ApiClient client(String baseUrl, RateLimit limit, RateLimitStore store, String name) {
    RateLimitStore stamping = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit l, int permits, long maxWaitNanos)
          throws InterruptedException {
        long r = store.reserve(key, l, permits, maxWaitNanos);
        if (r >= 0) {
          RELEASED.get()[0] = System.nanoTime() + r;
        }
        return r;
      }

      @Override
      public long heldFor(String key, RateLimit l, long lateNanos, long maxWaitNanos)
          throws InterruptedException {
        return store.heldFor(key, l, lateNanos, maxWaitNanos);
      }

      @Override
      public long pause(String key, RateLimit l, long pauseNanos) {
        return store.pause(key, l, pauseNanos);
      }

      @Override
      public long pause(String key, RateLimit l, long pauseNanos, long maxWaitNanos) {
        return store.pause(key, l, pauseNanos, maxWaitNanos);
      }

      @Override
      public String toString() {
        return store.toString();
      }
    };
    return ApiClient.builder()
        .baseUrl(baseUrl)
        .retry(Retry.none())
        .rateLimit(limit.store(stamping))
        .addAttemptInterceptor(chain -> chain.proceed(chain.request().newBuilder()
            .header("X-Client", name)
            .header("X-Released", Long.toString(RELEASED.get()[0]))
            .build()))
        .build();
  }
}
