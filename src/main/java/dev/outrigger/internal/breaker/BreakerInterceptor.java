package dev.outrigger.internal.breaker;

import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.internal.NanoClock;
import okhttp3.Response;

/** STUB (to be replaced by the Circuit breaker issue): lets every attempt through. */
public final class BreakerInterceptor implements CallInterceptor {
  private final CircuitBreaker config;

  public BreakerInterceptor(CircuitBreaker config, NanoClock clock, CallListener listener) {
    this.config = config;
  }

  @Override
  public Response intercept(Chain chain) {
    return chain.proceed(chain.request());
  }

  @Override
  public String toString() {
    return config.toString();
  }
}
