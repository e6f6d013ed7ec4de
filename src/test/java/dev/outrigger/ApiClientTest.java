package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okio.Buffer;
import org.junit.jupiter.api.Test;

class ApiClientTest extends ClientOverServerTest {
  @Test
  void mapsJsonToARecordIgnoringFieldsTheApiAdded() throws Exception {
    server.enqueue(json("{\"id\":42,\"title\":\"hello\",\"addedLater\":true}"));

    Post p = client.get("/posts/{id}", 42).execute(Post.class);

    assertEquals(new Post(42, "hello"), p);
    RecordedRequest r = server.takeRequest();
    assertEquals("GET", r.getMethod());
    assertEquals("/v1/posts/42", r.getUrl().encodedPath());
  }

  @Test
  void mapsAGenericListThroughATypeReference() {
    server.enqueue(json("[{\"id\":1,\"title\":\"a\"},{\"id\":2,\"title\":\"b\"}]"));

    List<Post> all = client.get("/posts").query("userId", 1)
        .execute(new TypeReference<List<Post>>() {});

    assertEquals(List.of(new Post(1, "a"), new Post(2, "b")), all);
  }

  @Test
  void givesTextBytesOrNothingForStringByteArrayAndVoid() {
    server.enqueue(new MockResponse.Builder().body("plain ünïcode").build());
    server.enqueue(new MockResponse.Builder().body(new Buffer().write(new byte[] {1, 2, 3})).build());
    server.enqueue(new MockResponse.Builder().body("ignored").build());

    assertEquals("plain ünïcode", client.get("/health").execute(String.class));
    assertArrayEquals(new byte[] {1, 2, 3}, client.get("/bytes").execute(byte[].class));
    assertNull(client.get("/void").execute(Void.class));
  }

  @Test
  void encodesEachPathArgumentAsExactlyOneSegment() throws Exception {
    for (int i = 0; i < 6; i++) {
      server.enqueue(json("{}"));
    }
    String[] hostile = {"a/b", "..%2F", "x?admin=1", "frag#ment", "evil\r\nX-Injected: 1", "ünï cødé"};
    for (String arg : hostile) {
      client.get("/files/{name}/meta", arg).execute(Void.class);
    }
    String[] expected = {
      "/v1/files/a%2Fb/meta", "/v1/files/..%252F/meta", "/v1/files/x%3Fadmin%3D1/meta",
      "/v1/files/frag%23ment/meta", "/v1/files/evil%0D%0AX-Injected%3A%201/meta",
      "/v1/files/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9/meta"
    };
    for (String e : expected) {
      RecordedRequest r = server.takeRequest();
      assertEquals(e, r.getUrl().encodedPath());
      assertNull(r.getUrl().query());
      assertNull(r.getHeaders().get("X-Injected"));
    }
  }

  @Test
  void encodesQueryParameters() throws Exception {
    server.enqueue(json("{}"));

    client.get("/search").query("q", "a&b=c d").query("page", 2).execute(Void.class);

    RecordedRequest r = server.takeRequest();
    assertEquals("a&b=c d", r.getUrl().queryParameter("q"));
    assertEquals("2", r.getUrl().queryParameter("page"));
    assertEquals(Set.of("q", "page"), r.getUrl().queryParameterNames());
  }

