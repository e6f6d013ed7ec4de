package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outrigger.ApiClient;
import dev.outrigger.ApiRequest;
import dev.outrigger.DeserializationException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;

/** README "Requests and responses". */
class ReadmeRequestsTest {

  /** "nesting is bounded (500 levels)": 500 levels decode, 501 are a DeserializationException. */
  @Test
  void jsonNestingIsBoundedAtFiveHundredLevels() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> {
          int depth = Integer.parseInt(r.target().substring(1));
          return Reply.json("[".repeat(depth) + "]".repeat(depth));
        });
        ApiClient client = ApiClient.builder().baseUrl(server.url()).retry(Retry.none())
            .build()) {
      JsonNode deep = client.get("/500").execute(JsonNode.class);
      assertNotNull(deep);
      DeserializationException e = assertThrows(DeserializationException.class,
          () -> client.get("/501").execute(JsonNode.class));
      assertTrue(e.getMessage().toLowerCase().contains("nesting"), e.getMessage());
      assertEquals(1, e.attempts());
    }
  }

  /**
   * "maxResponseBytes (16 MiB; at most Integer.MAX_VALUE - 8 bytes, just under 2 GiB: one
   * array)": that bound is taken, one byte more is refused, naming the setting.
   */
  @Test
  void maxResponseBytesTakesUpToOneArray() {
    ApiClient.builder().maxResponseBytes(Integer.MAX_VALUE - 8);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().maxResponseBytes(Integer.MAX_VALUE - 7));
    assertTrue(e.getMessage().startsWith("maxResponseBytes"), e.getMessage());
  }

  /**
   * "An error's body over the limit is cut to it instead, its connection closed": the next call
   * goes on a new connection, while one after an error within the limit reuses it. (The body
   * must be far over the limit: one that arrives whole in the first read, 4 KiB say, has
   * already given its connection back to the pool, and the connection is kept.)
   */
  @Test
  void anErrorBodyOverTheLimitIsCutAndItsConnectionClosed() throws Exception {
    try (MockWebServer server = new MockWebServer()) {
      server.start();
      server.enqueue(new MockResponse.Builder().code(404).body("small").build());
      server.enqueue(new MockResponse.Builder().body("same connection").build());
      server.enqueue(new MockResponse.Builder().code(404).body("n".repeat(256 * 1024)).build());
      server.enqueue(new MockResponse.Builder().body("new connection").build());
      try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
          .maxResponseBytes(1024).retry(Retry.none()).build()) {
        assertEquals(404, assertThrows(HttpStatusException.class,
            () -> client.get("/a").execute(String.class)).status());
        client.get("/b").execute(String.class);
        HttpStatusException big = assertThrows(HttpStatusException.class,
            () -> client.get("/c").execute(String.class));
        assertEquals(404, big.status());
        assertTrue(big.bodySnippet().length() <= 1024, big.bodySnippet().length() + " chars");
        client.get("/d").execute(String.class);
      }
      RecordedRequest a = server.takeRequest();
      RecordedRequest b = server.takeRequest();
      RecordedRequest c = server.takeRequest();
      RecordedRequest d = server.takeRequest();
      assertEquals(a.getConnectionIndex(), b.getConnectionIndex(), "kept alive after a small error");
      assertEquals(b.getConnectionIndex(), c.getConnectionIndex());
      assertNotEquals(c.getConnectionIndex(), d.getConnectionIndex(),
          "the connection of the cut error body was closed");
      assertEquals(0, d.getExchangeIndex());
    }
  }

  /**
   * "A request may be sent again (execute twice): each send is a call of its own. A generated
   * idempotency key is new on each send; give idempotencyKey(k) for the server to tell a resend
   * from a new write."
   */
  @Test
  void eachSendOfARequestIsACallOfItsOwnWithAFreshGeneratedKey() throws Exception {
    try (ReadmeServer server = new ReadmeServer(
            (r, n) -> n == 1 ? new Reply(503, "busy") : Reply.ok("ok " + n));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1)))
            .generateIdempotencyKeys(true).build()) {
      ApiRequest write = client.post("/orders").json(List.of(1));
      assertEquals("ok 2", write.execute(String.class));
      assertEquals("ok 3", write.execute(String.class));
      ApiRequest keyed = client.post("/orders").json(List.of(2)).idempotencyKey("k-1");
      keyed.execute(String.class);
      keyed.execute(String.class);
      List<String> keys = server.seen.stream().map(s -> s.header("Idempotency-Key")).toList();
      assertEquals(5, keys.size(), keys.toString());
      assertNotNull(keys.get(0));
      assertEquals(keys.get(0), keys.get(1), "one send: the same key on its retry");
      assertNotEquals(keys.get(1), keys.get(2), "a second send: a new key");
      assertEquals(List.of("k-1", "k-1"), keys.subList(3, 5));
    }
  }

  /** "query(name, value) percent-encodes both". */
  @Test
  void queryPercentEncodesNameAndValue() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      client.get("/s").query("a b&c=d", "e f&g").execute(String.class);
      String target = server.seen.get(0).target();
      assertEquals("/s?a%20b%26c%3Dd=e%20f%26g", target);
    }
  }

  /**
   * "json(value) sends application/json; charset=utf-8 and body(bytes, type) the type given";
   * "json(null) is refused: send the JSON literal with body("null".getBytes(UTF_8),
   * "application/json")".
   */
  @Test
  void bodiesAreSentWithTheirTypes() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      client.post("/a").json(List.of("x")).execute(String.class);
      client.post("/b").body("a,b".getBytes(StandardCharsets.UTF_8), "text/csv")
          .execute(String.class);
      client.post("/c").body("null".getBytes(StandardCharsets.UTF_8), "application/json")
          .execute(String.class);
      assertThrows(IllegalArgumentException.class, () -> client.post("/d").json(null));
      assertEquals("application/json; charset=utf-8", server.seen.get(0).header("Content-Type"));
      assertEquals("[\"x\"]", server.seen.get(0).body());
      assertTrue(server.seen.get(1).header("Content-Type").startsWith("text/csv"),
          server.seen.get(1).header("Content-Type"));
      assertEquals("a,b", server.seen.get(1).body());
      assertEquals("null", server.seen.get(2).body());
      assertEquals(3, server.requests());
    }
  }

  /**
   * "String.class decodes the body in the charset of its Content-Type (UTF-8 when none)";
   * "execute/send return for 2xx and throw HttpStatusException otherwise": 201 and 299 are
   * successes, 418 is not.
   */
  @Test
  void textWithoutACharsetIsUtf8AndEvery2xxIsASuccess() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> switch (r.target()) {
          case "/created" -> new Reply(201, "ünï");
          case "/edge" -> new Reply(299, "edge");
          default -> new Reply(418, "teapot");
        });
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      assertEquals("ünï", client.get("/created").execute(String.class));
      assertEquals("edge", client.get("/edge").execute(String.class));
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(418, e.status());
      assertEquals("teapot", e.bodySnippet());
    }
  }

  /**
   * "Compressed answers are OkHttp's to handle: it asks for gzip and unzips the body (the size
   * limit counts the unzipped bytes), unless you set Accept-Encoding yourself, which tells OkHttp
   * you will decode the body: it then reaches you, and the decoder, as the server sent it."
   */
  @Test
  void compressedAnswersAreUnzippedUnlessTheCallAskedForAnEncodingItself() throws Exception {
    byte[] text = "compressed ".repeat(1_000).getBytes(StandardCharsets.UTF_8);
    byte[] zipped = gzip(text);
    byte[] bomb = gzip(new byte[64 * 1024]);
    try (MockWebServer server = new MockWebServer()) {
      server.start();
      for (byte[] body : List.of(zipped, zipped, bomb)) {
        server.enqueue(new MockResponse.Builder().addHeader("Content-Encoding", "gzip")
            .body(new okio.Buffer().write(body)).build());
      }
      try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
          .maxResponseBytes(16 * 1024).retry(Retry.none()).build()) {
        assertEquals(new String(text, StandardCharsets.UTF_8),
            client.get("/plain").execute(String.class));
        assertArrayEquals(zipped,
            client.get("/raw").header("Accept-Encoding", "gzip").execute(byte[].class));
        assertTrue(bomb.length < 16 * 1024, bomb.length + " bytes on the wire");
        DeserializationException e = assertThrows(DeserializationException.class,
            () -> client.get("/bomb").execute(byte[].class));
        assertTrue(e.getMessage().contains("larger than 16384 bytes"), e.getMessage());
      }
      assertEquals("gzip", server.takeRequest().getHeaders().get("Accept-Encoding"));
      assertEquals("gzip", server.takeRequest().getHeaders().get("Accept-Encoding"));
    }
  }

  private static byte[] gzip(byte[] bytes) throws java.io.IOException {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream zip = new java.util.zip.GZIPOutputStream(out)) {
      zip.write(bytes);
    }
    return out.toByteArray();
  }
}
