package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.Headers;
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

  /** One an interceptor of the user's makes has none. */
  @Test
  void anExceptionMadeWithoutHeadersHasNone() {
    HttpStatusException e = new HttpStatusException(404, "GET", "https://x/y", "", 1);
    assertEquals(Headers.EMPTY, e.headers());
    assertNull(e.header("Content-Type"));
    assertEquals(List.of(), e.headers("Content-Type"));
  }
}
