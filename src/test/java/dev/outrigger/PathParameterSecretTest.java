package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A servlet container that sees no cookie writes the session id into the URL as a path
 * parameter ({@code /login;jsessionid=...}): whoever holds it holds the session. It was shown
 * as it is in the exception's URL and message, its body snippet and the DEBUG lines, where a
 * query parameter's secret value is masked; it is now masked the same way.
 */
class PathParameterSecretTest {
  private static final String SESSION = "9F3C1A7B2D4E6F80A1B2C3D4";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aSessionIdInAPathParameterIsMasked() {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "/login;jsessionid=" + SESSION + "?next=/cart").build());
    server.enqueue(new MockResponse.Builder().code(403)
        .body("session " + SESSION + " expired").build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
            .retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/cart;JSESSIONID=" + SESSION + ";v=2/items")
              .execute(String.class));

      assertEquals(403, e.status());
      assertTrue(e.url().endsWith("/login;jsessionid=REDACTED?next=/cart"), e.url());
      assertEquals("session REDACTED expired", e.bodySnippet());
      assertFalse(e.getMessage().contains(SESSION), e.getMessage());
      String all = logs.all();
      assertTrue(all.contains("/cart;JSESSIONID=REDACTED;v=2/items"), all);
      assertTrue(all.contains("/login;jsessionid=REDACTED?next=/cart: sent by OkHttp"), all);
      assertFalse(all.contains(SESSION), all);
    }
  }
}
