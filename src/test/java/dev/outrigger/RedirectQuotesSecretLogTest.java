package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * Review of 029e98a. README (Security): "Logs and exception messages never contain ... query
 * parameters named access_token ..."; after a redirect "the secrets of every request the call
 * made count: the URL of a login page that quotes the call's own in its ?next= shows them as
 * REDACTED too". The exception is masked now, but the DEBUG line for the very same follow-up
 * ("GET url: sent by OkHttp within the attempt", README Logging: "with that request's redacted
 * URL") masks the follow-up's URL with its own secrets only, and logs the call's token as the
 * redirect quotes it.
 */
class RedirectQuotesSecretLogTest {
  private static final String TOKEN = "s3cr3t-access-token";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void theFollowUpsDebugLineDoesNotShowTheCallsSecretItsUrlQuotes() {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "/login?next=%2Fv1%2Freports%3Faccess_token%3D" + TOKEN)
        .build());
    server.enqueue(new MockResponse.Builder().code(401).body("sign in").build());
    try (LogCapture logs = new LogCapture("dev.outrigger");
        ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString())
            .retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/reports").query("access_token", TOKEN).execute(String.class));
      assertFalse(e.url().contains(TOKEN), "url(): " + e.url());

      String all = logs.all();
      assertTrue(all.contains("sent by OkHttp within the attempt"), all);
      assertFalse(all.contains(TOKEN), "the call's secret in the log:\n" + all);
    }
  }
}
