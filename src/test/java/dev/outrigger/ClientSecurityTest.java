package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.CertificatePinner;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;

/** TLS, auth and the promise that secrets never reach logs, messages or toString(). */
class ClientSecurityTest {
  private static final String TOKEN = "s3cr3t-token-value";

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void anInvalidUrlIsRefusedWithoutShowingItsSecrets() {
    try (ApiClient client = ApiClient.builder().build()) {
      IllegalArgumentException absolute = assertThrows(IllegalArgumentException.class,
          () -> client.get("https://svc:s3cr3t-pw@api.example.com:99999/x?token=t0k3n"));
      assertFalse(absolute.getMessage().contains("s3cr3t-pw"), absolute.getMessage());
      assertTrue(absolute.getMessage().contains("api.example.com:99999"), absolute.getMessage());
      IllegalArgumentException relative = assertThrows(IllegalArgumentException.class,
          () -> client.get("/x?token=t0k3n&page=2"));
      assertTrue(relative.getMessage().contains("/x?token=REDACTED&page=2"),
          relative.getMessage());
    }
    for (String bad : new String[] {"https://svc:Zm9v/YmFy@api.example.com:99999/x",
        "https://svc:s3cr#t@api.example.com:99999/x", "https://svc:a?b@api.example.com:99999/x"}) {
      try (ApiClient client = ApiClient.builder().build()) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> client.get(bad));
        assertFalse(e.getMessage().contains("svc"), e.getMessage());
      }
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ApiClient.builder().baseUrl(bad).build());
      assertFalse(e.getMessage().contains("svc"), e.getMessage());
    }
    IllegalArgumentException base = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder()
            .baseUrl("https://svc:s3cr3t-pw@api.example.com:99999/v1?api_key=k3y&v=1#tok")
            .redactQueryParameter("v").build());
    assertEquals("baseUrl must be an absolute http or https URL, but was "
        + "'https://api.example.com:99999/v1?api_key=REDACTED&v=REDACTED#REDACTED'",
        base.getMessage());
  }

  @Test
  void secretsNeverAppearInLogsMessagesOrToString() throws Exception {
    server.enqueue(new MockResponse.Builder().code(403).body("denied").build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder()
            .baseUrl(server.url("/api").toString())
            .retry(Retry.none())
            .auth(Auth.bearer(() -> TOKEN))
            .redactHeader("X-Api-Key")
            .redactQueryParameter("session")
            .build()) {
      ApiRequest request = client.get("/things")
          .query("token", TOKEN).query("session", TOKEN).query("page", 2)
          .header("X-Api-Key", TOKEN).header("Cookie", "id=" + TOKEN);
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> request.execute(String.class));

      RecordedRequest sent = server.takeRequest();
      assertEquals("Bearer " + TOKEN, sent.getHeaders().get("Authorization"), "sent for real");
      assertEquals(TOKEN, sent.getUrl().queryParameter("token"), "sent for real");

      List<String> surfaces = new ArrayList<>(logs.lines());
      surfaces.add(e.getMessage());
      surfaces.add(e.url());
      surfaces.add(e.toString());
      surfaces.add(request.toString());
      surfaces.add(client.toString());
      assertFalse(logs.lines().isEmpty(), "the attempt must have been logged at DEBUG");
      for (String s : surfaces) {
        assertFalse(s.contains(TOKEN), "secret leaked into: " + s);
      }
      assertTrue(e.getMessage().contains("page=2"), "harmless parameters stay: " + e.getMessage());
      assertTrue(e.getMessage().contains("token=REDACTED"), e.getMessage());
    }
  }

  @Test
  void aUrlFragmentNeverAppearsInMessagesOrLogs() throws Exception {
    server.enqueue(new MockResponse.Builder().code(500).body("broken").build());
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().retry(Retry.none()).build()) {
      // OAuth's implicit flow returns its access token in the fragment.
      String url = server.url("/cb").toString() + "#access_token=" + TOKEN;
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get(url).execute(String.class));
      List<String> surfaces = new ArrayList<>(logs.lines());
      surfaces.add(e.getMessage());
      surfaces.add(e.url());
      assertFalse(logs.lines().isEmpty(), "the attempt must have been logged at DEBUG");
      for (String s : surfaces) {
        assertFalse(s.contains(TOKEN), "secret leaked into: " + s);
      }
      assertTrue(e.url().endsWith("/cb#REDACTED"), e.url());
    }
  }

  @Test
  void refreshesTheTokenOnceOnA401AndSendsAgain() throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    AtomicInteger refreshes = new AtomicInteger();
    Auth auth = refresh -> {
      if (refresh) {
        refreshes.incrementAndGet();
        return "Bearer fresh";
      }
      return "Bearer stale";
    };
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .auth(auth).build()) {
      ApiResponse<String> r = client.get("/me").send(String.class);
      assertEquals("ok", r.body());
      assertEquals(2, r.attempts(), "the re-sent request is an attempt like any other");
    }
    assertEquals("Bearer stale", server.takeRequest().getHeaders().get("Authorization"));
    assertEquals("Bearer fresh", server.takeRequest().getHeaders().get("Authorization"));
    assertEquals(1, refreshes.get());
  }

  @Test
  void aSecond401IsReturnedToTheCaller() {
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .auth(refresh -> refresh ? "Bearer b" : "Bearer a").build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/me").execute(String.class));
      assertEquals(401, e.status());
    }
    assertEquals(2, server.getRequestCount());
  }

  @Test
  void credentialsAreNotForwardedOnARedirectToAnotherHost() throws Exception {
    try (MockWebServer other = new MockWebServer()) {
      other.start();
      other.enqueue(new MockResponse.Builder().body("landed").build());
      // Same machine, different host name: 127.0.0.1 versus localhost.
      String target = other.url("/landing").newBuilder().host("127.0.0.1").build().toString();
      server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", target).build());
      try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
          .auth(Auth.bearer(() -> TOKEN)).build()) {
        assertEquals("landed", client.get("/start").execute(String.class));
      }
      assertEquals("Bearer " + TOKEN, server.takeRequest().getHeaders().get("Authorization"));
      assertNull(other.takeRequest().getHeaders().get("Authorization"));
    }
  }

  @Test
  void noSecretHeaderFollowsARedirectToAnotherOrigin() throws Exception {
    try (MockWebServer other = new MockWebServer()) {
      other.start();
      other.enqueue(new MockResponse.Builder().code(302)
          .addHeader("Location", server.url("/back").toString()).build());
      server.enqueue(new MockResponse.Builder().code(302)
          .addHeader("Location", server.url("/same").toString()).build());
      // Same machine, different host name: 127.0.0.1 versus localhost.
      String target = other.url("/landing").newBuilder().host("127.0.0.1").build().toString();
      server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", target).build());
      server.enqueue(new MockResponse.Builder().body("back home").build());
      try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
          .redactHeader("X-Api-Key").build()) {
        assertEquals("back home", client.get("/start")
            .header("Cookie", "session=" + TOKEN)
            .header("Proxy-Authorization", "Basic " + TOKEN)
            .header("X-Api-Key", TOKEN)
            .header("X-Trace", "t1")
            .execute(String.class));
      }
      String[] secret = {"Cookie", "Proxy-Authorization", "X-Api-Key"};
      RecordedRequest start = server.takeRequest();
      RecordedRequest same = server.takeRequest();
      RecordedRequest landed = other.takeRequest();
      RecordedRequest back = server.takeRequest();
      assertEquals("/same", same.getTarget());
      assertEquals("/back", back.getTarget());
      for (String name : secret) {
        assertTrue(start.getHeaders().get(name).endsWith(TOKEN), name);
        assertTrue(same.getHeaders().get(name).endsWith(TOKEN),
            name + " stays on a redirect within the origin");
        assertNull(landed.getHeaders().get(name), name + " sent to another origin");
        assertTrue(back.getHeaders().get(name).endsWith(TOKEN),
            name + " goes again with a redirect back to the first origin");
      }
      assertEquals("t1", landed.getHeaders().get("X-Trace"), "other headers follow");
    }
  }

  @Test
  void theCallsAuthorizationGoesAgainWithARedirectBackToTheFirstOrigin() throws Exception {
    // OkHttp drops Authorization when a redirect changes host, and builds the next hop from that
    // request: back home, the call's own credentials were missing, a 401 the call did not earn.
    AtomicInteger refreshes = new AtomicInteger();
    try (MockWebServer other = new MockWebServer()) {
      other.start();
      other.enqueue(new MockResponse.Builder().code(302)
          .addHeader("Location", server.url("/back").toString()).build());
      // Same machine, different host name: 127.0.0.1 versus localhost.
      String target = other.url("/landing").newBuilder().host("127.0.0.1").build().toString();
      server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", target).build());
      server.enqueue(new MockResponse.Builder().body("back home").build());
      try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
          .auth(refresh -> {
            if (refresh) {
              refreshes.incrementAndGet();
            }
            return "Bearer " + TOKEN;
          }).build()) {
        ApiResponse<String> r = client.get("/start").send(String.class);
        assertEquals("back home", r.body());
        assertEquals(1, r.attempts());
      }
      assertEquals("Bearer " + TOKEN, server.takeRequest().getHeaders().get("Authorization"));
      assertNull(other.takeRequest().getHeaders().get("Authorization"), "sent to another origin");
      RecordedRequest back = server.takeRequest();
      assertEquals("/back", back.getTarget());
      assertEquals("Bearer " + TOKEN, back.getHeaders().get("Authorization"),
          "the first origin's credentials go again with a redirect back to it");
      assertEquals(0, refreshes.get());
    }
  }

  @Test
  void credentialsInAUrlAreRefusedNotSilentlyDropped() {
    // OkHttp sends no credentials from a URL: the calls would go without them, unsaid.
    IllegalArgumentException base = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().baseUrl("https://svc:s3cr3t-pw@api.example.com/v1").build());
    assertTrue(base.getMessage().startsWith(
        "baseUrl 'https://api.example.com/v1' has a user name or password, which would not be"
            + " sent"), base.getMessage());
    assertTrue(base.getMessage().contains("auth("), base.getMessage());
    try (ApiClient client = ApiClient.builder().build()) {
      for (String url : new String[] {"https://svc:s3cr3t-pw@api.example.com/x",
          "https://svc@api.example.com/x"}) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> client.get(url));
        assertTrue(e.getMessage().startsWith("'https://api.example.com/x' has a user name or"
            + " password"), e.getMessage());
        assertFalse(e.getMessage().contains("svc") || e.getMessage().contains("s3cr3t"),
            e.getMessage());
      }
    }
  }

  @Test
  void credentialsInAUrlGoToASuppliedOkHttpClientForItsOwnUse() throws Exception {
    server.enqueue(new MockResponse.Builder().body("ok").build());
    // An interceptor of the user's that turns a URL's credentials into Basic auth, as a
    // supplied client may: the URL reaches it as given.
    okhttp3.OkHttpClient own = new okhttp3.OkHttpClient.Builder().addInterceptor(chain -> {
      okhttp3.HttpUrl u = chain.request().url();
      return chain.proceed(chain.request().newBuilder()
          .header("Authorization", okhttp3.Credentials.basic(u.username(), u.password()))
          .build());
    }).build();
    try (ApiClient client = ApiClient.builder().okHttpClient(own)
        .baseUrl(server.url("/v1").toString().replace("://", "://svc:s3cr3t-pw@")).build()) {
      assertEquals("ok", client.get("/x").execute(String.class));
      assertEquals(okhttp3.Credentials.basic("svc", "s3cr3t-pw"),
          server.takeRequest().getHeaders().get("Authorization"));
    } finally {
      own.dispatcher().executorService().shutdown();
      own.connectionPool().evictAll();
    }
  }

  /** A body the decoder cannot map, whose value it quotes. */
  record Item(int id) {}

  @Test
  void aBodyTheDecoderQuotesShowsTheRequestsSecretsRedacted() {
    // A 200 that echoes the token where a number belongs: Jackson's message quotes the value.
    server.enqueue(new MockResponse.Builder().body("{\"id\":\"" + TOKEN + "\"}").build());
    // The same body to a request that carries no secret: nothing to mask, the value shows.
    server.enqueue(new MockResponse.Builder().body("{\"id\":\"" + TOKEN + "\"}").build());
    try (ApiClient client = ApiClient.builder()
        .baseUrl(server.url("/api").toString())
        .retry(Retry.none())
        .build()) {
      DeserializationException e = assertThrows(DeserializationException.class,
          () -> client.get("/item").header("Authorization", "Bearer " + TOKEN)
              .execute(Item.class));
      assertTrue(e.getMessage().contains("\"REDACTED\""), e.getMessage());
      for (Throwable t = e; t != null; t = t.getCause()) {
        assertFalse(String.valueOf(t.getMessage()).contains(TOKEN),
            "secret leaked into " + t.getClass().getName() + ": " + t.getMessage());
        assertFalse(t.toString().contains(TOKEN), t.toString());
      }
      // The decoder's type and stack are still there to read.
      assertTrue(e.getCause().getMessage().contains("MismatchedInputException")
          || e.getCause().getMessage().contains("InvalidFormatException"),
          e.getCause().getMessage());
      assertTrue(e.getCause().getStackTrace().length > 0);

      DeserializationException plain = assertThrows(DeserializationException.class,
          () -> client.get("/item").execute(Item.class));
      assertTrue(plain.getMessage().contains(TOKEN), plain.getMessage());
      assertTrue(plain.getCause() instanceof com.fasterxml.jackson.core.JacksonException,
          String.valueOf(plain.getCause()));
    }
  }

  @Test
  void anErrorBodyThatQuotesTheRequestsSecretsShowsThemRedacted() {
    String key = "k3y-v4lue-0042";
    String apiKey = "x-api-k3y-777";
    String session = "c00kie-sess-9";
    String spaced = "s3cret with space";
    // A server that quotes what it refused, as many do in a 401, a 403 or a 400.
    server.enqueue(new MockResponse.Builder().code(403).body("{\"error\":\"invalid token "
        + TOKEN + "\",\"api_key\":\"" + key + "\",\"header\":\"" + apiKey
        + "\",\"cookie\":\"sid=" + session + "\",\"query\":\"password=s3cret%20with%20space\","
        + "\"decoded\":\"" + spaced + "\"}").build());
    // A secret the 512-character cut would split: not even its start may show.
    server.enqueue(new MockResponse.Builder().code(400)
        .body("x".repeat(505) + " " + TOKEN + " was refused").build());
    try (ApiClient client = ApiClient.builder()
        .baseUrl(server.url("/api").toString())
        .retry(Retry.none())
        .auth(Auth.bearer(() -> TOKEN))
        .redactHeader("X-Api-Key")
        .build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/things").query("api_key", key).query("password", spaced)
              .query("page", 2).header("X-Api-Key", apiKey).header("Cookie", "sid=" + session)
              .execute(String.class));
      for (String shown : new String[] {e.getMessage(), e.bodySnippet()}) {
        for (String secret : new String[] {TOKEN, key, apiKey, session, spaced, "s3cret%20with"}) {
          assertFalse(shown.contains(secret), "secret " + secret + " leaked into: " + shown);
        }
      }
      assertTrue(e.bodySnippet().startsWith("{\"error\":\"invalid token REDACTED\","
          + "\"api_key\":\"REDACTED\""), e.bodySnippet());
      assertTrue(e.bodySnippet().contains("\"header\":\"REDACTED\""), e.bodySnippet());

      HttpStatusException cut = assertThrows(HttpStatusException.class,
          () -> client.get("/other").execute(String.class));
      assertFalse(cut.bodySnippet().contains(TOKEN.substring(0, 4)), cut.bodySnippet());
      assertTrue(cut.bodySnippet().endsWith("x REDACT..."), cut.bodySnippet());
    }
  }

  @Test
  void aHeaderNameWithItsValueGluedOnIsRefusedWithoutShowingTheValue() {
    try (ApiClient client = ApiClient.builder().build()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> client.get("https://api.example.com/x")
              .header("Authorization: Bearer " + TOKEN, ""));
      assertFalse(e.getMessage().contains(TOKEN), e.getMessage());
      assertTrue(e.getMessage().startsWith("header name 'Authorization' is followed by a "
          + "character not allowed in a header name (code 58) at index 13"), e.getMessage());
    }
  }

  @Test
  void aSecretQueryParameterStaysHiddenInEveryUrlMessage() {
    String secret = "s3cr3t-value";
    try (ApiClient client = ApiClient.builder().redactQueryParameter("session").build()) {
      // Invalid URLs: a percent-encoded name is the same name to a server; a name configured
      // on this client is secret in its messages too.
      for (String url : new String[] {"https://api.example.com:99999/x?api%5Fkey=" + secret,
          "https://api.example.com:99999/x?session=" + secret, "/x?session=" + secret}) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> client.get(url));
        assertFalse(e.getMessage().contains(secret), e.getMessage());
        assertTrue(e.getMessage().contains("=REDACTED"), e.getMessage());
      }
      // Path templates that do not match their arguments quote the template.
      IllegalArgumentException query = assertThrows(IllegalArgumentException.class,
          () -> client.get("https://api.example.com/items/{id}?api_key=" + secret));
      assertFalse(query.getMessage().contains(secret), query.getMessage());
      assertTrue(query.getMessage().contains("/items/{id}?api_key=REDACTED"),
          query.getMessage());
      IllegalArgumentException userInfo = assertThrows(IllegalArgumentException.class,
          () -> client.get("https://svc:" + secret + "@api.example.com/items/{id}", 1, 2));
      assertFalse(userInfo.getMessage().contains(secret), userInfo.getMessage());
      IllegalArgumentException nullArg = assertThrows(IllegalArgumentException.class,
          () -> client.get("https://api.example.com/{id}?session=" + secret, (Object) null));
      assertFalse(nullArg.getMessage().contains(secret), nullArg.getMessage());
    }
  }

  @Test
  void trustsAServerThroughCustomTrustMaterialAndPinning() throws Exception {
    HeldCertificate root = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate cert = new HeldCertificate.Builder().signedBy(root)
        .addSubjectAlternativeName("localhost").build();
    HandshakeCertificates serverCerts = new HandshakeCertificates.Builder()
        .heldCertificate(cert).build();
    HandshakeCertificates clientCerts = new HandshakeCertificates.Builder()
        .addTrustedCertificate(root.certificate()).build();
    server.useHttps(serverCerts.sslSocketFactory());
    server.enqueue(new MockResponse.Builder().body("secure").build());
    server.enqueue(new MockResponse.Builder().body("never").build());

    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
            .tls(clientCerts.sslSocketFactory(), clientCerts.trustManager())
            .certificatePinner(new CertificatePinner.Builder()
                .add("localhost", CertificatePinner.pin(cert.certificate())).build())
            .build();
        ApiClient wrongPin = client.newBuilder()
            .certificatePinner(new CertificatePinner.Builder()
                .add("localhost", CertificatePinner.pin(
                    new HeldCertificate.Builder().build().certificate())).build())
            .build()) {
      assertEquals("secure", client.get("/").execute(String.class));
      TransportException e = assertThrows(TransportException.class,
          () -> wrongPin.get("/").execute(String.class));
      assertTrue(e.getMessage().toLowerCase().contains("pin"), e.getMessage());
    }
  }

  @Test
  void anUntrustedCertificateIsATlsFailureThatIsNeverRetriedNorDowngraded() {
    HeldCertificate selfSigned = new HeldCertificate.Builder()
        .addSubjectAlternativeName("localhost").build();
    server.useHttps(new HandshakeCertificates.Builder().heldCertificate(selfSigned).build()
        .sslSocketFactory());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString()).build()) {
      TransportException e = assertThrows(TransportException.class,
          () -> client.get("/").execute(String.class));
      assertEquals(TransportException.Kind.TLS, e.kind());
      assertEquals(1, e.attempts(), "a TLS failure is not retried");
      assertTrue(server.url("/").isHttps(), "the request went to https, never plain http");
    }
  }

  @Test
  void mutualTlsPresentsTheClientCertificate() throws Exception {
    HeldCertificate root = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate serverCert = new HeldCertificate.Builder().signedBy(root)
        .addSubjectAlternativeName("localhost").build();
    HeldCertificate clientCert = new HeldCertificate.Builder().signedBy(root)
        .commonName("outrigger-client").build();
    server.useHttps(new HandshakeCertificates.Builder().heldCertificate(serverCert)
        .addTrustedCertificate(root.certificate()).build().sslSocketFactory());
    server.requireClientAuth();
    server.enqueue(new MockResponse.Builder().body("hello client").build());
    HandshakeCertificates clientCerts = new HandshakeCertificates.Builder()
        .addTrustedCertificate(root.certificate()).heldCertificate(clientCert).build();

    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .tls(clientCerts.sslSocketFactory(), clientCerts.trustManager()).build()) {
      assertEquals("hello client", client.get("/").execute(String.class));
    }
    RecordedRequest r = server.takeRequest();
    assertTrue(r.getHandshake().peerPrincipal().getName().contains("outrigger-client"));
  }
}
