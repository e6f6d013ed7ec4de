package dev.outrigger.internal.bulkhead;

import dev.outrigger.CallInterceptor;
import dev.outrigger.internal.NanoClock;
import okhttp3.Response;

/** STUB (to be replaced by the FanOut issue): no in-flight bound. */
public final class InFlightLimiter implements CallInterceptor {
  private final int maxPerHost;

  public InFlightLimiter(int maxPerHost, NanoClock clock) {
    this.maxPerHost = maxPerHost;
  }

  @Override
  public Response intercept(Chain chain) {
    return chain.proceed(chain.request());
  }

  @Override
  public String toString() {
    return "InFlightLimit[" + maxPerHost + " per host]";
  }
}
