package dev.outrigger;

import static dev.outrigger.AuthenticatorAnswerSupport.TOKEN;
import static dev.outrigger.AuthenticatorAnswerSupport.answersWith;
import static dev.outrigger.AuthenticatorAnswerSupport.challenge;
import static dev.outrigger.AuthenticatorAnswerSupport.getWithToken;
import static dev.outrigger.AuthenticatorAnswerSupport.landsWithTheToken;
import static dev.outrigger.AuthenticatorAnswerSupport.redirectTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/**
 * README (Security): "What OkHttp adds for the new target stays: ... an authenticator's answer
 * to the new origin's 401". A redirect to another origin dropped every Authorization equal to
 * the call's own, so an OkHttp Authenticator that answers the new origin's 401 with the token
 * the call carried (one token for the API's hosts) had its answer stripped: the origin answered
 * 401 again, the Authenticator saw its token refused and gave up, and the call failed with the
 * 401. OkHttp drops Authorization itself on a redirect that changes host, port or scheme, so
 * one equal to the call's own reaching another origin after that origin's 401, which the request
 * that met it did not carry, is an authenticator's answer (and OkHttp's copies of it within that
 * origin); anywhere else it is the call's carried over, and still dropped.
 */
class AuthenticatorAnswerAfterRedirectTest {
  @StartStop
  private final MockWebServer a = new MockWebServer();

  @StartStop
  private final MockWebServer b = new MockWebServer();

  @Test
  void anAuthenticatorsAnswerEqualToTheCallsOwnAuthorizationIsSentToTheNewOrigin()
      throws Exception {
    a.enqueue(redirectTo(b.url("/landing").toString()));
    b.setDispatcher(landsWithTheToken());
    OkHttpClient ok = new OkHttpClient.Builder().authenticator(answersWith(TOKEN)).build();
    String body = getWithToken(ok, ApiClient.builder(), a.url("/start").toString());
    assertEquals("landed", body);
    assertEquals(TOKEN, a.takeRequest().getHeaders().get("Authorization"));
    assertNull(b.takeRequest().getHeaders().get("Authorization"),
        "the call's token went to the other origin unasked");
    assertEquals(TOKEN, b.takeRequest().getHeaders().get("Authorization"),
        "the Authenticator's answer to the other origin's 401 was stripped");
  }

  /**
   * The rule's other side: an OkHttp interceptor of the caller's that follows a redirect itself,
   * keeping the call's headers, sends the call's Authorization to the other origin unasked (no
   * 401 from it came first): it is dropped, as before.
   */
  @Test
  void theCallsAuthorizationAnInterceptorCarriesToAnotherOriginUnaskedIsDropped()
      throws Exception {
    a.enqueue(redirectTo(b.url("/landing").toString()));
    b.enqueue(new MockResponse.Builder().body("landed").build());
    OkHttpClient ok = new OkHttpClient.Builder().followRedirects(false).build();
    String body = getWithToken(ok, ApiClient.builder()
        .addOkHttpInterceptor(chain -> {
          Response first = chain.proceed(chain.request());
          String location = first.header("Location");
          if (location == null) {
            return first;
          }
          first.close();
          return chain.proceed(chain.request().newBuilder()
              .url(chain.request().url().resolve(location)).build());
        }), a.url("/start").toString());
    assertEquals("landed", body);
    assertEquals(TOKEN, a.takeRequest().getHeaders().get("Authorization"));
    assertNull(b.takeRequest().getHeaders().get("Authorization"),
        "the call's token went to the other origin unasked");
  }

  /**
   * The authenticator's answer goes on with OkHttp's redirects within the origin it was given
   * for: OkHttp copies it into each follow-up on the same host, and it stays.
   */
  @Test
  void anAuthenticatorsAnswerFollowsARedirectWithinTheNewOrigin() throws Exception {
    a.enqueue(redirectTo(b.url("/landing").toString()));
    b.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (!TOKEN.equals(request.getHeaders().get("Authorization"))) {
          return challenge("api");
        }
        return request.getUrl().encodedPath().equals("/landing")
            ? redirectTo("/next")
            : new MockResponse.Builder().body("next").build();
      }
    });
    OkHttpClient ok = new OkHttpClient.Builder().authenticator(answersWith(TOKEN)).build();
    String body = getWithToken(ok, ApiClient.builder(), a.url("/start").toString());
    assertEquals("next", body);
    a.takeRequest();
    assertNull(b.takeRequest().getHeaders().get("Authorization"));
    assertEquals(TOKEN, b.takeRequest().getHeaders().get("Authorization"));
    RecordedRequest next = b.takeRequest();
    assertEquals("/next", next.getUrl().encodedPath());
    assertEquals(TOKEN, next.getHeaders().get("Authorization"));
  }

  /**
   * A 401 from the other origin does not make every later request there an authenticator's
   * answer. An OkHttp interceptor of the caller's follows redirects itself, copying the call's
   * headers onto each hop; the other origin's 401 is answered by an authenticator with that
   * origin's own token, and redirects within it. The interceptor's next hop there carries the
   * call's Authorization again, which no authenticator gave: it is dropped, as on the first hop.
   */
  @Test
  void theCallsAuthorizationAnInterceptorCarriesToAnOriginThatAnsweredA401IsDropped()
      throws Exception {
    String other = "Bearer b-9876543210";
    a.enqueue(redirectTo(b.url("/landing").toString()));
    b.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (!request.getUrl().encodedPath().equals("/landing")) {
          return new MockResponse.Builder().body("next").build();
        }
        return other.equals(request.getHeaders().get("Authorization"))
            ? redirectTo("/next")
            : challenge("b");
      }
    });
    OkHttpClient ok = new OkHttpClient.Builder().followRedirects(false)
        .authenticator(answersWith(other)).build();
    String body = getWithToken(ok, ApiClient.builder()
        .addOkHttpInterceptor(chain -> {
          Response r = chain.proceed(chain.request());
          while (r.isRedirect()) {
            HttpUrl to = r.request().url().resolve(r.header("Location"));
            r.close();
            r = chain.proceed(chain.request().newBuilder().url(to).build());
          }
          return r;
        }), a.url("/start").toString());
    assertEquals("next", body);
    assertEquals(TOKEN, a.takeRequest().getHeaders().get("Authorization"));
    assertNull(b.takeRequest().getHeaders().get("Authorization"));
    assertEquals(other, b.takeRequest().getHeaders().get("Authorization"));
    RecordedRequest next = b.takeRequest();
    assertEquals("/next", next.getUrl().encodedPath());
    assertNull(next.getHeaders().get("Authorization"),
        "the call's token went to the other origin, which never asked for it");
  }
}
