package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/** An {@code Idempotency-Key} the caller sets as a header is the call's idempotency key. */
class IdempotencyKeyHeaderTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private ApiClient client(boolean generate) {
    return ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(5)))
        .generateIdempotencyKeys(generate).build();
  }

  @Test
  void aGeneratedKeyNeverReplacesTheCallersOwn() throws Exception {
    server.enqueue(new MockResponse.Builder().code(201).build());
    try (ApiClient client = client(true)) {
      client.post("/orders").header("idempotency-key", "order-42").json(Map.of("a", 1))
          .execute();
    }
    assertEquals(List.of("order-42"),
        server.takeRequest().getHeaders().values("Idempotency-Key"));
  }

  @Test
  void aPostCarryingTheKeyAsAHeaderIsRetriedWithTheSameKey() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().code(201).body("created").build());
    try (ApiClient client = client(false)) {
      assertEquals("created", client.post("/orders").header("Idempotency-Key", "order-42")
          .json(Map.of("a", 1)).execute(String.class));
    }
    assertEquals(List.of("order-42"), server.takeRequest().getHeaders().values("Idempotency-Key"));
    assertEquals(List.of("order-42"), server.takeRequest().getHeaders().values("Idempotency-Key"));
  }

  @Test
  void anyNonIdempotentMethodGetsAGeneratedKeyKeptAcrossItsRetries() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().code(200).body("locked").build());
    try (ApiClient client = client(true)) {
      assertEquals("locked", client.request("LOCK", "/files/1").execute(String.class));
    }
    List<String> first = server.takeRequest().getHeaders().values("Idempotency-Key");
    assertEquals(1, first.size());
    assertEquals(first, server.takeRequest().getHeaders().values("Idempotency-Key"));
  }

  @Test
  void anIdempotentMethodGetsNoGeneratedKey() throws Exception {
    server.enqueue(new MockResponse.Builder().code(200).build());
    try (ApiClient client = client(true)) {
      client.put("/files/1").json(Map.of("a", 1)).execute();
    }
    assertEquals(List.of(), server.takeRequest().getHeaders().values("Idempotency-Key"));
  }

  @Test
  void aBlankKeyHeaderIsRefusedAtOnce() {
    try (ApiClient client = client(false)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> client.post("/orders").header("Idempotency-Key", " "));
      assertEquals("idempotencyKey must not be null or blank", e.getMessage());
    }
  }
}
