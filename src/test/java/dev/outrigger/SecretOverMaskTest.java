package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Proxy;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * README (Security): after a redirect, a secret the call carried is masked where the URL it
 * led to, or the error page, quotes it. The scrub replaced every occurrence of the value, so a
 * short API key that is also a word of the API's own ({@code example}, the host's
 * {@code api.example.test} and the path's {@code /v1/examples}) masked the host and the path
 * ({@code http://api.REDACTED.test/v1/REDACTEDs/2}), and a cookie naming the tenant whose
 * subdomain the API serves masked the host: the message no longer said where the call went.
 * The host and port are now never masked, and a secret under 8 characters only as a whole word.
 * The server is an HTTP proxy (MockWebServer), so the calls can name any host.
 */
class SecretOverMaskTest {
  @StartStop
  private final MockWebServer proxy = new MockWebServer();

  @Test
  void aShortSecretIsMaskedAsAWholeWordOnlyAndNeverInTheHost() {
    String key = "example";
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return request.getUrl().encodedPath().endsWith("/1")
            ? new MockResponse.Builder().code(302).addHeader("Location",
                "/v1/examples/2?ref=" + key + "&from=%2Fv1%3Fkey%3D" + key).build()
            : new MockResponse.Builder().code(404)
                .body("no " + key + " here; key " + key + " refused; examples moved").build();
      }
    });
    try (LogCapture logs = new LogCapture();
        ApiClient client = client()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("http://api.example.test/v1/examples/1").header("X-Api-Key", key)
              .execute(String.class));

      String shown =
          "http://api.example.test/v1/examples/2?ref=REDACTED&from=%2Fv1%3Fkey%3DREDACTED";
      assertEquals(shown, e.url());
      assertEquals("no REDACTED here; key REDACTED refused; examples moved", e.bodySnippet());
      assertTrue(logs.all().contains(shown + ": sent by OkHttp within the attempt"), logs.all());
    }
  }

  @Test
  void aLongSecretThatIsAlsoTheHostsNameLeavesTheHostShown() {
    String tenant = "acme-corp-eu";
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return request.getUrl().encodedPath().equals("/start")
            ? new MockResponse.Builder().code(302)
                .addHeader("Location", "/signin?org=" + tenant).build()
            : new MockResponse.Builder().code(401).body("sign in to " + tenant).build();
      }
    });
    try (ApiClient client = client()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("http://" + tenant + ".example.test/start")
              .header("Cookie", "tenant=" + tenant).execute(String.class));

      assertEquals("http://" + tenant + ".example.test/signin?org=REDACTED", e.url());
      assertEquals("sign in to REDACTED", e.bodySnippet());
      assertFalse(e.getMessage().contains("REDACTED.example.test"), e.getMessage());
    }
  }

  /**
   * A cookie a redirect clears ({@code session=; Max-Age=0}, the answer of an expired session)
   * hands out no secret, yet its {@code session=} was taken for one: 8 characters, masked
   * wherever it appeared, the login URL the redirect named showed as
   * {@code /login?REDACTEDexpired}.
   */
  @Test
  void aCookieARedirectClearsIsNoSecret() {
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return request.getUrl().encodedPath().equals("/account")
            ? new MockResponse.Builder().code(302)
                .addHeader("Set-Cookie", "session=; Max-Age=0; Path=/")
                .addHeader("Location", "/login?session=expired").build()
            : new MockResponse.Builder().code(401).body("no session=expired here").build();
      }
    });
    try (ApiClient client = client()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("http://api.example.test/account").execute(String.class));

      assertEquals("http://api.example.test/login?session=expired", e.url());
      assertEquals("no session=expired here", e.bodySnippet());
    }
  }

  /**
   * A cookie's name is no secret. The names of a {@code Set-Cookie} and of the call's
   * {@code Cookie} of 8 characters or more ({@code sessionid}, {@code preferences}) were taken
   * for secrets, as words of a secret header, and masked wherever they appeared: the page read
   * "no valid REDACTED" and the login URL {@code ?reason=REDACTED-expired}. The values stay
   * masked.
   */
  @Test
  void aCookiesNameIsNoSecretItsValueIs() {
    String session = "9f8e7d6c5b4a39281706";
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return request.getUrl().encodedPath().equals("/account")
            ? new MockResponse.Builder().code(302)
                .addHeader("Set-Cookie", "sessionid=" + session + "; Path=/; HttpOnly")
                .addHeader("Location", "/login?reason=sessionid-expired").build()
            : new MockResponse.Builder().code(401)
                .body("no valid sessionid (" + session + "); preferences kept").build();
      }
    });
    try (ApiClient client = client()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("http://api.example.test/account")
              .header("Cookie", "preferences=compact-view").execute(String.class));

      assertEquals("http://api.example.test/login?reason=sessionid-expired", e.url());
      assertEquals("no valid sessionid (REDACTED); preferences kept", e.bodySnippet());
    }
  }

  /**
   * A cookie's value may come in double quotes ({@code sid="..."}, RFC 6265): the value was
   * looked for with its quotes, so a page quoting it bare showed it.
   */
  @Test
  void aCookieValueInQuotesIsMaskedWhereItIsQuotedBare() {
    String session = "9f8e7d6c5b4a39281706";
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(401)
            .addHeader("Set-Cookie", "sid=\"" + session + "\"; Path=/")
            .body("session " + session + " expired").build();
      }
    });
    try (ApiClient client = client()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("http://api.example.test/account").execute(String.class));

      assertEquals("session REDACTED expired", e.bodySnippet());
    }
  }

  /**
   * Of an {@code Authorization} header, every word of 8 characters or more was masked wherever
   * text used it: a Digest's parameter names ({@code username}, {@code response}) and an AWS
   * signature's scheme and names ({@code AWS4-HMAC-SHA256}, {@code Credential},
   * {@code Signature}), so a 401 saying "invalid response" read "invalid REDACTED". Only the
   * credentials are secrets: the parameters' values, a token after the scheme.
   */
  @Test
  void anAuthorizationsSchemeAndParameterNamesAreNoSecretTheirValuesAre() {
    String user = "mufasa-of-pride-rock";
    String hash = "6629fae49393a05397450978507c4ef1";
    String signature = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(401)
            .body("invalid response " + hash + " for username " + user + " (Signature "
                + signature + " of AWS4-HMAC-SHA256 Credential scope)").build();
      }
    });
    try (ApiClient client = client()) {
      HttpStatusException digest = assertThrows(HttpStatusException.class,
          () -> client.get("http://api.example.test/dir").header("Authorization",
              "Digest username=\"" + user + "\", realm=\"a\", qop=\"auth,auth-int\", "
                  + "response=\"" + hash + "\"").execute(String.class));
      HttpStatusException aws = assertThrows(HttpStatusException.class,
          () -> client.get("http://api.example.test/dir").header("Authorization",
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/us-east-1/s3/aws4_request, "
                  + "SignedHeaders=host, Signature=" + signature).execute(String.class));

      assertEquals("invalid response REDACTED for username REDACTED (Signature " + signature
          + " of AWS4-HMAC-SHA256 Credential scope)", digest.bodySnippet());
      assertEquals("invalid response " + hash + " for username " + user + " (Signature "
          + "REDACTED of AWS4-HMAC-SHA256 Credential scope)", aws.bodySnippet());
    }
  }

  private ApiClient client() {
    Proxy p = new Proxy(Proxy.Type.HTTP,
        new InetSocketAddress(proxy.getHostName(), proxy.getPort()));
    return ApiClient.builder().proxy(p, null).redactHeader("X-Api-Key").retry(Retry.none())
        .build();
  }
}
