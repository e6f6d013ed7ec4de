package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;

/**
 * A successful answer whose body is over maxResponseBytes is refused "without being read whole"
 * (README), as an error's cut body and a discarded one are: its connection is closed, not kept
 * after reading the rest of the body.
 */
class RefusedBodyConnectionTest extends ClientOverServerTest {
  @Test
  void aSuccessRefusedAsTooLargeIsNotReadToItsEndForItsConnection() throws Exception {
    try (ApiClient small = client.newBuilder().maxResponseBytes(1024).build()) {
      // Declared over the limit (refused before a byte of it is read), then chunked (refused
      // once the limit is passed): neither may be read on to its end.
      server.enqueue(new MockResponse.Builder().body("y".repeat(64 * 1024)).build());
      server.enqueue(new MockResponse.Builder().chunkedBody("z".repeat(64 * 1024), 512).build());
      server.enqueue(new MockResponse.Builder().body("ok").build());

      DeserializationException declared = assertThrows(DeserializationException.class,
          () -> small.get("/declared").execute(String.class));
      assertTrue(declared.getMessage().contains("declares 65536 bytes"), declared.getMessage());
      assertThrows(DeserializationException.class,
          () -> small.get("/chunked").execute(String.class));
      assertEquals("ok", small.get("/after").execute(String.class));

      RecordedRequest first = server.takeRequest();
      RecordedRequest second = server.takeRequest();
      RecordedRequest third = server.takeRequest();
      // Each refused body's connection is closed: the next call opens a new one. (OkHttp's
      // close() of an unread body reads it on, for up to 100 ms, to keep the connection.)
      assertTrue(second.getConnectionIndex() != first.getConnectionIndex(),
          "the refused 64 KiB body was read to its end and its connection reused");
      assertTrue(third.getConnectionIndex() != second.getConnectionIndex(),
          "the refused chunked body was read to its end and its connection reused");
    }
  }
}
