package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.Test;

/**
 * A call that ends with a DeserializationException after the retry policy went past a failure
 * tells of it as every other ending does (README, "What you get when it gives up"; a 404 after a
 * 503, a body refused as too large after a 503): the attempts made in its message, the earlier
 * failure attached as suppressed.
 */
class DecodeFailureAfterRetriesTest extends ClientOverServerTest {
  @Test
  void aBodyThatCannotBeMappedAfterARetried503KeepsThe503AndSaysHowManyAttempts() {
    try (ApiClient retrying = client.newBuilder()
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(3))
        .maxResponseBytes(1024).build()) {
      // The same ending through the transport (a body over the limit) for comparison.
      server.enqueue(new MockResponse.Builder().code(503).body("busy").build());
      server.enqueue(json("x".repeat(4096)));
      server.enqueue(new MockResponse.Builder().code(503).body("busy").build());
      server.enqueue(json("{\"id\":\"not a number\"}"));

      DeserializationException tooLarge = assertThrows(DeserializationException.class,
          () -> retrying.get("/posts/1").execute(Post.class));
      assertEquals(2, tooLarge.attempts());
      assertTrue(tooLarge.getMessage().contains("(after 2 attempts)"), tooLarge.getMessage());
      assertEquals(503, assertInstanceOf(HttpStatusException.class,
          tooLarge.getSuppressed()[0]).status());

      DeserializationException unmappable = assertThrows(DeserializationException.class,
          () -> retrying.get("/posts/1").execute(Post.class));
      assertEquals(2, unmappable.attempts());
      assertEquals(1, unmappable.getSuppressed().length,
          "the retried 503 is lost: " + List.of(unmappable.getSuppressed()));
      assertEquals(503, assertInstanceOf(HttpStatusException.class,
          unmappable.getSuppressed()[0]).status());
      assertTrue(unmappable.getMessage().contains("(after 2 attempts)"), unmappable.getMessage());
    }
  }
}
