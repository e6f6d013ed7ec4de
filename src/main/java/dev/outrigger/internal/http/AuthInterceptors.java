package dev.outrigger.internal.http;

import dev.outrigger.Auth;
import dev.outrigger.CallInterceptor;
import dev.outrigger.internal.RealCallContext;
import okhttp3.HttpUrl;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * The auth hook in two parts: {@link #stamp} (per attempt) sets {@code Authorization};
 * {@link #refresh} (per call, outside retry) answers a 401 once by asking the hook for a fresh
 * value and sending the call again through the whole chain, so the extra request is counted,
 * rate limited and breaker-checked like any attempt (never a request whose body is one-shot: the
 * attempt that met the 401 read it). With a base URL, both act only on requests to its origin
 * (scheme, host and port): a call to an absolute URL elsewhere (a pre-signed link from a response,
 * another API) carries no credentials of this client's.
 */
public final class AuthInterceptors {
  private static final String FRESH = "outrigger.auth.fresh";

  private AuthInterceptors() {}

  /**
   * Whether {@code url} is on {@code base}'s origin, or there is no base URL (a client that
   * calls absolute URLs only: its auth is for every call).
   */
  static boolean ours(HttpUrl base, HttpUrl url) {
    return base == null || NetworkInterceptor.sameOrigin(base, url);
  }

  /**
   * Whether {@code response} came from the origin of the attempt's first request, where its
   * {@code Authorization} went: no redirect OkHttp followed left that origin, or one came back.
   */
  static boolean fromFirstOrigin(Response response) {
    Response first = response;
    while (first.priorResponse() != null) {
      first = first.priorResponse();
    }
    return first == response
        || NetworkInterceptor.sameOrigin(first.request().url(), response.request().url());
  }

  /**
   * The {@code Authorization} the request that met {@code response} carried as it was written
   * (the network's request: a redirect back to the call's origin has it again only there).
   */
  static String refused(Response response) {
    Response network = response.networkResponse();
    return (network != null ? network : response).request().header("Authorization");
  }

  /** Sets {@code Authorization} on each attempt to {@code base}'s origin (null: every one). */
  public static CallInterceptor stamp(Auth auth, HttpUrl base) {
    return new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        if (!ours(base, chain.request().url())) {
          return chain.proceed(chain.request());
        }
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

  /** Answers a 401 from {@code base}'s origin (null: any) once with a fresh value. */
  public static CallInterceptor refresh(Auth auth, HttpUrl base) {
    return new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        Response response = chain.proceed(chain.request());
        RealCallContext ctx = (RealCallContext) chain.context();
        if (response.code() != 401 || ctx.attribute(FRESH) != null
            || !ours(base, chain.request().url())) {
          return response;
        }
        RequestBody body = chain.request().body();
        if (body != null && body.isOneShot()) {
          // The attempt that got the 401 read the body: it cannot be sent again (as the retry
          // policy never sends it twice, and OkHttp sends no follow-up with such a body).
          return response;
        }
        if (!fromFirstOrigin(response)) {
          // A redirect OkHttp followed took the attempt to another origin, which the
          // credentials did not go to: its 401 says nothing of them.
          return response;
        }
        String fresh = auth.authorization(true);
        if (fresh == null || fresh.equals(refused(response))) {
          // Nothing fresh: the value the server just refused would be refused again (a cached
          // token behind Auth.bearer), as OkHttp's Authenticator recipe gives up on it.
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
