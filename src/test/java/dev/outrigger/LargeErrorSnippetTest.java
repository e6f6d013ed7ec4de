package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.Test;

/**
 * README: "the decoder (and an error's body snippet) gets the whole body even if an interceptor
 * read part of it". It holds for a small error body and for a large success body; an error body
 * over 64 KiB (which the transport moves into an array of its own) or over maxResponseBytes (cut
 * to it) gives a snippet from where the interceptor stopped reading.
 */
class LargeErrorSnippetTest extends ClientOverServerTest {
  @Test
  void aLargeErrorsSnippetStartsAtItsStartEvenIfAnInterceptorReadPartOfIt() {
    String start = "database on fire: ";
    server.enqueue(new MockResponse.Builder().code(500).body(start + "x".repeat(100_000)).build());
    server.enqueue(new MockResponse.Builder().code(500).body(start + "y".repeat(100_000)).build());
    try (ApiClient reading = client.newBuilder().retry(Retry.none())
        .addAttemptInterceptor(chain -> {
          okhttp3.Response r = chain.proceed(chain.request());
          try {
            r.body().source().skip(9); // a logging interceptor reads the start of each body
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
          return r;
        }).build();
        ApiClient cut = reading.newBuilder().maxResponseBytes(1024).build()) {
      // Over 64 KiB, under the limit: kept whole in an array of its own.
      HttpStatusException large = assertThrows(HttpStatusException.class,
          () -> reading.get("/fire").execute(String.class));
      assertTrue(large.bodySnippet().startsWith(start), large.bodySnippet());
      // Over the limit: cut to it.
      HttpStatusException over = assertThrows(HttpStatusException.class,
          () -> cut.get("/fire").execute(String.class));
      assertEquals(500, over.status());
      assertTrue(over.bodySnippet().startsWith(start), over.bodySnippet());
    }
  }
}
