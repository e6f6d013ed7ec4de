package dev.outrigger;

import static dev.outrigger.AuthenticatorAnswerSupport.TOKEN;
import static dev.outrigger.AuthenticatorAnswerSupport.answersWith;
import static dev.outrigger.AuthenticatorAnswerSupport.get;
import static dev.outrigger.AuthenticatorAnswerSupport.landsWithTheToken;
import static dev.outrigger.AuthenticatorAnswerSupport.redirectTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import java.net.InetSocketAddress;
import java.net.Proxy;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/**
 * A redirect to another origin drops the secret headers an OkHttp interceptor of the caller's set
 * on the call (compared with the first request as written), but not what OkHttp adds for the new
 * target: an authenticator's or a proxy authenticator's answer equal to the interceptor's value
 * stays. A first version compared every secret name with the first request, and stripped those
 * answers; it also left an interceptor's Cookie to a client without a cookie jar.
 */
class InterceptorSecretRedirectGapsTest {
  @StartStop
  private final MockWebServer a = new MockWebServer();

  @StartStop
  private final MockWebServer b = new MockWebServer();

  /**
   * README (Security): "What OkHttp adds for the new target stays: ... an authenticator's answer
   * to the new origin's 401". The usual OkHttp pair, an interceptor that sets the token and an
   * Authenticator that answers a 401 with it, meets a redirect to another origin of the same
   * API: OkHttp drops Authorization on the way out, the other origin answers 401, and the
   * Authenticator answers it with the token. That answer equals the first request's
   * Authorization (the interceptor's), and must not be stripped (stripped, the origin answered
   * 401 again, and the call failed with the 401). OkHttp removes
   * Authorization on every change of origin itself, so a cross-origin Authorization is always
   * an authenticator's (or a network interceptor's) answer: comparing it with the first request
   * only ever strips those.
   */
  @Test
  void anAuthenticatorsAnswerToTheNewOriginsChallengeIsSentWhenItEqualsTheInterceptorsToken()
      throws Exception {
    a.enqueue(redirectTo(b.url("/landing").toString()));
    b.setDispatcher(landsWithTheToken());
    OkHttpClient ok = new OkHttpClient.Builder().authenticator(answersWith(TOKEN)).build();
    String body = get(ok, ApiClient.builder()
        .addOkHttpInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().header("Authorization", TOKEN).build())),
        c -> c.get(a.url("/start").toString()));
    assertEquals("landed", body);
    assertEquals(TOKEN, a.takeRequest().getHeaders().get("Authorization"));
    assertNull(b.takeRequest().getHeaders().get("Authorization"),
        "the first request's token went to the other origin");
    assertEquals(TOKEN, b.takeRequest().getHeaders().get("Authorization"),
        "the Authenticator's answer to the other origin's 401 was stripped");
  }

  /**
   * A session cookie an OkHttp interceptor sets by hand, on a client with no cookie jar (so no
   * cookie of the first request is a jar's), is copied by OkHttp into the follow-up: it must not
   * reach the other origin. BridgeInterceptor replaces the Cookie header with
   * the jar's whenever the jar has cookies for the new URL, so a Cookie reaching the network
   * from the first request's header, with no jar cookies for the new URL, is never the jar's.
   */
  @Test
  void aCookieAnOkHttpInterceptorSetsDoesNotFollowARedirectToAnotherOrigin() throws Exception {
    a.enqueue(redirectTo(b.url("/landing").toString()));
    b.enqueue(new MockResponse.Builder().body("landed").build());
    try (ApiClient client = ApiClient.builder().baseUrl(a.url("/").toString())
        .retry(Retry.none())
        .addOkHttpInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().header("Cookie", "session=s3cr3t").build()))
        .build()) {
      assertEquals("landed", client.get("/start").execute(String.class));
    }
    assertEquals("session=s3cr3t", a.takeRequest().getHeaders().get("Cookie"));
    assertNull(b.takeRequest().getHeaders().get("Cookie"),
        "the interceptor's session cookie was sent to another origin");
  }

  /**
   * The same for a proxy's credentials. README: "What OkHttp adds for the new target stays: ...
   * a proxy authenticator's answer to a 407". An OkHttp interceptor sets Proxy-Authorization
   * preemptively and the proxyAuthenticator answers a 407 with the same value: after a redirect
   * to another host through the proxy, the answer equals the first request's header and must
   * reach the proxy (stripped, 407 followed 407, and the call failed with the 407).
   */
  @Test
  void aProxyAuthenticatorsAnswerEqualToTheInterceptorsReachesTheProxyAfterARedirect()
      throws Exception {
    String creds = "Basic cHJveHk6cHc=";
    MockWebServer proxy = a;
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (!creds.equals(request.getHeaders().get("Proxy-Authorization"))) {
          return new MockResponse.Builder().code(407)
              .addHeader("Proxy-Authenticate", "Basic realm=\"proxy\"").build();
        }
        return request.getUrl().host().equals("a.example.test")
            ? new MockResponse.Builder().code(302)
                .addHeader("Location", "http://b.example.test/landing").build()
            : new MockResponse.Builder().body("landed").build();
      }
    });
    Proxy p = new Proxy(Proxy.Type.HTTP,
        new InetSocketAddress(proxy.getHostName(), proxy.getPort()));
    try (ApiClient client = ApiClient.builder()
        .proxy(p, (route, response) -> creds.equals(response.request().header("Proxy-Authorization"))
            ? null
            : response.request().newBuilder().header("Proxy-Authorization", creds).build())
        .addOkHttpInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().header("Proxy-Authorization", creds).build()))
        .retry(Retry.none()).build()) {
      assertEquals("landed", client.get("http://a.example.test/start").execute(String.class));
    }
  }
}
