package dev.outrigger.internal.ratelimit;

import dev.outrigger.CallInterceptor;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.http.Transport;
import java.util.ArrayList;
import java.util.List;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * A small real policy chain for tests: the given interceptors in order, then the client's own
 * transport, which sends the attempt with OkHttp over a real socket and buffers the body.
 */
final class MiniChain {
  private MiniChain() {}

  static Response run(OkHttpClient client, List<CallInterceptor> interceptors,
      RealCallContext ctx, Request request) {
    List<CallInterceptor> all = new ArrayList<>(interceptors);
    all.add(new Transport(client, null, 16L * 1024 * 1024, null, false, false));
    return new PolicyChain(all).proceed(ctx, request);
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
