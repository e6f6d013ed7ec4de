package dev.outrigger.internal.ratelimit;

import dev.outrigger.CallInterceptor;
import dev.outrigger.RateLimit;
import dev.outrigger.internal.NanoClock;
import okhttp3.Response;

/** STUB (to be replaced by the Rate limiting issue): takes no permit. */
public final class RateLimitInterceptor implements CallInterceptor {
  private final RateLimit limit;

  public RateLimitInterceptor(RateLimit limit, NanoClock clock) {
    this.limit = limit;
  }

  @Override
  public Response intercept(Chain chain) {
    return chain.proceed(chain.request());
  }

  @Override
  public String toString() {
    return limit.toString();
  }
}
