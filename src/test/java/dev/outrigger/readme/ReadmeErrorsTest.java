package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiException;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.DeserializationException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** README "Errors". */
class ReadmeErrorsTest {

  /** "All failures of a call are unchecked and extend ApiException". */
  @Test
  void everyFailureIsAnUncheckedApiException() {
    assertTrue(RuntimeException.class.isAssignableFrom(ApiException.class));
    for (Class<?> c : List.of(HttpStatusException.class, TransportException.class,
        DeserializationException.class, RateLimitedException.class, CircuitOpenException.class,
        DeadlineExceededException.class)) {
      assertEquals(ApiException.class, c.getSuperclass(), c.getName());
    }
  }

  /**
   * "HttpStatusException: a status outside 2xx; status(), method(), url() (redacted),
   * bodySnippet() (bounded)".
   */
  @Test
  void aStatusExceptionNamesStatusMethodRedactedUrlAndABoundedSnippet() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(409, "c".repeat(100_000)));
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.put("/items/{id}", 7).query("token", "s3cr3t").json(List.of())
              .execute(String.class));
      assertEquals(409, e.status());
      assertEquals("PUT", e.method());
      assertTrue(e.url().startsWith(server.url() + "/items/7"), e.url());
      assertTrue(e.url().contains("token=REDACTED"), e.url());
      assertFalse(e.url().contains("s3cr3t"), e.url());
      assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
      assertTrue(e.bodySnippet().startsWith("ccc"), e.bodySnippet());
      assertTrue(e.bodySnippet().length() < 10_000, e.bodySnippet().length() + " chars");
      assertEquals(1, e.attempts());
    }
  }

  /**
   * "Misuse is not a call's failure: a call on a closed client throws IllegalStateException,
   * and an invalid path argument or URL IllegalArgumentException, before anything is sent."
   */
  @Test
  void misuseFailsBeforeAnythingIsSent() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"))) {
      ApiClient client = ApiClient.builder().baseUrl(server.url()).build();
      assertThrows(IllegalArgumentException.class,
          () -> client.get("/files/{name}", "..").execute(String.class));
      assertThrows(IllegalArgumentException.class,
          () -> client.get("/files/{name}/{more}", "a").execute(String.class));
      assertThrows(IllegalArgumentException.class,
          () -> client.get("http://").execute(String.class));
      client.close();
      assertThrows(IllegalStateException.class, () -> client.get("/x").execute(String.class));
      assertEquals(0, server.requests());
    }
  }

  /**
   * "CircuitOpenException: the host's breaker refused; breaker(), retryAfter()", with attempts()
   * "0 when refused before sending"; the breaker section adds "the message names the breaker
   * and the wait".
   */
  @Test
  void aBreakerRefusalNamesTheBreakerAndTheWait() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(500, "down"));
        ApiClient client = ApiClient.builder().baseUrl(server.url()).retry(Retry.none())
            .build()) {
      for (int i = 0; i < 20; i++) {
        assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
      }
      CircuitOpenException e = assertThrows(CircuitOpenException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(server.host(), e.breaker());
      assertTrue(e.retryAfter().compareTo(Duration.ofSeconds(5)) <= 0
          && e.retryAfter().compareTo(Duration.ZERO) > 0, e.retryAfter().toString());
      assertEquals(0, e.attempts());
      assertTrue(e.getMessage().contains(server.host()), e.getMessage());
      assertTrue(e.getMessage().matches("(?s).*next probe in \\d\\.\\d+ s.*"), e.getMessage());
      assertEquals(20, server.requests());
    }
  }
}
