package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * README (Security): messages never contain the values of secret query parameters, and an error
 * body's snippet shows the secrets "the request carried" as REDACTED where the server quotes
 * them. A server that redirects the call (a login page's {@code ?next=...}, as web frameworks
 * answer a request they will not serve) quotes the call's own URL, secrets and all, in the
 * redirect's URL, and the page then quotes it in its body: the HttpStatusException the call ends
 * with is masked only with the secrets of the last request, which carries none of its own.
 */
class RedirectQuotesSecretTest {
  private static final String TOKEN = "s3cr3t-access-token";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void theCallsSecretQueryValueQuotedByARedirectAndItsPageStaysHidden() throws Exception {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "/login?next=%2Fv1%2Freports%3Faccess_token%3D" + TOKEN)
        .build());
    server.enqueue(new MockResponse.Builder().code(401)
        .body("sign in to see /v1/reports?access_token=" + TOKEN).build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/reports").query("access_token", TOKEN).execute(String.class));

      assertEquals(401, e.status());
      RecordedRequest first = server.takeRequest();
      assertEquals(TOKEN, first.getUrl().queryParameter("access_token"));
      assertFalse(e.bodySnippet().contains(TOKEN), "bodySnippet(): " + e.bodySnippet());
      assertFalse(e.url().contains(TOKEN), "url(): " + e.url());
      assertFalse(e.getMessage().contains(TOKEN), "message: " + e.getMessage());
    }
  }
}