  @Test
  void aCollectionOrArrayAddsTheParameterOncePerElement() throws Exception {
    server.enqueue(json("{}"));
    client.get("/search").query("id", List.of(1, 2)).query("tag", new String[] {"a b", "c"})
        .query("none", List.of()).query("n", new int[] {7}).execute(Void.class);
    assertEquals("id=1&id=2&tag=a%20b&tag=c&n=7", server.takeRequest().getUrl().encodedQuery());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> client.get("/search").query("id", java.util.Arrays.asList(1, null)));
    assertTrue(e.getMessage().contains("'id' has a null element"), e.getMessage());
  }

  @Test
  void rejectsPathTemplatesWhoseArgumentsDoNotMatch() {
    IllegalArgumentException tooFew = assertThrows(IllegalArgumentException.class,
        () -> client.get("/posts/{id}/{sub}", 1));
    assertTrue(tooFew.getMessage().contains("/posts/{id}/{sub}"), tooFew.getMessage());
    assertThrows(IllegalArgumentException.class, () -> client.get("/posts", 1));
    assertThrows(IllegalArgumentException.class, () -> client.get("/posts/{id}", (Object) null));
    IllegalArgumentException dots = assertThrows(IllegalArgumentException.class,
        () -> client.get("/files/{name}", ".."));
    assertTrue(dots.getMessage().contains("change the path"), dots.getMessage());
    assertThrows(IllegalArgumentException.class, () -> client.get("/files/{name}", "."));
  }

  @Test
  void resolvesEveryArgumentFreePathRightBeyondTheResolvedUrlCache() throws Exception {
    // The client keeps the URLs of argument-free paths (256 of them); the 300 distinct paths
    // here overflow it, and each must still reach its own path, the first ones twice. The JDK's
    // server answers in one write (MockWebServer's two writes meet delayed ACKs: 40 ms a call).
    java.util.Queue<String> seen = new java.util.concurrent.ConcurrentLinkedQueue<>();
    HttpServer jdk = ClientTestSupport.jdkServer(exchange -> {
      seen.add(exchange.getRequestURI().toString());
      exchange.sendResponseHeaders(204, -1);
      exchange.close();
    });
    String base = ClientTestSupport.url(jdk) + "/v1";
    try (ApiClient c = ApiClient.builder().baseUrl(base).retry(Retry.none()).build()) {
      int paths = 300;
      for (int i = 0; i < paths; i++) {
        c.get("/items/" + i + "?v=" + i).execute(Void.class);
      }
      for (int i = 0; i < 10; i++) {
        c.get("/items/" + i + "?v=" + i).execute(Void.class);
      }
      for (int i = 0; i < paths + 10; i++) {
        int n = i % paths;
        assertEquals("/v1/items/" + n + "?v=" + n, seen.poll());
      }
    } finally {
      jdk.stop(0);
    }
  }

  @Test
  void anUnfilledPlaceholderFailsOnEveryCallNotOnlyTheFirst() {
    for (int i = 0; i < 3; i++) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> client.get("/posts/{id}"));
      assertTrue(e.getMessage().contains("/posts/{id}"), e.getMessage());
    }
  }

  @Test
  void aMethodIsSentInUpperCaseAndAnythingElseFailsBeforeSending() throws Exception {
    server.enqueue(json("{}"));
    server.enqueue(json("{}"));
    client.request("patch", "/items").execute();
    client.put("/items").execute();
    assertEquals("PATCH", server.takeRequest().getMethod());
    assertEquals("PUT", server.takeRequest().getMethod());

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> client.request("GET /x", "/items"));
    assertTrue(e.getMessage().contains("not an HTTP method: 'GET /x': a method is one token"),
        e.getMessage());
    // A token's other characters make a method too (WebDAV's VERSION-CONTROL).
    server.enqueue(json("{}"));
    client.request("version-control", "/items").execute();
    assertEquals("VERSION-CONTROL", server.takeRequest().getMethod());
    IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
        () -> client.request("", "/items"));
    assertEquals("not an HTTP method: ''", empty.getMessage());
    List<Supplier<ApiRequest>> nullPaths = List.of(
        () -> client.get(null), () -> client.delete(null), () -> client.request("GET", null));
    for (Supplier<ApiRequest> noPath : nullPaths) {
      IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, noPath::get);
      assertEquals("path or URL must not be null", e2.getMessage());
    }
    // The method is checked first: a request that is wrong twice names its method.
    IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
        () -> client.request("bad x", null));
    assertTrue(both.getMessage().startsWith("not an HTTP method"), both.getMessage());
    assertEquals(3, server.getRequestCount());
  }

  @Test
  void aUserAgentWithCrOrLfFailsAtTheSetterAndAValidOneIsSent() throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().userAgent("shop/1.0\r\nX-Injected: 1"));
    assertTrue(e.getMessage().contains("User-Agent"), e.getMessage());
    IllegalArgumentException nonAscii = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().userAgent("café/1.0"));
    assertTrue(nonAscii.getMessage().startsWith("value of header User-Agent has a non-ASCII "
        + "character (code 233) at index 3"), nonAscii.getMessage());

    server.enqueue(json("{}"));
    server.enqueue(json("{}"));
    try (ApiClient ua = ApiClient.builder().baseUrl(server.url("/").toString())
        .userAgent("shop/1.0").build()) {
      ua.get("/a").execute(Void.class);
      ua.get("/b").header("User-Agent", "mine/2").execute(Void.class);
    }
    assertEquals("shop/1.0", server.takeRequest().getHeaders().get("User-Agent"));
    assertEquals("mine/2", server.takeRequest().getHeaders().get("User-Agent"));
  }

  @Test
  void aBlankUserAgentFailsAtTheSetterNamingNullAsTheWayToOkHttpsOwn() {
    // An empty value (an unset environment variable read as "") was sent as "User-Agent: ", a
    // header with no product token, which servers that require one refuse on every call.
    for (String blank : new String[] {"", "  ", "\t"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ApiClient.builder().userAgent(blank));
      assertTrue(e.getMessage().startsWith("userAgent must not be empty or blank"),
          e.getMessage());
      assertTrue(e.getMessage().contains("userAgent(null)"), e.getMessage());
    }
  }

  @Test
  void aRepeatedPathSendsWhatEachCallAdded() throws Exception {
    // The plain GET of a constant path is built once and reused: what a call adds must still
    // reach the server, and must not stick to the next call.
    for (int i = 0; i < 4; i++) {
      server.enqueue(json("{}"));
    }
    try (ApiClient ua = ApiClient.builder().baseUrl(server.url("/").toString())
        .userAgent("shop/1.0").build()) {
      ua.get("/same").execute(Void.class);
      ua.get("/same").header("X-Trace", "t1").execute(Void.class);
      ua.get("/same").query("page", 2).execute(Void.class);
      ua.get("/same").execute(Void.class);
    }
    var plain = server.takeRequest();
    var traced = server.takeRequest();
    var paged = server.takeRequest();
    var again = server.takeRequest();
    assertEquals("/same", plain.getUrl().encodedPath());
    assertEquals("shop/1.0", plain.getHeaders().get("User-Agent"));
    assertEquals("t1", traced.getHeaders().get("X-Trace"));
    assertEquals("shop/1.0", traced.getHeaders().get("User-Agent"));
    assertEquals("2", paged.getUrl().queryParameter("page"));
    assertEquals(null, again.getHeaders().get("X-Trace"));
    assertEquals(null, again.getUrl().query());
    assertEquals("shop/1.0", again.getHeaders().get("User-Agent"));
  }

  /** A client whose attempt interceptor reads the start of each body, expecting {@code start}. */
  private ApiClient readingTheStartOfEachBody(String start) {
    return client.newBuilder().addAttemptInterceptor(chain -> {
      okhttp3.Response r = chain.proceed(chain.request());
      try {
        assertEquals(start, r.body().source().readUtf8(start.length()));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      return r;
    }).build();
  }

  @Test
  void decodesTheWholeBodyEvenAfterAnInterceptorReadPartOfIt() {
    server.enqueue(json("\"abcdef\""));
    server.enqueue(json("\"abcdef\""));
    try (ApiClient peeking = readingTheStartOfEachBody("\"ab")) {
      byte[] bytes = peeking.get("/b").execute(byte[].class);
      assertEquals("\"abcdef\"", new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
      assertEquals("abcdef", peeking.get("/s").execute(String.class).replace("\"", ""));
    }
  }

  @Test
  void plainGetsOfOnePathSendOnePrebuiltRequestAndAnythingAddedBuildsItsOwn() throws Exception {
    java.util.List<okhttp3.Request> sent = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int i = 0; i < 3; i++) {
      server.enqueue(json("{}"));
    }
    try (ApiClient capturing = client.newBuilder().addOkHttpInterceptor(chain -> {
      sent.add(chain.request());
      return chain.proceed(chain.request());
    }).build()) {
      capturing.get("/p").execute(Void.class);
      capturing.get("/p").execute(Void.class);
      capturing.get("/p").idempotencyKey("k-1").execute(Void.class);
    }
    assertEquals(3, sent.size());
    assertSame(sent.get(0), sent.get(1), "two plain GETs of one path share one Request");
    assertNotSame(sent.get(0), sent.get(2));
    server.takeRequest();
    server.takeRequest();
    assertEquals("k-1", server.takeRequest().getHeaders().get("Idempotency-Key"));
  }

  @Test
  void aRetryPredicateThatReadsTheBodyLeavesItWholeForTheDecoder() {
    // The predicate is user code that sees every response: the body it reads must still reach
    // the caller whole (so the transport keeps the decoder a copy in such a client).
    server.enqueue(new MockResponse.Builder().body("first line\nsecond line").build());
    server.enqueue(new MockResponse.Builder().body("all of it").build());
    try (ApiClient reading = client.newBuilder()
        .retry(Retry.exponential(Duration.ofMillis(10), Duration.ofMillis(10))
            .retryOnResponse(r -> {
              try {
                r.body().source().readUtf8Line(); // reads into the body, not a peek
                return false;
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            })).build()) {
      assertEquals("first line\nsecond line", reading.get("/lines").execute(String.class));
      assertArrayEquals("all of it".getBytes(java.nio.charset.StandardCharsets.UTF_8),
          reading.get("/bytes").execute(byte[].class));
    }
  }

  @Test
  void anErrorKeepsTheStartOfItsBodyWithNoInterceptorInTheWay() {
    // The body stays in OkHttp's buffer; the snippet is read from it without consuming it.
    server.enqueue(new MockResponse.Builder().code(500).body("database on fire").build());
    try (ApiClient plain = client.newBuilder().retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> plain.get("/fire").execute(String.class));
      assertEquals("database on fire", e.bodySnippet());
    }
  }

  @Test
  void anErrorKeepsTheStartOfItsBodyEvenIfAnInterceptorReadIt() {
    server.enqueue(new MockResponse.Builder().code(500).body("database on fire").build());
    try (ApiClient reading = client.newBuilder().retry(Retry.none())
        .addAttemptInterceptor(chain -> {
      okhttp3.Response r = chain.proceed(chain.request());
      try {
        r.body().source().readUtf8(); // reads it all
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      return r;
    }).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> reading.get("/fire").execute(String.class));
      assertEquals("database on fire", e.bodySnippet());
    }
  }

  @Test
  void anErrorsSnippetIsReadInTheBodysCharsetAsItsTextWouldBe() {
    // In place (no interceptor) and copied (an interceptor sees responses), declared by the
    // Content-Type or by a byte-order mark, as the decoder reads a body.
    java.nio.charset.Charset utf16 = java.nio.charset.StandardCharsets.UTF_16BE;
    for (boolean intercepted : new boolean[] {false, true}) {
      server.enqueue(new MockResponse.Builder().code(400)
          .addHeader("Content-Type", "text/plain; charset=UTF-16BE")
          .body(new okio.Buffer().writeString("bad input", utf16)).build());
      server.enqueue(new MockResponse.Builder().code(400)
          .body(new okio.Buffer().write(new byte[] {(byte) 0xFE, (byte) 0xFF})
              .writeString("marked", utf16)).build());
      ApiClient.Builder b = client.newBuilder().retry(Retry.none());
      if (intercepted) {
        b.addAttemptInterceptor(chain -> chain.proceed(chain.request()));
      }
      try (ApiClient c = b.build()) {
        assertEquals("bad input", assertThrows(HttpStatusException.class,
            () -> c.get("/x").execute(String.class)).bodySnippet(), "declared");
        assertEquals("marked", assertThrows(HttpStatusException.class,
            () -> c.get("/x").execute(String.class)).bodySnippet(), "byte-order mark");
      }
    }
  }

  @Test
  void aLargeBodyIsDecodedWholeAfterAnInterceptorReadPartOfIt() throws Exception {
    // Over the in-place limit (64 KiB) the transport moves the body out of Okio's buffer.
    byte[] large = new byte[200_000];
    for (int i = 0; i < large.length; i++) {
      large[i] = (byte) ('a' + i % 26);
    }
    server.enqueue(new MockResponse.Builder().body(new okio.Buffer().write(large)).build());
    server.enqueue(new MockResponse.Builder().body(new okio.Buffer().write(large)).build());
    try (ApiClient peeking = readingTheStartOfEachBody("abc")) {
      assertArrayEquals(large, peeking.get("/large").execute(byte[].class));
      String text = peeking.get("/large").execute(String.class);
      assertEquals(new String(large, java.nio.charset.StandardCharsets.UTF_8), text);
    }
  }

  @Test
  void decodesABodySpanningManyBufferSegmentsWithNoInterceptorInTheWay() throws Exception {
    // No interceptor of the user's: the transport leaves the body in OkHttp's buffer (8 KiB
    // segments) and the decoder reads it there. Two- and three-byte characters straddle the
    // segment boundaries.
    StringBuilder sb = new StringBuilder();
    while (sb.length() < 30_000) {
      sb.append("caf\u00e9 \u20ac ");
    }
    String text = sb.toString();
    byte[] utf8 = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    server.enqueue(new MockResponse.Builder().setHeader("Content-Type", "text/plain")
        .body(new okio.Buffer().write(utf8)).build());
    server.enqueue(new MockResponse.Builder().body(new okio.Buffer().write(utf8)).build());
    server.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json")
        .body(client.mapper().writeValueAsString(Map.of("text", text))).build());

    assertEquals(text, client.get("/text").execute(String.class));
    assertArrayEquals(utf8, client.get("/bytes").execute(byte[].class));
    assertEquals(Map.of("text", text), client.get("/json").execute(Map.class));
  }

  @Test
  void decodesTextInTheCharsetItsContentTypeNames() {
    byte[] latin1 = {(byte) 0x63, (byte) 0x61, (byte) 0x66, (byte) 0xE9}; // "café" in ISO-8859-1
    for (int i = 0; i < 2; i++) { // the second time, the parsed header is remembered
      server.enqueue(new MockResponse.Builder()
          .setHeader("Content-Type", "text/plain; charset=ISO-8859-1")
          .body(new okio.Buffer().write(latin1)).build());
      assertEquals("caf\u00e9", client.get("/latin1").execute(String.class));
    }
    server.enqueue(new MockResponse.Builder().setHeader("Content-Type", "text/plain")
        .body(new okio.Buffer().writeUtf8("caf\u00e9")).build());
    assertEquals("caf\u00e9", client.get("/utf8").execute(String.class), "UTF-8 by default");
  }

  @Test
  void decodesTheBodyAnInterceptorPutInPlaceOfTheServers() throws Exception {
    server.enqueue(json("\"from the server\""));
    try (ApiClient rewriting = client.newBuilder().addCallInterceptor(chain -> {
      okhttp3.Response r = chain.proceed(chain.request());
      r.close();
      return r.newBuilder().body(okhttp3.ResponseBody.create("\"rewritten\"",
          okhttp3.MediaType.get("application/json"))).build();
    }).build()) {
      assertEquals("rewritten", rewriting.get("/r").execute(String.class).replace("\"", ""));
      assertArrayEquals("\"rewritten\"".getBytes(java.nio.charset.StandardCharsets.UTF_8),
          rewritingBytes(rewriting));
    }
  }

  private byte[] rewritingBytes(ApiClient rewriting) {
    server.enqueue(json("\"from the server\""));
    return rewriting.get("/r").execute(byte[].class);
  }

  @Test
  void usesAnAbsoluteUrlAsIs() throws Exception {
    try (MockWebServer other = new MockWebServer()) {
      other.start();
      other.enqueue(json("\"elsewhere\""));

      String s = client.get(other.url("/").toString() + "x/{y}", "z").execute(String.class);

      assertEquals("\"elsewhere\"", s);
      assertEquals("/x/z", other.takeRequest().getUrl().encodedPath());
      assertEquals(0, server.getRequestCount());
    }
  }

  @Test
  void anAbsoluteUrlOfAnotherSchemeIsRefusedNotSentToTheBaseUrlsHost() throws Exception {
    for (String url : new String[] {"ws://example.com/socket", "ftp://svc:pw-s3cr3t@example.com/f",
        "wss://example.com/x?token=t0k3n"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> client.get(url), url);
      assertTrue(e.getMessage().contains("scheme other than http or https"), e.getMessage());
      assertFalse(e.getMessage().contains("s3cr3t") || e.getMessage().contains("t0k3n"),
          e.getMessage());
    }
    assertEquals(0, server.getRequestCount());
    // A colon in a relative path's first segment is a path (Google's "items:batchGet").
    server.enqueue(json("{}"));
    client.post("items:batchGet").execute();
    assertEquals("/v1/items:batchGet", server.takeRequest().getUrl().encodedPath());
  }

  @Test
  void aMethodOkHttpWantsABodyForGoesWithAnEmptyOneWhenGivenNone() throws Exception {
    for (String method : List.of("REPORT", "PROPPATCH", "POST")) {
      server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
      assertEquals("ok", client.request(method, "/things").execute(String.class));
      RecordedRequest r = server.takeRequest();
      assertEquals(method, r.getMethod());
      assertEquals(0, r.getBodySize());
    }
  }

  @Test
  void aBodyOnAGetOrAHeadIsRefusedByItsSetterNotWhenSent() throws Exception {
    for (ApiRequest r : List.of(client.get("/search"), client.request("head", "/search"))) {
      IllegalArgumentException json = assertThrows(IllegalArgumentException.class,
          () -> r.json(Map.of("q", "x")));
      assertTrue(json.getMessage().startsWith("a " + r.method() + " request cannot have a body"),
          json.getMessage());
      assertThrows(IllegalArgumentException.class, () -> r.body(new byte[] {1}, "text/plain"));
    }
    assertEquals(0, server.getRequestCount());
    // Any other method may carry one: a DELETE with a body is sent with it.
    server.enqueue(json("{}"));
    client.delete("/posts/{id}", 1).json(Map.of("reason", "spam")).execute();
    assertEquals("{\"reason\":\"spam\"}", server.takeRequest().getBody().utf8());
  }

  @Test
  void rejectsAnInvalidBaseUrlAtBuild() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().baseUrl("not a url").build());
    assertTrue(e.getMessage().contains("baseUrl"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().baseUrl("ftp://example.com").build());
    assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().baseUrl("https://example.com/v1?x=1").build());
  }

  @Test
  void rejectsAPerAttemptTimeoutLongerThanTheDeadline() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().deadline(Duration.ofSeconds(1))
            .attemptTimeout(Duration.ofSeconds(2)).build());
    assertTrue(e.getMessage().contains("attemptTimeout"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().deadline(Duration.ZERO));
    assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().maxInFlightPerHost(0));
    assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().maxResponseBytes(0));
  }

  @Test
  void sendReturnsStatusHeadersBodyAndAttempts() {
    server.enqueue(new MockResponse.Builder().code(201).addHeader("X-Request-Id", "r-1")
        .addHeader("X-Multi", "first").addHeader("x-multi", "second")
        .addHeader("Content-Type", "application/json").body("{\"id\":7,\"title\":\"t\"}").build());

    ApiResponse<Post> r = client.post("/posts").json(new Post(0, "t")).send(Post.class);

    assertEquals(201, r.status());
    assertEquals("r-1", r.header("x-request-id"));
    assertEquals("first", r.header("X-MULTI"), "the first value, as documented");
    assertEquals(List.of("first", "second"), r.headers("x-Multi"));
    assertEquals(null, r.header("X-Absent"));
    assertEquals(new Post(7, "t"), r.body());
    assertEquals(1, r.attempts());
    assertFalse(r.elapsed().isNegative());
  }

  @Test
  void responseHeaderLookupsRefuseANullNameNamingIt() {
    server.enqueue(new MockResponse.Builder().addHeader("X-Request-Id", "r-1").build());
    ApiResponse<String> r = client.get("/posts").send(String.class);

    // header(null) quietly answered null, headers(null) threw OkHttp's Kotlin null check.
    assertEquals("header name",
        assertThrows(NullPointerException.class, () -> r.header(null)).getMessage());
    assertEquals("header name",
        assertThrows(NullPointerException.class, () -> r.headers(null)).getMessage());
  }

  @Test
  void sendsAJsonBodyAndTheIdempotencyKey() throws Exception {
    server.enqueue(json("{\"id\":1,\"title\":\"x\"}"));

    client.post("/posts").json(new Post(0, "x")).idempotencyKey("k-123").execute(Post.class);

    RecordedRequest r = server.takeRequest();
    assertEquals("POST", r.getMethod());
    assertEquals("k-123", r.getHeaders().get("Idempotency-Key"));
    assertTrue(r.getHeaders().get("Content-Type").startsWith("application/json"));
    assertEquals("{\"id\":0,\"title\":\"x\"}", r.getBody().utf8());
  }

  @Test
  void putPatchDeleteAndHeadUseTheirMethods() throws Exception {
    for (int i = 0; i < 4; i++) {
      server.enqueue(json("{}"));
    }
    client.put("/posts/{id}", 1).json(Map.of("a", 1)).execute();
    client.patch("/posts/{id}", 1).json(Map.of("a", 2)).execute();
    client.delete("/posts/{id}", 1).execute();
    client.head("/posts/{id}", 1).execute();
    for (String m : List.of("PUT", "PATCH", "DELETE", "HEAD")) {
      assertEquals(m, server.takeRequest().getMethod());
    }
  }

  @Test
  void aNon2xxStatusThrowsHttpStatusExceptionNamingStatusMethodAndPath() {
    server.enqueue(new MockResponse.Builder().code(404).body("{\"error\":\"no such post\"}").build());

    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client.get("/posts/{id}", 9).execute(Post.class));

    assertEquals(404, e.status());
    assertEquals(1, e.attempts());
    assertTrue(e.getMessage().contains("404"), e.getMessage());
    assertTrue(e.getMessage().contains("GET"), e.getMessage());
    assertTrue(e.getMessage().contains("/v1/posts/9"), e.getMessage());
    assertTrue(e.getMessage().contains("no such post"), e.getMessage());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void boundsTheErrorBodySnippetInTheMessage() {
    server.enqueue(new MockResponse.Builder().code(500).body("x".repeat(100_000)).build());

    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client.get("/big-error").execute(String.class));

    assertTrue(e.getMessage().length() < 1_000, "message length " + e.getMessage().length());
  }

  @Test
  void aRefusedConnectionIsATransportExceptionOfKindConnect() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    TransportException e = assertThrows(TransportException.class,
        () -> client.get("http://127.0.0.1:" + port + "/x").execute(String.class));

    assertEquals(TransportException.Kind.CONNECT, e.kind());
    assertEquals(1, e.attempts());
  }

  @Test
  void malformedJsonIsADeserializationException() {
    server.enqueue(json("{\"id\": \"not a number\""));

    DeserializationException e = assertThrows(DeserializationException.class,
        () -> client.get("/posts/1").execute(Post.class));

    assertTrue(e.getMessage().contains("Post"), e.getMessage());
    assertEquals(1, e.attempts());
  }

  record Topic(String subject, java.util.List<Post> posts) {}

  @Test
  void aMappingFailureSaysWhereInTheDocumentItFailed() {
    server.enqueue(json("{\"subject\":\"s\",\"posts\":[{\"id\":1,\"title\":\"a\"},"
        + "{\"id\":\"two\",\"title\":\"b\"}]}"));

    DeserializationException e = assertThrows(DeserializationException.class,
        () -> client.get("/threads/1").execute(Topic.class));

    assertTrue(e.getMessage().endsWith(" (at $.posts[1].id)"), e.getMessage());
    assertTrue(e.getMessage().contains("Cannot deserialize value of type `int`"), e.getMessage());

    // A key that is not a plain name is quoted, so a dot or a line break in it cannot mislead.
    server.enqueue(json("{\"a.b\":{\"it's\\nhere\":\"x\"}}"));
    DeserializationException odd = assertThrows(DeserializationException.class,
        () -> client.get("/odd").execute(
            new com.fasterxml.jackson.core.type.TypeReference<
                java.util.Map<String, java.util.Map<String, Integer>>>() {}));
    assertTrue(odd.getMessage().endsWith(" (at $['a.b']['it\\'s\\u000ahere'])"),
        odd.getMessage());
    // A long key is cut outside its quotes.
    server.enqueue(json("{\"" + "k".repeat(70) + " \":\"x\"}"));
    DeserializationException cut = assertThrows(DeserializationException.class,
        () -> client.get("/cut").execute(
            new com.fasterxml.jackson.core.type.TypeReference<
                java.util.Map<String, Integer>>() {}));
    assertTrue(cut.getMessage().endsWith(" (at $['" + "k".repeat(64) + "'...])"),
        cut.getMessage());
  }

  @Test
  void jsonIsReadInTheCharsetItsContentTypeNames() throws Exception {
    byte[] latin1 = "{\"id\":1,\"title\":\"caf\u00e9 cr\u00e8me\"}"
        .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "application/json; charset=ISO-8859-1")
        .body(new okio.Buffer().write(latin1)).build());
    byte[] utf16 = "{\"id\":2,\"title\":\"\u00e9t\u00e9\"}"
        .getBytes(java.nio.charset.StandardCharsets.UTF_16BE);
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "application/json; charset=UTF-16BE")
        .body(new okio.Buffer().write(utf16)).build());

    assertEquals(new Post(1, "caf\u00e9 cr\u00e8me"), client.get("/posts/1").execute(Post.class));
    assertEquals(new Post(2, "\u00e9t\u00e9"), client.get("/posts/2").execute(Post.class));

    // JSON is UTF-8 (RFC 8259): a UTF-8 body a server mislabels is still read as UTF-8.
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "application/json; charset=ISO-8859-1")
        .body("{\"id\":3,\"title\":\"caf\u00e9\"}").build());
    assertEquals(new Post(3, "caf\u00e9"), client.get("/posts/3").execute(Post.class));
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> T undeclared(Throwable t) throws T {
    throw (T) t;
  }

  @Test
  void aCheckedExceptionAnInterceptorThrowsUndeclaredStillEndsTheCall() throws Exception {
    // As Kotlin code may, or a sneaky throw: listeners (metrics' calls in progress) must still
    // hear the call end.
    java.util.List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (ApiClient c = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .addCallInterceptor(chain -> {
          throw ApiClientTest.<RuntimeException>undeclared(new java.io.IOException("from Kotlin"));
        })
        .addListener(new CallListener() {
          @Override
          public void callStart(CallContext call) {
            events.add("start");
          }

          @Override
          public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
            events.add("end " + status + " " + error);
          }
        }).build()) {
      assertThrows(java.io.IOException.class, () -> c.get("/x").execute(String.class));
    }
    assertEquals(java.util.List.of("start", "end -1 java.io.IOException: from Kotlin"), events);
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void deeplyNestedJsonFailsCleanlyWithoutStackOverflow() {
    server.enqueue(json("[".repeat(100_000) + "]".repeat(100_000)));

    DeserializationException e = assertThrows(DeserializationException.class,
        () -> client.get("/deep").execute(Object.class));

    assertTrue(e.getMessage().toLowerCase().contains("nesting"), e.getMessage());
  }

  @Test
  void refusesABodyOverTheLimitWithoutReadingItAll() {
    try (ApiClient small = client.newBuilder().maxResponseBytes(1024).build()) {
      server.enqueue(new MockResponse.Builder().body("y".repeat(64 * 1024)).build());
      server.enqueue(new MockResponse.Builder().chunkedBody("z".repeat(64 * 1024), 512).build());
      server.enqueue(new MockResponse.Builder().body("ok").build());

      DeserializationException declared = assertThrows(DeserializationException.class,
          () -> small.get("/declared").execute(String.class));
      DeserializationException chunked = assertThrows(DeserializationException.class,
          () -> small.get("/chunked").execute(String.class));

      assertTrue(declared.getMessage().contains("maxResponseBytes"), declared.getMessage());
      assertTrue(chunked.getMessage().contains("larger than 1024"), chunked.getMessage());
      assertEquals("ok", small.get("/after").execute(String.class));
    }
  }

  @Test
  void aSuccessOverTheLimitWhoseBodyIsDiscardedIsASuccess() throws Exception {
    try (ApiClient small = client.newBuilder().maxResponseBytes(1024).build()) {
      server.enqueue(new MockResponse.Builder().body("y".repeat(64 * 1024)).build());
      server.enqueue(new MockResponse.Builder().chunkedBody("z".repeat(64 * 1024), 512).build());
      server.enqueue(new MockResponse.Builder().code(201).body("w".repeat(64 * 1024)).build());
      server.enqueue(new MockResponse.Builder().body("ok").build());

      // execute() reads no body: one over the limit is nothing to refuse.
      small.get("/declared").execute();
      small.get("/chunked").execute();
      ApiResponse<Void> created = small.post("/created").send(Void.class);

      assertEquals(201, created.status());
      assertEquals(1, created.attempts());
      assertEquals("ok", small.get("/after").execute(String.class));
      assertEquals(4, server.getRequestCount());
    }
  }

  @Test
  void anErrorWithABodyOverTheLimitStaysAStatusAndIsCutToTheLimit() throws Exception {
    try (ApiClient small = client.newBuilder().maxResponseBytes(1024)
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(2))
        .build()) {
      // A 503 whose error page is over the limit is still a 503: retried, not refused.
      server.enqueue(new MockResponse.Builder().code(503).body("e".repeat(64 * 1024)).build());
      server.enqueue(new MockResponse.Builder().body("ok").build());
      // A 404 with an oversize chunked body is the 404, its snippet from the first bytes.
      server.enqueue(new MockResponse.Builder().code(404)
          .chunkedBody("not found " + "x".repeat(64 * 1024), 512).build());
      server.enqueue(new MockResponse.Builder().body("after").build());

      assertEquals("ok", small.get("/retried").execute(String.class));
      HttpStatusException missing = assertThrows(HttpStatusException.class,
          () -> small.get("/missing").execute(String.class));
      assertEquals(404, missing.status());
      assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
      assertEquals("after", small.get("/after").execute(String.class));
      assertEquals(4, server.getRequestCount());
    }
  }

  @Test
  void aSuccessRefusedAsTooLargeReportsTheStatusThatArrived() {
    List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    CallListener listener = new CallListener() {
      @Override
      public void attemptEnd(CallContext call, int status, Throwable error, Duration elapsed) {
        seen.add("attempt " + status + " " + error.getClass().getSimpleName());
      }

      @Override
      public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
        seen.add("call " + status + " " + error.getClass().getSimpleName());
      }
    };
    try (ApiClient small = client.newBuilder().maxResponseBytes(1024).addListener(listener)
        .build()) {
      server.enqueue(new MockResponse.Builder().code(202).body("y".repeat(4096)).build());

      assertThrows(DeserializationException.class, () -> small.get("/big").execute(String.class));

      assertEquals(List.of("attempt 202 DeserializationException",
          "call 202 DeserializationException"), seen);
    }
  }

  @Test
  void aByteOrderMarkNamesTheCharsetAndIsNotPartOfTheText() {
    server.enqueue(new MockResponse.Builder().setHeader("Content-Type", "text/csv")
        .body(new Buffer().write(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF})
            .writeUtf8("id,name")).build());
    server.enqueue(new MockResponse.Builder().setHeader("Content-Type", "text/plain")
        .body(new Buffer().write(new byte[] {(byte) 0xFF, (byte) 0xFE})
            .writeString("h\u00e9llo", java.nio.charset.StandardCharsets.UTF_16LE)).build());
    // A large body takes the other decoding path (its own array, not Okio's buffer).
    String big = "x".repeat(70 * 1024);
    server.enqueue(new MockResponse.Builder().setHeader("Content-Type", "text/plain")
        .body(new Buffer().write(new byte[] {(byte) 0xFE, (byte) 0xFF})
            .writeString(big, java.nio.charset.StandardCharsets.UTF_16BE)).build());

    assertEquals("id,name", client.get("/export.csv").execute(String.class));
    assertEquals("h\u00e9llo", client.get("/t").execute(String.class));
    assertEquals(big, client.get("/big").execute(String.class));
  }

  @Test
  void reusesPooledConnectionsForSequentialCalls() throws Exception {
    for (int i = 0; i < 50; i++) {
      server.enqueue(json("{\"id\":" + i + ",\"title\":\"t\"}"));
    }
    for (int i = 0; i < 50; i++) {
      assertEquals(i, client.get("/posts/{id}", i).execute(Post.class).id());
    }
    Set<Integer> connections = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      connections.add(server.takeRequest().getConnectionIndex());
    }
    assertTrue(connections.size() <= 2, "connections used: " + connections.size());
  }

  @Test
  void rejectsHeaderValuesWithCrOrLf() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> client.get("/x").header("X-Trace", "a\r\nX-Evil: 1"));
    assertTrue(e.getMessage().contains("X-Trace"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> client.get("/x").header("Bad Name", "v"));
  }

  @Test
  void aNonAsciiHeaderValueIsRefusedWithoutShowingTheValue() {
    try (ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString())
        .redactHeader("X-Api-Key").build()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> c.get("/x").header("X-Api-Key", "s\u00e9cret-key-123"));
      assertTrue(e.getMessage().contains("non-ASCII character (code 233) at index 1"),
          e.getMessage());
      assertFalse(e.getMessage().contains("cret-key"), e.getMessage());
    }
  }

  @Test
  void callsAfterCloseFailAndClosingTwiceIsHarmless() {
    ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString()).build();
    c.close();
    c.close();
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> c.get("/x").execute(String.class));
    assertTrue(e.getMessage().contains("closed"));
  }

  @Test
  void describeShowsThePolicyChainInOrder() {
    String d = client.describe();
    int deadline = d.indexOf("Deadline");
    int retry = d.indexOf("Retry");
    int breaker = d.indexOf("CircuitBreaker");
    int inFlight = d.indexOf("InFlight");
    int okhttp = d.indexOf("OkHttp");
    assertTrue(deadline >= 0 && deadline < retry && retry < breaker && breaker < inFlight
        && inFlight < okhttp, d);
    assertEquals(d, client.toString());
  }

  @Test
  void describeShowsAKeepAliveUnderASecondAsItIs() {
    try (ApiClient shortLived = ApiClient.builder()
            .connectionPool(4, Duration.ofMillis(500)).build();
        ApiClient minute = ApiClient.builder().connectionPool(4, Duration.ofMinutes(1)).build();
        ApiClient forever = ApiClient.builder()
            .connectionPool(4, java.time.temporal.ChronoUnit.FOREVER.getDuration()).build()) {
      assertTrue(shortLived.describe().contains("pool: 4 idle connections kept 500 ms"),
          shortLived.describe());
      assertTrue(minute.describe().contains("pool: 4 idle connections kept 60 s"),
          minute.describe());
      assertTrue(forever.describe().contains("pool: 4 idle connections kept without limit"),
          forever.describe());
    }
    try (ApiClient tiny = ApiClient.builder().connectionPool(4, Duration.ofNanos(500)).build()) {
      assertTrue(tiny.describe().contains("pool: 4 idle connections kept PT0.0000005S"),
          tiny.describe());
    }
  }

  @Test
  void aContentTypeHeaderIsSentAsItIsWhateverTypeTheBodyWasGiven() throws Exception {
    server.enqueue(json("{}"));
    server.enqueue(json("{}"));
    server.enqueue(json("{}"));
    client.patch("/posts/{id}", 1).header("Content-Type", "application/merge-patch+json")
        .json(new Post(1, "t")).execute(String.class);
    client.post("/raw").body("a,b".getBytes(java.nio.charset.StandardCharsets.UTF_8), "text/csv")
        .header("content-type", "application/vnd.example+csv").execute(String.class);
    client.post("/posts").json(new Post(2, "u")).execute(String.class);
    RecordedRequest patch = server.takeRequest();
    assertEquals("application/merge-patch+json", patch.getHeaders().get("Content-Type"));
    assertEquals("{\"id\":1,\"title\":\"t\"}", patch.getBody().utf8());
    assertEquals("application/vnd.example+csv",
        server.takeRequest().getHeaders().get("Content-Type"));
    assertEquals("application/json; charset=utf-8",
        server.takeRequest().getHeaders().get("Content-Type"), "no header: the body's type");
  }

  @Test
  void nullsThatWouldGoUnnoticedAreRefusedAtOnceSayingWhatToDo() {
    IllegalArgumentException json = assertThrows(IllegalArgumentException.class,
        () -> client.post("/posts").json(null));
    assertTrue(json.getMessage().contains("body(\"null\""), json.getMessage());
    // baseUrl(System.getenv("API_URL")) with the variable unset.
    IllegalArgumentException base = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().baseUrl(null));
    assertTrue(base.getMessage().contains("leave baseUrl(...) out"), base.getMessage());
  }

  @Test
  void noLimitDurationsBuildAClientOrAreRefusedNamingTheSetting() {
    // ChronoUnit.FOREVER's duration (a common "no limit") overflowed toNanos() in build().
    java.time.Duration forever = java.time.temporal.ChronoUnit.FOREVER.getDuration();
    server.enqueue(new MockResponse.Builder().body("ok").build());
    try (ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString()).deadline(forever)
        .retry(Retry.exponential(java.time.Duration.ofMillis(1), forever))
        .attemptTimeout(forever.dividedBy(2)).connectionPool(8, forever).build()) {
      assertEquals("ok", c.get("/x").execute(String.class));
    }
    for (String name : new String[] {"connectTimeout", "readTimeout", "writeTimeout"}) {
      ApiClient.Builder b = ApiClient.builder();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
        switch (name) {
          case "connectTimeout" -> b.connectTimeout(forever);
          case "readTimeout" -> b.readTimeout(java.time.Duration.ofDays(30));
          default -> b.writeTimeout(forever);
        }
      });
      assertTrue(e.getMessage().startsWith(name + " must be at most"), e.getMessage());
    }
  }

  @Test
  void anEmptyBodyOfA204IsEmptyTextOrNullAsApiResponseBodySays() {
    server.enqueue(new MockResponse.Builder().code(204).build());
    server.enqueue(new MockResponse.Builder().code(204).build());
    server.enqueue(new MockResponse.Builder().code(204).build());
    assertEquals("", client.delete("/posts/{id}", 1).send(String.class).body());
    assertEquals(0, client.delete("/posts/{id}", 1).send(byte[].class).body().length);
    assertNull(client.delete("/posts/{id}", 1).send(Post.class).body());
  }
}
