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
 * README (Security): the values of secret query parameters never show in logs and messages. A
 * call's own URL was masked by name only: a parameter of another name that quotes the secret
 * one's value (a webhook's callback URL carrying the token the call sends, a {@code return_to}
 * quoting the call's own URL) showed it, in the attempt's DEBUG line, the
 * {@code HttpStatusException}'s URL and message, and the request's {@code toString()}. Only
 * after a redirect was the URL searched for the call's secrets.
 */
class OwnParameterQuotesSecretTest {
  private static final String TOKEN = "s3cr3t-access-token";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aSecretParametersValueAnotherParameterQuotesIsMasked() throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).body("sign in").build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString())
            .retry(Retry.none()).build()) {
      ApiRequest request = client.get("/hooks").query("token", TOKEN)
          .query("callback", "https://me.example/hook?token=" + TOKEN).query("page", 2);
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> request.execute(String.class));

      assertEquals(TOKEN, server.takeRequest().getUrl().queryParameter("token"));
      String all = e.url() + "\n" + e.getMessage() + "\n" + request + "\n" + logs.all();
      assertFalse(all.contains(TOKEN), all);
      String shown = "/v1/hooks?token=REDACTED"
          + "&callback=https%3A%2F%2Fme.example%2Fhook%3Ftoken%3DREDACTED&page=2";
      assertTrue(e.url().endsWith(shown), e.url());
      assertTrue(logs.all().contains(shown + " -> 401"), logs.all());
    }
  }

  /** A path parameter's session id the query quotes, escaped. */
  @Test
  void aSecretPathParametersValueTheQueryQuotesIsMasked() {
    String session = "1A2B3C4D5E6F";
    server.enqueue(new MockResponse.Builder().code(404).body("gone").build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
            .retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get(server.url("/cart;jsessionid=" + session).toString())
              .query("return_to", "/cart;jsessionid=" + session).execute(String.class));

      String all = e.url() + "\n" + e.getMessage() + "\n" + logs.all();
      assertFalse(all.contains(session), all);
      assertTrue(e.url().endsWith(
          "/cart;jsessionid=REDACTED?return_to=%2Fcart%3Bjsessionid%3DREDACTED"), e.url());
    }
  }

  /**
   * A URL the client refuses before sending (a relative path without a base URL, a scheme it
   * cannot call) is shown as text in the message: there too, the secret parameter's value was
   * masked by name only, and a {@code callback} quoting it showed it.
   */
  @Test
  void aRefusedUrlsMessageMasksTheValueAnotherParameterQuotes() {
    String callback = "&callback=https%3A%2F%2Fme.example%2Fhook%3Ftoken%3D" + TOKEN;
    try (ApiClient client = ApiClient.builder().build()) {
      IllegalArgumentException relative = assertThrows(IllegalArgumentException.class,
          () -> client.get("/hooks?token=" + TOKEN + callback));
      IllegalArgumentException socket = assertThrows(IllegalArgumentException.class,
          () -> client.get("wss://" + TOKEN + ".example?token=" + TOKEN + callback));

      assertTrue(relative.getMessage().startsWith("'/hooks?token=REDACTED&callback=https%3A%2F"
          + "%2Fme.example%2Fhook%3Ftoken%3DREDACTED' is a relative path"), relative.getMessage());
      // The host is shown as it is, as a URL's always is.
      assertTrue(socket.getMessage().startsWith("'wss://" + TOKEN + ".example?token=REDACTED"
          + "&callback=https%3A%2F%2Fme.example%2Fhook%3Ftoken%3DREDACTED' is an absolute URL"),
          socket.getMessage());
    }
  }
}
