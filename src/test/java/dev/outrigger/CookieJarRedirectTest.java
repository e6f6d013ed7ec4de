package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.Cookie;
import okhttp3.CookieJar;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/**
 * A cookie the user's CookieJar holds for a redirect's target is that origin's own: it is sent
 * there, while the caller's own Cookie header stays on the first origin (Go's client sends the
 * jar's cookies for the new URL).
 */
class CookieJarRedirectTest {
  @StartStop
  private final MockWebServer a = new MockWebServer();
  @StartStop
  private final MockWebServer b = new MockWebServer();

  @Test
  void aCookieJarsCookieForTheRedirectTargetIsSent() throws Exception {
    HttpUrl target = b.url("/landing");
    a.enqueue(new MockResponse.Builder().code(302).addHeader("Location", target).build());
    b.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    CookieJar jar = new CookieJar() {
      @Override
      public void saveFromResponse(HttpUrl url, List<Cookie> cookies) {}

      @Override
      public List<Cookie> loadForRequest(HttpUrl url) {
        return url.port() == target.port()
            ? List.of(new Cookie.Builder().name("sid").value("b-session")
                .domain(url.host()).build())
            : List.of();
      }
    };
    try (ApiClient client = ApiClient.builder()
        .okHttpClient(new OkHttpClient.Builder().cookieJar(jar).build())
        .retry(Retry.none()).build()) {
      assertEquals("ok", client.get(a.url("/start").toString()).execute(String.class));
    }
    RecordedRequest atB = b.takeRequest();
    assertEquals("sid=b-session", atB.getHeaders().get("Cookie"),
        "the jar's own cookie for " + target + " was stripped");
  }
}
