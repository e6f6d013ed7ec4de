package dev.outrigger;

import java.util.function.Function;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import okhttp3.Authenticator;
import okhttp3.OkHttpClient;

/**
 * Setup shared by the tests of an OkHttp authenticator's answer after a redirect to another
 * origin: the token, the server's answers, an authenticator that answers a 401 with a token, and
 * a call through a client over a given OkHttpClient.
 */
final class AuthenticatorAnswerSupport {
  /** The call's (or the interceptor's) Authorization, and the authenticator's answer. */
  static final String TOKEN = "Bearer t-0123456789";

  private AuthenticatorAnswerSupport() {}

  /** A 302 to {@code location}. */
  static MockResponse redirectTo(String location) {
    return new MockResponse.Builder().code(302).addHeader("Location", location).build();
  }

  /** A 401 with a Bearer challenge of {@code realm}. */
  static MockResponse challenge(String realm) {
    return new MockResponse.Builder().code(401)
        .addHeader("WWW-Authenticate", "Bearer realm=\"" + realm + "\"").build();
  }

  /** "landed" to a request carrying {@link #TOKEN}, and to any other a 401 (realm "api"). */
  static MockResponse landedWithTheToken(RecordedRequest request) {
    return TOKEN.equals(request.getHeaders().get("Authorization"))
        ? new MockResponse.Builder().body("landed").build()
        : challenge("api");
  }

  /** Answers every request as {@link #landedWithTheToken}. */
  static Dispatcher landsWithTheToken() {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return landedWithTheToken(request);
      }
    };
  }

  /**
   * Answers a 401 with {@code token} unless the request carried it already (refused with it
   * already: gives up, as OkHttp's recipe does).
   */
  static Authenticator answersWith(String token) {
    return (route, response) -> token.equals(response.request().header("Authorization"))
        ? null
        : response.request().newBuilder().header("Authorization", token).build();
  }

  /** GETs {@code url} with {@link #TOKEN} as its Authorization; see {@link #get}. */
  static String getWithToken(OkHttpClient ok, ApiClient.Builder builder, String url) {
    return get(ok, builder, c -> c.get(url).header("Authorization", TOKEN));
  }

  /**
   * Executes the request {@code call} makes on a client of {@code builder} over {@code ok}, with
   * no retries, and returns its body; then stops {@code ok}'s threads and pooled connections.
   */
  static String get(OkHttpClient ok, ApiClient.Builder builder,
      Function<ApiClient, ApiRequest> call) {
    try (ApiClient client = builder.okHttpClient(ok).retry(Retry.none()).build()) {
      return call.apply(client).execute(String.class);
    } finally {
      ok.dispatcher().executorService().shutdown();
      ok.connectionPool().evictAll();
    }
  }
}
