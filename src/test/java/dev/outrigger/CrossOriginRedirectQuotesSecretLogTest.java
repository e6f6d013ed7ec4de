package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A redirect to another origin gets its own DEBUG line ("a redirect to another origin, sent
 * without [...]"), whose URL must mask the call's secrets where it quotes them, as the line "sent
 * by OkHttp within the attempt" does: a sign-in page on another origin whose ?next= quotes the
 * call's URL must not log the call's access_token. README (Security): "Logs and exception
 * messages never contain ... query parameters named access_token"; after a redirect "the URL of
 * a login page that quotes the call's own in its ?next= shows them as REDACTED too".
 */
class CrossOriginRedirectQuotesSecretLogTest {
  private static final String TOKEN = "s3cr3t-access-token";

  @StartStop
  private final MockWebServer origin = new MockWebServer();
  @StartStop
  private final MockWebServer signIn = new MockWebServer();

  @Test
  void theCrossOriginDebugLineDoesNotShowTheCallsSecretItsUrlQuotes() {
    origin.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", signIn.url("/login").toString()
            + "?next=%2Fv1%2Freports%3Faccess_token%3D" + TOKEN)
        .build());
    signIn.enqueue(new MockResponse.Builder().code(401).body("sign in").build());
    try (LogCapture logs = new LogCapture("dev.outrigger");
        ApiClient client = ApiClient.builder().baseUrl(origin.url("/v1").toString())
            .retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/reports").query("access_token", TOKEN)
              .header("Cookie", "sid=c00k1e-value").execute(String.class));
      assertFalse(e.url().contains(TOKEN), "url(): " + e.url());

      String all = logs.all();
      assertTrue(all.contains("a redirect to another origin, sent without"), all);
      assertFalse(all.contains(TOKEN), "the call's secret in the log:\n" + all);
    }
  }
}
