package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mockwebserver3.MockResponse;
import org.junit.jupiter.api.Test;

/**
 * Review of 5175a0f: "Both messages flatten the server's line breaks and other control
 * characters to spaces, so a body cannot forge a log line." Failures.flatten flattens ISO
 * control characters only; U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, which
 * Failures.jsonPath itself escapes as "line-separating" in a key, pass through into both the
 * decoder's message and a status snippet.
 */
class DecodeMessageLineSeparatorTest extends ClientOverServerTest {
  @Test
  void aLineSeparatorOfTheServersIsFlattenedAsAControlCharacterIs() {
    server.enqueue(json("{\"id\":\"12\\u20282024-01-01 12:00:00 INFO admin logged in\"}"));
    server.enqueue(new MockResponse.Builder().code(500)
        .body("down\u20282024-01-01 12:00:00 INFO admin logged in").build());

    DeserializationException value = assertThrows(DeserializationException.class,
        () -> client.get("/posts/1").execute(Post.class));
    assertTrue(value.getMessage().contains("(at $.id)"), value.getMessage());
    assertFalse(value.getMessage().contains("\u2028"),
        "a line separator of the server's in the message: " + value.getMessage());

    HttpStatusException status = assertThrows(HttpStatusException.class,
        () -> client.get("/posts/1").execute(Post.class));
    assertFalse(status.bodySnippet().contains("\u2028"),
        "a line separator of the server's in the snippet: " + status.bodySnippet());
  }
}
