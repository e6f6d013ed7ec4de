package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
  @StartStop
  private final MockWebServer proxy = new MockWebServer();

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
