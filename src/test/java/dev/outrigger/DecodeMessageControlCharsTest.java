package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * What a server wrote reaches an exception message on one line: an HttpStatusException's
 * snippet has its control characters flattened, and a DeserializationException escapes them in
 * the JSON path it names. The decoder's own words quote the body's values as they are, so a
 * string value with CR/LF in it puts the server's line breaks (and a forged log line after them)
 * into the message.
 */
class DecodeMessageControlCharsTest extends ClientOverServerTest {
  @Test
  void aValueTheDecoderQuotesPutsNoLineBreakOfTheServersInTheMessage() {
    server.enqueue(json("{\"id\":\"12\\r\\n2024-01-01 12:00:00 INFO admin logged in\"}"));
    // The same characters in a key are escaped in the path already.
    server.enqueue(json("{\"a\\nb\":{\"id\":1}}"));

    DeserializationException value = assertThrows(DeserializationException.class,
        () -> client.get("/posts/1").execute(Post.class));
    assertTrue(value.getMessage().contains("(at $.id)"), value.getMessage());
    assertFalse(value.getMessage().contains("\n") || value.getMessage().contains("\r"),
        "a line break of the server's in the message: " + value.getMessage());

    DeserializationException key = assertThrows(DeserializationException.class,
        () -> client.get("/posts").execute(
            new com.fasterxml.jackson.core.type.TypeReference<java.util.Map<String, String>>() {}));
    assertFalse(key.getMessage().contains("\n"), key.getMessage());
  }
}
