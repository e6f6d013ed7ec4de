package dev.outrigger.internal.retry;

import dev.outrigger.CallInterceptor;
import dev.outrigger.Retry;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import okhttp3.Response;

/** STUB (to be replaced by the Retry issue): sends exactly one attempt. */
public final class RetryInterceptor implements CallInterceptor {
  private final Retry retry;

  public RetryInterceptor(Retry retry, NanoClock clock) {
    this.retry = retry;
  }

  @Override
  public Response intercept(Chain chain) {
    ((RealCallContext) chain.context()).beginAttempt();
    return chain.proceed(chain.request());
  }

  @Override
  public String toString() {
    return retry.toString();
  }
}
