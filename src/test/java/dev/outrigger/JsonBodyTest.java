package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** How the default mapper reads a successful answer's JSON body. */
class JsonBodyTest {
  record Post(int id, String title) {}

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private ApiClient client;

  @BeforeEach
  void setUp() {
    client = ApiClient.builder().baseUrl(server.url("/v1").toString()).retry(Retry.none()).build();
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    ClientTestSupport.assertNoLeaks(client);
    client.close();
  }

  private static MockResponse json(String body) {
    return new MockResponse.Builder().addHeader("Content-Type", "application/json").body(body)
        .build();
  }

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
}
