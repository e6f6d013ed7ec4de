package dev.outrigger.internal.ratelimit;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.TransportException;
import dev.outrigger.internal.RealCallContext;
import java.io.IOException;
import java.util.List;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * A small real policy chain for tests: the given interceptors in order, then a terminal step
 * that sends the attempt with OkHttp over a real socket and buffers the body, standing in for
 * the client's transport.
 */
final class MiniChain implements CallInterceptor.Chain {
  private final OkHttpClient client;
  private final List<CallInterceptor> interceptors;
  private final int index;
  private final RealCallContext ctx;
  private final Request request;

  private MiniChain(OkHttpClient client, List<CallInterceptor> interceptors, int index,
      RealCallContext ctx, Request request) {
    this.client = client;
    this.interceptors = interceptors;
    this.index = index;
    this.ctx = ctx;
    this.request = request;
  }

  static Response run(OkHttpClient client, List<CallInterceptor> interceptors,
      RealCallContext ctx, Request request) {
    return new MiniChain(client, interceptors, 0, ctx, request).proceed(request);
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
  public Response proceed(Request r) {
    if (index < interceptors.size()) {
      return interceptors.get(index)
          .intercept(new MiniChain(client, interceptors, index + 1, ctx, r));
    }
    ctx.markSent();
    try (Response raw = client.newCall(r).execute()) {
      ResponseBody body = ResponseBody.create(raw.body().bytes(), raw.body().contentType());
      return raw.newBuilder().body(body).build();
    } catch (IOException e) {
      throw new TransportException(ctx.describe() + " failed", e, ctx.attemptsSent(),
          TransportException.Kind.IO);
    }
  }

  /** A stand-in retry policy: up to {@code max} attempts while the status is 5xx. */
  static CallInterceptor retry(int max) {
    return chain -> {
      RealCallContext c = (RealCallContext) chain.context();
      for (;;) {
        c.beginAttempt();
        Response response = chain.proceed(chain.request());
        if (response.code() < 500 || c.attempt() >= max) {
          return response;
        }
        response.close();
      }
    };
  }
}
