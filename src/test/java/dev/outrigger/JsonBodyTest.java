package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;

/** How the default mapper reads a successful answer's JSON body. */
class JsonBodyTest extends ClientOverServerTest {
  @Test
  void anythingButWhitespaceAfterTheDocumentIsRefusedNotDropped() {
    server.enqueue(json("{\"id\":1,\"title\":\"a\"}<html>upstream error</html>"));
    server.enqueue(json("{\"id\":1,\"title\":\"a\"}{\"id\":2,\"title\":\"b\"}"));
    server.enqueue(json("[1,2] 3"));
    server.enqueue(json("{\"id\":3,\"title\":\"c\"}\r\n\t "));

    DeserializationException page = assertThrows(DeserializationException.class,
        () -> client.get("/posts/1").execute(Post.class));
    assertTrue(page.getMessage().contains("cannot map the body to " + Post.class.getName()),
        page.getMessage());
    DeserializationException second = assertThrows(DeserializationException.class,
        () -> client.get("/posts/1").execute(Map.class));
    assertTrue(second.getMessage().contains("Trailing token"), second.getMessage());
    assertThrows(DeserializationException.class, () -> client.get("/ids").execute(int[].class));
    assertEquals(new Post(3, "c"), client.get("/posts/3").execute(Post.class),
        "whitespace after the document is no content");
  }

  @Test
  void aStringAsLongAsMaxResponseBytesAllowsIsRead() {
    // 21 million characters: over Jackson's own cap on a string (20 million), under the 32 MiB
    // this client reads. A file sent as base64 in a JSON field, say.
    String big = "QUJD".repeat(5_250_000);
    server.enqueue(new MockResponse.Builder().addHeader("Content-Type", "application/json")
        .body(new okio.Buffer().writeUtf8("{\"id\":1,\"title\":\"").writeUtf8(big)
            .writeUtf8("\"}"))
        .build());
    try (ApiClient large = client.newBuilder().maxResponseBytes(32L * 1024 * 1024).build()) {
      Post p = large.get("/attachments/1").execute(Post.class);
      assertEquals(big.length(), p.title().length());
      assertTrue(p.title().equals(big));
    }
  }

  @Test
  void utf16Or32WithoutAMarkIsToldApartWhateverTheCharsetParameterSays() {
    // RFC 4627's rule, which Jackson applies: the zeros among the first bytes tell UTF-16 and
    // -32 from UTF-8. A label naming an 8-bit charset must not hide them.
    String doc = "{\"id\":7,\"title\":\"\u00e9t\u00e9 \u20ac\"}";
    java.nio.charset.Charset[] charsets = {java.nio.charset.StandardCharsets.UTF_16BE,
        java.nio.charset.StandardCharsets.UTF_16LE, java.nio.charset.Charset.forName("UTF-32BE"),
        java.nio.charset.Charset.forName("UTF-32LE")};
    for (java.nio.charset.Charset cs : charsets) {
      server.enqueue(new MockResponse.Builder()
          .addHeader("Content-Type", "application/json; charset=ISO-8859-1")
          .body(new okio.Buffer().writeString(doc, cs)).build());
      assertEquals(new Post(7, "\u00e9t\u00e9 \u20ac"),
          client.get("/posts/7").execute(Post.class), cs.name());
    }
    // A body that is Latin-1 is still read as the label says.
    server.enqueue(new MockResponse.Builder()
        .addHeader("Content-Type", "application/json; charset=ISO-8859-1")
        .body(new okio.Buffer().writeString("{\"id\":8,\"title\":\"caf\u00e9\"}",
            java.nio.charset.StandardCharsets.ISO_8859_1)).build());
    assertEquals(new Post(8, "caf\u00e9"), client.get("/posts/8").execute(Post.class));
  }

  record Event(Instant at, OffsetDateTime local, LocalDate day, Duration took) {}

  @Test
  void javaTimeValuesGoOutAndComeBackAsIsoStrings() throws Exception {
    // Without java.time support, the default mapper refused both ways ("Java 8 date/time type
    // not supported by default"): a user had to bring a mapper of their own for a date.
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return json(request.getBody().utf8());
      }
    });
    Event sent = new Event(Instant.parse("2024-05-01T10:15:30.123Z"),
        OffsetDateTime.of(2024, 5, 1, 12, 15, 30, 0, ZoneOffset.ofHours(2)),
        LocalDate.of(2024, 2, 29), Duration.ofMillis(1500));
    Event back = client.post("/events").json(sent).execute(Event.class);

    String body = server.takeRequest().getBody().utf8();
    assertTrue(body.contains("\"at\":\"2024-05-01T10:15:30.123Z\""), body);
    assertTrue(body.contains("\"local\":\"2024-05-01T12:15:30+02:00\""), body);
    assertTrue(body.contains("\"day\":\"2024-02-29\""), body);
    assertTrue(body.contains("\"took\":\"PT1.5S\""), body);
    assertEquals(sent.at(), back.at());
    // The offset as sent (Jackson by default moves it to UTC: the same instant, not equal).
    assertEquals(sent.local(), back.local());
    assertEquals(sent.day(), back.day());
    assertEquals(sent.took(), back.took());
  }

  @Test
  void aDerivedClientSharesItsParentsMapperAndAnotherClientHasItsOwn() {
    // Each derived client built a mapper of its own: a ServiceLoader scan for modules, and
    // serializer caches warmed again per client. An unrelated client keeps its own, so that
    // configuring one client's mapper leaves every other client's alone.
    try (ApiClient derived = client.newBuilder().deadline(Duration.ofSeconds(5)).build();
        ApiClient grandchild = derived.newBuilder().build();
        ApiClient other = ApiClient.builder().build()) {
      assertSame(client.mapper(), derived.mapper());
      assertSame(client.mapper(), grandchild.mapper());
      assertNotSame(client.mapper(), other.mapper());
    }
    com.fasterxml.jackson.databind.ObjectMapper own =
        new com.fasterxml.jackson.databind.ObjectMapper();
    try (ApiClient given = ApiClient.builder().objectMapper(own).build()) {
      assertSame(own, given.mapper());
    }
  }
}
