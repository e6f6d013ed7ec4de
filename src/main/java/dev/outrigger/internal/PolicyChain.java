package dev.outrigger.internal;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import java.util.List;
import okhttp3.Request;
import okhttp3.Response;

/** The client's interceptors in order, outer to inner; the last one is the transport. */
public final class PolicyChain {
  private final List<CallInterceptor> interceptors;
  /** Per interceptor: whether a clock reading taken before it still holds after it. */
  private final boolean[] keepsClock;

  public PolicyChain(List<CallInterceptor> interceptors) {
    if (interceptors.isEmpty()) {
      throw new IllegalArgumentException("a chain needs at least its transport");
    }
    this.interceptors = List.copyOf(interceptors);
    this.keepsClock = new boolean[interceptors.size()];
    for (int i = 0; i < keepsClock.length; i++) {
      keepsClock[i] = this.interceptors.get(i) instanceof KeepsClock;
    }
  }

  public Response proceed(RealCallContext ctx, Request request) {
    return new RealChain(0, request, ctx).proceed(request);
  }

  public List<CallInterceptor> interceptors() {
    return interceptors;
  }

  private final class RealChain implements CallInterceptor.Chain {
    private final int index;
    private final Request request;
    private final RealCallContext ctx;

    RealChain(int index, Request request, RealCallContext ctx) {
      this.index = index;
      this.request = request;
      this.ctx = ctx;
    }

    @Override
    public Request request() {
      return request;
    }

    @Override
    public CallContext context() {
      return ctx;
    }

    @Override
    public Response proceed(Request next) {
      if (index >= interceptors.size()) {
        throw new IllegalStateException("the transport must not call proceed()");
      }
      CallInterceptor interceptor = interceptors.get(index);
      Response response;
      if (keepsClock[index]) {
        response = interceptor.intercept(new RealChain(index + 1, next, ctx));
      } else {
        // Another's interceptor may take any time, on the way in and on the way out.
        ctx.staleClock();
        try {
          response = interceptor.intercept(new RealChain(index + 1, next, ctx));
        } finally {
          ctx.staleClock();
        }
      }
      if (response == null) {
        throw new IllegalStateException("interceptor " + interceptor + " returned null");
      }
      return response;
    }
  }
}
