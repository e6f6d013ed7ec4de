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
 * README (Security): a secret header's value is masked where a redirect's URL quotes it. A URL
 * quotes it percent-escaped: a base64 API key's {@code +}, {@code /} and {@code =} come as
 * {@code %2B}, {@code %2F} and {@code %3D}, so the value as sent matched nothing, and the
 * follow-up's DEBUG line, {@code url()} and the message showed the key. A secret query value was
 * already looked for escaped once more; a header's value is now too.
 */
class EscapedHeaderSecretTest {
  private static final String KEY = "QWxhZGRpbj+vcGVu/c2VzYW1l==";
  private static final String ESCAPED = "QWxhZGRpbj%2BvcGVu%2Fc2VzYW1l%3D%3D";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aSecretHeadersValueARedirectQuotesEscapedStaysHidden() {
    try (LogCapture logs = new LogCapture()) {
      HttpStatusException e = refusedAfterARedirectTo("/denied?key=" + ESCAPED, "refused");

      assertEquals(403, e.status());
      assertTrue(e.url().endsWith("/denied?key=REDACTED"), e.url());
      assertFalse(e.getMessage().contains(ESCAPED), e.getMessage());
      String all = logs.all();
      assertTrue(all.contains("/denied?key=REDACTED: sent by OkHttp within the attempt"), all);
      assertFalse(all.contains(ESCAPED), all);
    }
  }

  /**
   * The same where the server's encoder writes the escapes' hex digits in lower case, as .NET's
   * {@code HttpUtility.UrlEncode} does (an ASP.NET login page's {@code ReturnUrl}): RFC 3986 makes
   * {@code %2b} and {@code %2B} the same, and OkHttp keeps them as the server wrote them.
   */
  @Test
  void aSecretHeadersValueQuotedWithLowerCaseEscapesStaysHidden() {
    String lower = "QWxhZGRpbj%2bvcGVu%2fc2VzYW1l%3d%3d";
    try (LogCapture logs = new LogCapture()) {
      HttpStatusException e =
          refusedAfterARedirectTo("/denied?key=" + lower, "refused " + lower);

      assertTrue(e.url().endsWith("/denied?key=REDACTED"), e.url());
      assertEquals("refused REDACTED", e.bodySnippet());
      assertFalse(e.getMessage().contains(lower), e.getMessage());
      String all = logs.all();
      assertTrue(all.contains("/denied?key=REDACTED: sent by OkHttp within the attempt"), all);
      assertFalse(all.contains(lower), all);
    }
  }

  /**
   * The same where the key is escaped twice ({@code %252B}): a login page's {@code ?next=} quotes
   * a URL that carried the key in a parameter of its own, escaping that URL's escapes again. The
   * key escaped once matched nothing in it, and the message and DEBUG line showed the key.
   */
  @Test
  void aSecretHeadersValueQuotedEscapedTwiceStaysHidden() {
    String twice = "QWxhZGRpbj%252BvcGVu%252Fc2VzYW1l%253D%253D";
    String twiceLower = "QWxhZGRpbj%252bvcGVu%252fc2VzYW1l%253d%253d";
    try (LogCapture logs = new LogCapture()) {
      HttpStatusException e = refusedAfterARedirectTo(
          "/denied?next=%2Fapi%3Fkey%3D" + twice, "refused " + twiceLower);

      assertTrue(e.url().endsWith("/denied?next=%2Fapi%3Fkey%3DREDACTED"), e.url());
      assertEquals("refused REDACTED", e.bodySnippet());
      assertFalse(e.getMessage().contains("QWxhZGRpbj"), e.getMessage());
      String all = logs.all();
      assertTrue(all.contains("/denied?next=%2Fapi%3Fkey%3DREDACTED: sent by OkHttp"), all);
      assertFalse(all.contains("QWxhZGRpbj"), all);
    }
  }

  /**
   * The same key quoted as it is, unescaped, beside a parameter masked by name (a
   * {@code token}): to mask that one, the URL's query is written anew, OkHttp's way, and the
   * key's {@code +} came out as {@code %20} (a {@code +} in a query is a space), its {@code /}
   * and {@code =} escaped, a form neither the key as sent nor as escaped matched.
   */
  @Test
  void aSecretHeadersValueQuotedAsItIsBesideASecretParameterStaysHidden() {
    try (LogCapture logs = new LogCapture()) {
      HttpStatusException e =
          refusedAfterARedirectTo("/denied?key=" + KEY + "&token=t0k3n-t0k3n", "refused");

      assertTrue(e.url().endsWith("/denied?key=REDACTED&token=REDACTED"), e.url());
      String all = logs.all();
      assertTrue(all.contains("/denied?key=REDACTED&token=REDACTED: sent by OkHttp"), all);
      assertFalse(all.contains("QWxhZGRpbj"), all);
    }
  }

  /**
   * Sends /start with the key in X-Api-Key (a secret header), redirected to {@code location}
   * and refused there, 403, with {@code body}: returns what the call threw.
   */
  private HttpStatusException refusedAfterARedirectTo(String location, String body) {
    server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", location).build());
    server.enqueue(new MockResponse.Builder().code(403).body(body).build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none()).redactHeader("X-Api-Key").build()) {
      return assertThrows(HttpStatusException.class,
          () -> client.get("/start").header("X-Api-Key", KEY).execute(String.class));
    }
  }
}
