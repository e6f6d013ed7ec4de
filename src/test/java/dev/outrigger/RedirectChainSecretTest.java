package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.Cookie;
import okhttp3.CookieJar;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/**
 * README (Security): "After a redirect, the secrets of every request the call made count". A
 * secret that an earlier hop of the redirect chain brought in, rather than the call's own
 * request (a token in a redirect's Location, an OkHttp interceptor's API key, a cookie jar's
 * cookie), must be masked where a later hop's URL or page quotes it: in the DEBUG line of each
 * request OkHttp sends within the attempt, and in the HttpStatusException. The DEBUG lines
 * masked only the call's own request's secrets, and the exception missed what OkHttp adds on
 * the network (a jar's cookies) and what a redirect's answer hands out (a Set-Cookie).
 */
class RedirectChainSecretTest {
  private static final String HANDED_OUT = "h4nd3d-0ut-t0k3n";
  private static final String KEY = "k-0123456789abcdef";
  private static final String SESSION = "s3ss10n-c00k1e-42";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aTokenAnEarlierRedirectHandsOutStaysHiddenWhereALaterHopQuotesIt() {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "/next?token=" + HANDED_OUT).build());
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "/login?from=%2Fnext%3Ftoken%3D" + HANDED_OUT).build());
    server.enqueue(new MockResponse.Builder().code(401)
        .body("sign in to see /next?token=" + HANDED_OUT).build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
            .retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/start").execute(String.class));

      assertEquals(401, e.status());
      assertNotShown(HANDED_OUT, e, logs);
      assertTrue(e.url().endsWith("/login?from=%2Fnext%3Ftoken%3DREDACTED"), e.url());
    }
  }

  @Test
  void anOkHttpInterceptorsKeyStaysHiddenWhereARedirectQuotesIt() {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "/denied?key=" + KEY).build());
    server.enqueue(new MockResponse.Builder().code(403).body("key " + KEY + " refused").build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
            .retry(Retry.none()).redactHeader("X-Api-Key")
            .addOkHttpInterceptor(chain -> chain.proceed(
                chain.request().newBuilder().header("X-Api-Key", KEY).build()))
            .build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/start").execute(String.class));

      assertEquals(403, e.status());
      assertNotShown(KEY, e, logs);
    }
  }

  @Test
  void aCookieARedirectHandsOutStaysHiddenWhereALaterHopQuotesIt() {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Set-Cookie", "sid=" + SESSION + "; Path=/; HttpOnly")
        .addHeader("Location", "/home").build());
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "/denied?session=" + SESSION).build());
    server.enqueue(new MockResponse.Builder().code(403)
        .body("session " + SESSION + " may not see this").build());
    OkHttpClient ok = new OkHttpClient.Builder().cookieJar(new MemoryJar()).build();
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().okHttpClient(ok).retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get(server.url("/login").toString()).execute(String.class));

      assertEquals(403, e.status());
      assertNotShown(SESSION, e, logs);
    } finally {
      ok.dispatcher().executorService().shutdown();
      ok.connectionPool().evictAll();
    }
  }

  @Test
  void aCookieTheServerSetsStaysHiddenWhereItsPageQuotesItWithoutAJar() {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Set-Cookie", "sid=" + SESSION + "; Path=/; HttpOnly")
        .addHeader("Location", "/home").build());
    server.enqueue(new MockResponse.Builder().code(403)
        .body("no cookie? we set sid=" + SESSION + ", HttpOnly, on /login").build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
            .retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/login").execute(String.class));

      assertNotShown(SESSION, e, logs);
      // The cookie, not its attributes (HttpOnly is an ordinary word of 8 letters).
      assertTrue(e.bodySnippet().endsWith("REDACTED, HttpOnly, on /login"), e.bodySnippet());
    }
  }

  /**
   * The same for a cookie the jar held before the call: OkHttp adds it on the network, after the
   * request the response names was made, and the page that refuses it quotes it.
   */
  @Test
  void aCookieJarsCookieTheRequestCarriedStaysHiddenWhereItsPageQuotesIt() {
    server.enqueue(new MockResponse.Builder().code(403)
        .body("session " + SESSION + " may not see this").build());
    MemoryJar jar = new MemoryJar();
    jar.saveFromResponse(server.url("/"), List.of(new Cookie.Builder().name("sid").value(SESSION)
        .domain(server.getHostName()).build()));
    OkHttpClient ok = new OkHttpClient.Builder().cookieJar(jar).build();
    try (ApiClient client = ApiClient.builder().okHttpClient(ok).retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get(server.url("/home").toString()).execute(String.class));

      assertEquals("session REDACTED may not see this", e.bodySnippet());
    } finally {
      ok.dispatcher().executorService().shutdown();
      ok.connectionPool().evictAll();
    }
  }

  private static void assertNotShown(String secret, HttpStatusException e, LogCapture logs) {
    assertFalse(e.url().contains(secret), "url(): " + e.url());
    assertFalse(e.getMessage().contains(secret), "message: " + e.getMessage());
    assertFalse(e.bodySnippet().contains(secret), "bodySnippet(): " + e.bodySnippet());
    String all = logs.all();
    assertTrue(all.contains("sent by OkHttp within the attempt"), all);
    assertFalse(all.contains(secret), "the secret in the log:\n" + all);
  }

  /** Keeps every cookie it is given, and sends it to every URL. */
  private static final class MemoryJar implements CookieJar {
    private final List<Cookie> cookies = new CopyOnWriteArrayList<>();

    @Override
    public void saveFromResponse(HttpUrl url, List<Cookie> given) {
      cookies.addAll(given);
    }

    @Override
    public List<Cookie> loadForRequest(HttpUrl url) {
      return List.copyOf(cookies);
    }
  }
}
