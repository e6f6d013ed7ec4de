package dev.outrigger.internal;

import dev.outrigger.CallInterceptor;
import java.util.List;
import okhttp3.Request;
import okhttp3.Response;

/**
 * The client's interceptors in order, outer to inner; the last one is the transport.
 *
 * <p>A call walks the chain through its own context, which is the {@link CallInterceptor.Chain}
 * every interceptor sees: the context holds the position and the request, and each step puts
 * them back when it returns, so an interceptor that proceeds twice (a retry) or reads
 * {@code request()} after proceeding sees its own. No link object is made per step.
 */
public final class PolicyChain {
  private final CallInterceptor[] interceptors;
  private final List<CallInterceptor> list;
  /** Per interceptor: whether a clock reading taken before it still holds after it. */
  private final boolean[] keepsClock;
  private final Closing closing;

  /** A chain of a client that is never closed (tests, benchmarks). */
  public PolicyChain(List<CallInterceptor> interceptors) {
    this(interceptors, new Closing());
  }

  /** A chain whose waits {@code closing} cuts short when its client closes. */
  public PolicyChain(List<CallInterceptor> interceptors, Closing closing) {
    this.closing = closing;
    if (interceptors.isEmpty()) {
      throw new IllegalArgumentException("a chain needs at least its transport");
    }
    this.list = List.copyOf(interceptors);
    this.interceptors = list.toArray(new CallInterceptor[0]);
    this.keepsClock = new boolean[this.interceptors.length];
    for (int i = 0; i < keepsClock.length; i++) {
      keepsClock[i] = this.interceptors[i] instanceof KeepsClock;
    }
  }

  /** Runs {@code request} through the whole chain, with {@code ctx} as every step's chain. */
  public Response proceed(RealCallContext ctx, Request request) {
    ctx.enter(this, request);
    return ctx.proceed(request);
  }

  /** The closed flag, and waits, of this chain's client. */
  public Closing closing() {
    return closing;
  }

  public List<CallInterceptor> interceptors() {
    return list;
  }

  /**
   * One step: runs the interceptor at {@code ctx}'s position with {@code next}, then restores
   * the position and request its caller had.
   */
  Response step(RealCallContext ctx, int index, Request current, Request next) {
    if (index >= interceptors.length) {
      throw new IllegalStateException("the transport must not call proceed()");
    }
    if (next == null) {
      throw new NullPointerException("interceptor " + interceptors[index - 1]
          + " called proceed() with a null request");
    }
    if (index > 0 && !keepsClock[index - 1]) {
      // The caller is another's interceptor: it may have taken any time before proceeding
      // (between two proceed() calls, too).
      ctx.staleClock();
    }
    CallInterceptor interceptor = interceptors[index];
    Response response;
    ctx.at(index + 1, next);
    try {
      response = interceptor.intercept(ctx);
    } finally {
      ctx.at(index, current);
      if (!keepsClock[index]) {
        // ... and on its way out.
        ctx.staleClock();
      }
    }
    if (response == null) {
      throw new IllegalStateException("interceptor " + interceptor + " returned null");
    }
    return response;
  }
}
