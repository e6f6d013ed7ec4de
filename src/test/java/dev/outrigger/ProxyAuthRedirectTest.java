package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Proxy;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * The Proxy-Authorization the client's proxyAuthenticator adds for a 407 is for the proxy,
 * whatever the origin: after a redirect to another host through an authenticating HTTP proxy,
 * its answer to the 407 reaches the proxy (it was stripped as a credential of the first origin,
 * 407 again until OkHttp gave up).
 */
class ProxyAuthRedirectTest {
  private static final String CREDS = "Basic cHJveHk6cHc9c2VjcmV0";

  @StartStop
  private final MockWebServer proxy = new MockWebServer();

  @StartStop
  private final MockWebServer other = new MockWebServer();

  /**
   * A Proxy-Authorization an OkHttp interceptor of the caller's sets (preemptive proxy
   * credentials) is copied by OkHttp into every follow-up. With no proxy, it went to the origin
   * a redirect named, like any header of the call's: it was compared with the call's own
   * request only, as the proxy authenticator's answer must stay. It is now dropped on the way to
   * another origin unless the follow-up is written in the clear to the proxy the call's first
   * request went to (see the tests below, which keep it), and it stays masked in the message,
   * the snippet quoting it and the DEBUG lines.
   */
  @Test
  void anInterceptorsProxyAuthorizationDoesNotFollowARedirectToAnotherOrigin() throws Exception {
    MockWebServer origin = proxy; // no proxy here
    // Same machine, different host name: 127.0.0.1 versus localhost.
    String target = other.url("/landing").newBuilder().host("127.0.0.1").build().toString();
    origin.enqueue(new MockResponse.Builder().code(302).addHeader("Location", target).build());
    other.enqueue(new MockResponse.Builder().code(403).body("refused " + CREDS).build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(origin.url("/").toString())
            .retry(Retry.none())
            .addOkHttpInterceptor(chain -> chain.proceed(
                chain.request().newBuilder().header("Proxy-Authorization", CREDS).build()))
            .build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/start").execute(String.class));
      assertEquals("refused REDACTED", e.bodySnippet());
      String all = e.getMessage() + "\n" + logs.all();
      assertTrue(all.contains("sent without [Proxy-Authorization]"), all);
      assertFalse(all.contains("cHJveHk6cHc9c2VjcmV0"), all);
    }
    assertEquals(CREDS, origin.takeRequest().getHeaders().get("Proxy-Authorization"));
    assertNull(other.takeRequest().getHeaders().get("Proxy-Authorization"),
        "the interceptor's proxy credentials were sent to another origin");
  }

  @Test
  void theProxyAuthenticatorsAnswerReachesTheProxyAfterACrossOriginRedirect() throws Exception {
    proxy.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "http://b.example.test/landing").build());
    proxy.enqueue(new MockResponse.Builder().code(407)
        .addHeader("Proxy-Authenticate", "Basic realm=\"proxy\"").build());
    proxy.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    Proxy p = new Proxy(Proxy.Type.HTTP,
        new InetSocketAddress(proxy.getHostName(), proxy.getPort()));
    try (ApiClient client = ApiClient.builder()
        .proxy(p, (route, response) -> response.request().newBuilder()
            .header("Proxy-Authorization", "Basic cHJveHk6cHc=").build())
        .retry(Retry.none()).build()) {
      assertEquals("ok", client.get("http://a.example.test/start").execute(String.class));
    } catch (HttpStatusException e) {
      // 407 at the end: checked below
    }
    proxy.takeRequest(); // GET http://a.example.test/start -> 302
    proxy.takeRequest(); // GET http://b.example.test/landing -> 407
    RecordedRequest answer = proxy.takeRequest(); // the authenticator's answer to the 407
    assertEquals("Basic cHJveHk6cHc=", answer.getHeaders().get("Proxy-Authorization"),
        "the proxy authenticator's credentials were stripped on the way to the proxy");
  }
}
