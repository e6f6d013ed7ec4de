package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.HttpStatusException;
import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.util.List;
import org.junit.jupiter.api.Test;

/** README "Security". */
class ReadmeSecurityTest {

  /**
   * "query parameters named access_token, api_key, apikey, client_secret, jsessionid, password,
   * refresh_token, secret, signature, sig, token, or named with redactQueryParameter, show as
   * REDACTED" in logs and exception messages.
   */
  @Test
  void everyListedQueryParameterShowsAsRedacted() throws Exception {
    List<String> names = List.of("access_token", "api_key", "apikey", "client_secret",
        "jsessionid", "password", "refresh_token", "secret", "signature", "sig", "token", "mine");
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(404, "nope"));
        LogCapture log = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .redactQueryParameter("mine").retry(Retry.none()).build()) {
      var request = client.get("/x");
      for (int i = 0; i < names.size(); i++) {
        request.query(names.get(i), "hush" + i + "hush");
      }
      request.query("page", 2);
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> request.execute(String.class));
      for (int i = 0; i < names.size(); i++) {
        assertTrue(e.url().contains(names.get(i) + "=REDACTED"), names.get(i) + ": " + e.url());
      }
      assertTrue(e.url().contains("page=2"), e.url());
      String everything = e.getMessage() + "\n" + e.url() + "\n" + log.all();
      assertFalse(everything.contains("hush"), everything);
      assertTrue(log.all().contains("sig=REDACTED"), log.all());
      // The server got the real values.
      assertTrue(server.seen.get(0).target().contains("sig=hush9hush"));
    }
  }

  /**
   * "an absolute URL elsewhere (a pre-signed download link an API hands out ...)": the link's
   * own credentials, which make it work for anyone who has it until it expires, show as
   * REDACTED like the parameters listed: AWS's X-Amz-Signature, X-Amz-Credential and
   * X-Amz-Security-Token (an STS session token), and Google Cloud Storage's X-Goog-Signature
   * and X-Goog-Credential. The link's other parameters (date, expiry) still show.
   */
  @Test
  void aPreSignedLinksCredentialsShowAsRedacted() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(403, "expired"));
        LogCapture log = new LogCapture();
        ApiClient client = ApiClient.builder().retry(Retry.none()).build()) {
      String s3 = server.url() + "/bucket/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
          + "&X-Amz-Credential=AKIAHUSHHUSH%2F20240501%2Fus-east-1%2Fs3%2Faws4_request"
          + "&X-Amz-Date=20240501T101530Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
          + "&X-Amz-Security-Token=hushsessionhush&X-Amz-Signature=hushsignaturehush";
      String gcs = server.url() + "/bucket/photo.jpg?X-Goog-Algorithm=GOOG4-RSA-SHA256"
          + "&X-Goog-Credential=svc%40hushproject.iam.gserviceaccount.com%2F20240501"
          + "&X-Goog-Date=20240501T101530Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host"
          + "&X-Goog-Signature=hushgooglesignaturehush";
      for (String link : List.of(s3, gcs)) {
        HttpStatusException e = assertThrows(HttpStatusException.class,
            () -> client.get(link).execute(byte[].class));
        String everything = e.getMessage() + "\n" + e.url() + "\n" + log.all();
        assertFalse(everything.contains("hush"), everything);
        assertTrue(e.url().contains("Date=20240501T101530Z"), e.url());
      }
      assertTrue(server.seen.get(0).target().contains("X-Amz-Signature=hushsignaturehush"),
          "the server got the real values");
    }
  }

  /**
   * "A base URL or a call's URL with a user name or password is refused ... OkHttp sends no
   * credentials from a URL"; "User info in URLs is dropped" from what logs and messages show.
   */
  @Test
  void userInfoIsRefusedAndNeverShows() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(500, "no"));
        LogCapture log = new LogCapture();
        ApiClient client = ApiClient.builder().retry(Retry.none()).build()) {
      String url = server.url().replace("http://", "http://svc:pa55word@") + "/x";
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> client.get(url).execute(String.class));
      String everything = e.getMessage() + "\n" + log.all();
      assertFalse(everything.contains("pa55word"), everything);
      assertFalse(everything.contains("svc"), everything);
      assertTrue(e.getMessage().startsWith("'" + server.url() + "/x' has a user name or password"),
          e.getMessage());
      assertEquals(0, server.seen.size(), "nothing was sent");
    }
  }

  /**
   * "auth(Auth) supplies Authorization on every attempt; on a 401 it is asked once for a fresh
   * value ... and the call is sent again through the whole chain (the extra request is an
   * attempt, rate limited and counted like any other ...). That holds for a POST without an
   * idempotency key too".
   */
  @Test
  void anUnkeyedPostIsSentAgainWithAFreshTokenAfterA401AsAnAttemptThatTakesAPermit()
      throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> "Bearer fresh".equals(
            r.header("Authorization")) ? Reply.ok("created") : new Reply(401, "who?"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .rateLimit(RateLimit.perSecond(0.01).burst(2))
            .auth(refresh -> refresh ? "Bearer fresh" : "Bearer stale").build()) {
      ApiResponse<String> r = client.post("/orders").json(List.of(1)).send(String.class);
      assertEquals("created", r.body());
      assertEquals(2, r.attempts());
      assertEquals(List.of("Bearer stale", "Bearer fresh"),
          server.seen.stream().map(s -> s.header("Authorization")).toList());
      assertEquals(List.of("POST", "POST"), server.seen.stream().map(s -> s.method()).toList());
      assertEquals(0, client.rateLimiter().orElseThrow().availablePermits(server.host()),
          "the re-send took a permit too");
    }
  }

  /**
   * "A redirect OkHttp follows to another origin ... is sent without the Authorization,
   * Proxy-Authorization, Cookie and redactHeader headers the call itself carried ...; one DEBUG
   * line names what was left out."
   */
  @Test
  void aCrossOriginRedirectDropsTheSecretHeadersAndSaysWhichAtDebug() throws Exception {
    try (ReadmeServer target = new ReadmeServer((r, n) -> Reply.ok("landed"));
        ReadmeServer origin = new ReadmeServer(
            (r, n) -> new Reply(302, "moved", "Location", target.url() + "/landing"));
        LogCapture log = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(origin.url()).redactHeader("X-Key")
            .build()) {
      assertEquals("landed", client.get("/start").header("Authorization", "Bearer t0k3n")
          .header("Cookie", "sid=c00k1e").header("X-Key", "k3y").header("X-Trace", "t1")
          .execute(String.class));
      ReadmeServer.Seen landed = target.seen.get(0);
      assertEquals(null, landed.header("Authorization"));
      assertEquals(null, landed.header("Cookie"));
      assertEquals(null, landed.header("X-Key"));
      assertEquals("t1", landed.header("X-Trace"), "other headers follow");
      List<String> lines = log.lines().stream()
          .filter(l -> l.contains("a redirect to another origin, sent without")).toList();
      assertEquals(1, lines.size(), log.all());
      assertTrue(lines.get(0).startsWith("DEBUG GET " + target.url() + "/landing"), lines.get(0));
      for (String header : List.of("Cookie", "X-Key")) {
        assertTrue(lines.get(0).toLowerCase().contains(header.toLowerCase()), lines.get(0));
      }
      assertFalse(log.all().contains("t0k3n") || log.all().contains("c00k1e")
          || log.all().contains("k3y"), log.all());
    }
  }

  /**
   * The same DEBUG line "names the headers Outrigger left out (not the Authorization OkHttp
   * dropped itself)": a call carrying only Authorization is redirected without it, and no line
   * claims a header was left out.
   */
  @Test
  void theDebugLineLeavesOkHttpsOwnDropToOkHttp() throws Exception {
    try (ReadmeServer target = new ReadmeServer((r, n) -> Reply.ok("landed"));
        ReadmeServer origin = new ReadmeServer(
            (r, n) -> new Reply(302, "moved", "Location", target.url() + "/landing"));
        LogCapture log = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(origin.url()).build()) {
      client.get("/start").header("Authorization", "Bearer t0k3n").execute(String.class);
      assertEquals(null, target.seen.get(0).header("Authorization"));
      assertFalse(log.lines().stream().anyMatch(l -> l.contains("sent without")), log.all());
      assertFalse(log.all().contains("t0k3n"), log.all());
    }
  }
}
