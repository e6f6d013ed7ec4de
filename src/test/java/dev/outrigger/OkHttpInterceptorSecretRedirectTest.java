package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * README (Security): "Credentials stay on their origin. A redirect OkHttp follows to another
 * origin ... is sent without the Authorization, Proxy-Authorization, Cookie and redactHeader
 * headers the call itself carried, or an OkHttp interceptor of yours set on it". A secret header
 * an OkHttp interceptor of the user's puts on the call ({@code addOkHttpInterceptor}, the usual
 * place for an API key) is copied by OkHttp into every follow-up; it must not reach the other
 * origin. (The network interceptor once dropped only values the request handed to OkHttp
 * carried, and the OkHttp interceptor adds its header after that.)
 */
class OkHttpInterceptorSecretRedirectTest {
  private static final String KEY = "k-0123456789abcdef";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @StartStop
  private final MockWebServer other = new MockWebServer();

  @Test
  void aSecretHeaderAnOkHttpInterceptorSetsDoesNotFollowARedirectToAnotherOrigin()
      throws Exception {
    // Same machine, different host name: 127.0.0.1 versus localhost.
    String target = other.url("/landing").newBuilder().host("127.0.0.1").build().toString();
    server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", target).build());
    other.enqueue(new MockResponse.Builder().body("landed").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .redactHeader("X-Api-Key")
        .addOkHttpInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().header("X-Api-Key", KEY).build()))
        .build()) {
      assertEquals("landed", client.get("/start").execute(String.class));
    }
    assertEquals(KEY, server.takeRequest().getHeaders().get("X-Api-Key"));
    // Before: the API key reached 127.0.0.1.
    assertNull(other.takeRequest().getHeaders().get("X-Api-Key"),
        "X-Api-Key (a redactHeader name) sent to another origin");
  }
}
