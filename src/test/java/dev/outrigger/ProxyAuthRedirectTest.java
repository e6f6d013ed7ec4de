package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.util.List;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.Authenticator;
import okhttp3.OkHttpClient;
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
   * request went to (InterceptorSecretRedirectGapsTest keeps it there) or is a proxy
   * authenticator's answer (below), and it stays masked in the message, the snippet quoting it
   * and the DEBUG lines.
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

  /**
   * An OkHttp interceptor's preemptive Proxy-Authorization for proxy A, and a redirect to an
   * origin the ProxySelector sends through proxy B: OkHttp's copy of it does not reach B, but
   * the proxy authenticator's answer to B's 407, the same credentials (one login for both
   * proxies), does. It was stripped as the first request's value written to another proxy than
   * the first request's, so B answered 407 to each answer until OkHttp gave up ("Too many
   * follow-up requests"). A redirect to a third origin B proxies too carries the answer on
   * (B has it already) with no second 407.
   */
  @Test
  void theProxyAuthenticatorsAnswerEqualToThePreemptiveValueReachesTheOtherProxy()
      throws Exception {
    proxy.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "http://b.example.test/landing").build());
    other.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (!CREDS.equals(request.getHeaders().get("Proxy-Authorization"))) {
          return new MockResponse.Builder().code(407)
              .addHeader("Proxy-Authenticate", "Basic realm=\"proxy\"").build();
        }
        return request.getUrl().host().equals("b.example.test")
            ? new MockResponse.Builder().code(302)
                .addHeader("Location", "http://c.example.test/end").build()
            : new MockResponse.Builder().body("ok").build();
      }
    });
    try (ApiClient client = twoProxies((route, response) ->
        response.request().newBuilder().header("Proxy-Authorization", CREDS).build())) {
      assertEquals("ok", client.get("http://a.example.test/start").execute(String.class));
    }
    assertEquals(CREDS, proxy.takeRequest().getHeaders().get("Proxy-Authorization"));
    RecordedRequest carried = other.takeRequest(); // GET http://b.example.test/landing -> 407
    assertEquals("b.example.test", carried.getUrl().host());
    assertNull(carried.getHeaders().get("Proxy-Authorization"),
        "the interceptor's credentials for proxy A were sent to proxy B");
    RecordedRequest answer = other.takeRequest(); // the proxy authenticator's answer -> 302
    assertEquals(CREDS, answer.getHeaders().get("Proxy-Authorization"),
        "the proxy authenticator's answer to proxy B's 407 was stripped");
    RecordedRequest onward = other.takeRequest(); // GET http://c.example.test/end -> 200
    assertEquals("c.example.test", onward.getUrl().host());
    assertEquals(3, other.getRequestCount());
  }

  /**
   * With no proxy authenticator answering B's 407, the interceptor's credentials for proxy A
   * never reach B: the call ends with the 407.
   */
  @Test
  void withoutAProxyAuthenticatorThePreemptiveValueDoesNotReachTheOtherProxy() throws Exception {
    proxy.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "http://b.example.test/landing").build());
    other.enqueue(new MockResponse.Builder().code(407)
        .addHeader("Proxy-Authenticate", "Basic realm=\"proxy\"").build());
    try (ApiClient client = twoProxies(Authenticator.NONE)) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("http://a.example.test/start").execute(String.class));
      assertEquals(407, e.status());
    }
    assertEquals(CREDS, proxy.takeRequest().getHeaders().get("Proxy-Authorization"));
    assertNull(other.takeRequest().getHeaders().get("Proxy-Authorization"),
        "the interceptor's credentials for proxy A were sent to proxy B");
    assertEquals(1, other.getRequestCount());
  }

  /**
   * A client whose OkHttp interceptor sets {@link #CREDS} preemptively, sending a.example.test
   * through {@code proxy} and every other host through {@code other}, both HTTP proxies.
   */
  private ApiClient twoProxies(Authenticator proxyAuthenticator) {
    Proxy a = new Proxy(Proxy.Type.HTTP,
        new InetSocketAddress(proxy.getHostName(), proxy.getPort()));
    Proxy b = new Proxy(Proxy.Type.HTTP,
        new InetSocketAddress(other.getHostName(), other.getPort()));
    ProxySelector byHost = new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        return List.of(uri.getHost().equals("a.example.test") ? a : b);
      }

      @Override
      public void connectFailed(URI uri, SocketAddress address, IOException e) {}
    };
    OkHttpClient ok = new OkHttpClient.Builder().proxySelector(byHost)
        .proxyAuthenticator(proxyAuthenticator).build();
    return ApiClient.builder().okHttpClient(ok).retry(Retry.none())
        .addOkHttpInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().header("Proxy-Authorization", CREDS).build()))
        .build();
  }
}
