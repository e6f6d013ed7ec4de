package dev.outrigger.internal.http;

import dev.outrigger.Auth;
import dev.outrigger.CallInterceptor;
import dev.outrigger.internal.RealCallContext;
import okhttp3.Response;

/**
 * The auth hook in two parts: {@link #stamp} (per attempt) sets {@code Authorization};
 * {@link #refresh} (per call, outside retry) answers a 401 once by asking the hook for a fresh
 * value and sending the call again through the whole chain, so the extra request is counted,
 * rate limited and breaker-checked like any attempt.
 */
public final class AuthInterceptors {
  private static final String FRESH = "outrigger.auth.fresh";

  private AuthInterceptors() {}

  public static CallInterceptor stamp(Auth auth) {
    return new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        Object fresh = chain.context().attribute(FRESH);
        String value = fresh != null ? (String) fresh : auth.authorization(false);
        if (value == null) {
          return chain.proceed(chain.request());
        }
        return chain.proceed(chain.request().newBuilder().header("Authorization", value).build());
      }

      @Override
      public String toString() {
        return "Auth";
      }
    };
  }

  public static CallInterceptor refresh(Auth auth) {
    return new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        Response response = chain.proceed(chain.request());
        RealCallContext ctx = (RealCallContext) chain.context();
        if (response.code() != 401 || ctx.attribute(FRESH) != null) {
          return response;
        }
        String fresh = auth.authorization(true);
        if (fresh == null) {
          return response;
        }
        response.close();
        ctx.attribute(FRESH, fresh);
        return chain.proceed(chain.request());
      }

      @Override
      public String toString() {
        return "AuthRefreshOn401";
      }
    };
  }
}
