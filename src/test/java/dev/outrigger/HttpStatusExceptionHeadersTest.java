package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import java.util.stream.IntStream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.Headers;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/**
 * A caller decoding an error body (a 422's problem+json) needs the response's headers: its
 * Content-Type, a Retry-After. HttpStatusException keeps them, the values of the headers the
 * client's logs mask masked here too.
 */
class HttpStatusExceptionHeadersTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void theResponseHeadersAreKeptWithSecretValuesMasked() {
    server.enqueue(new MockResponse.Builder().code(422)
        .addHeader("Content-Type", "application/problem+json")
        .addHeader("Retry-After", "5")
        .addHeader("Set-Cookie", "sid=0123456789abcdef; Path=/")
        .addHeader("X-Request-Id", "r-1")
        .addHeader("set-cookie", "theme=dark")
        .addHeader("X-Partner-Token", "pt-secret-value")
        .body("{\"title\":\"invalid\"}").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .redactHeader("X-Partner-Token").build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.post("/orders").json(List.of()).execute(String.class));

      assertEquals(422, e.status());
      assertEquals("application/problem+json", e.header("content-type"));
      assertEquals("5", e.header("Retry-After"));
      assertEquals("r-1", e.header("X-Request-Id"));
      assertEquals(List.of("REDACTED", "REDACTED"), e.headers("Set-Cookie"));
      assertEquals("REDACTED", e.header("X-Partner-Token"));
      assertNull(e.header("X-Absent"));
      // In the order the server sent them, each value masked in place.
      Headers h = e.headers();
      List<String> names = IntStream.range(0, h.size()).mapToObj(h::name)
          .filter(n -> !n.equalsIgnoreCase("Content-Length")).toList();
      assertEquals(List.of("Content-Type", "Retry-After", "Set-Cookie", "X-Request-Id",
          "set-cookie", "X-Partner-Token"), names);
      assertTrue(!h.toString().contains("0123456789abcdef") && !h.toString().contains("dark")
          && !h.toString().contains("pt-secret-value"), h.toString());
    }
  }

  @Test
  void withNoSecretHeaderTheHeadersAreTheResponsesAsTheyCame() {
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "120")
        .addHeader("Content-Type", "text/plain").body("later").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals("120", e.header("retry-after"));
      assertEquals(List.of("text/plain"), e.headers("Content-Type"));
    }
  }

  /**
   * A server quotes what it was sent in its headers as in its body: a 401's WWW-Authenticate
   * naming the token it refused, a redirect not followed whose Location quotes the call's URL,
   * token and all. They showed there while the message masked them; now masked as the body's
   * snippet masks them, and a Location's secret parameters as url() masks them.
   */
  @Test
  void theCallsSecretsAreMaskedWhereAHeaderQuotesThem() {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "/login?next=%2Fx%3Ftoken%3Dtok-0123456789&sig=presigned1")
        .build());
    server.enqueue(new MockResponse.Builder().code(401)
        .addHeader("WWW-Authenticate",
            "Bearer error=\"invalid_token\", error_description=\"abcdefgh12345 expired\"")
        .addHeader("x-partner-token", "pt-secret-value")
        .addHeader("X-Request-Id", "r-2")
        .body("token abcdefgh12345 expired").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .okHttpClient(new OkHttpClient.Builder().followRedirects(false).build())
        .redactHeader("X-PARTNER-TOKEN").retry(Retry.none()).build()) {
      HttpStatusException redirect = assertThrows(HttpStatusException.class,
          () -> client.get("/x").query("token", "tok-0123456789").execute(String.class));
      assertEquals("/login?next=%2Fx%3Ftoken%3DREDACTED&sig=REDACTED",
          redirect.header("Location"));

      HttpStatusException refused = assertThrows(HttpStatusException.class,
          () -> client.get("/y").header("Authorization", "Bearer abcdefgh12345")
              .execute(String.class));
      assertEquals("Bearer error=\"invalid_token\", error_description=\"REDACTED expired\"",
          refused.header("WWW-Authenticate"));
      assertEquals("REDACTED", refused.header("X-Partner-Token"));
      assertEquals("r-2", refused.header("X-Request-Id"));
    }
  }

  /** Headers are not serializable: a deserialized exception has none, and reads them so. */
  @Test
  void aDeserializedExceptionReadsAsHavingNoHeaders() throws Exception {
    HttpStatusException e = new HttpStatusException(503, "GET", "https://x/y", "",
        Headers.of("Retry-After", "5"), 1);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(e);
    }
    HttpStatusException read;
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      read = (HttpStatusException) in.readObject();
    }
    assertEquals(503, read.status());
    assertEquals(Headers.EMPTY, read.headers());
    assertNull(read.header("Retry-After"));
    assertEquals(List.of(), read.headers("Retry-After"));
  }

  /** One an interceptor of the user's makes has none. */
  @Test
  void anExceptionMadeWithoutHeadersHasNone() {
    HttpStatusException e = new HttpStatusException(404, "GET", "https://x/y", "", 1);
    assertEquals(Headers.EMPTY, e.headers());
    assertNull(e.header("Content-Type"));
    assertEquals(List.of(), e.headers("Content-Type"));
  }
}
