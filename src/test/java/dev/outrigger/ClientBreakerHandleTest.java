package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

class ClientBreakerHandleTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aBreakerForcedOpenThroughTheClientRefusesWithoutSendingUntilReset() {
    server.enqueue(new MockResponse.Builder().body("a").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString()).build()) {
      String key = server.getHostName() + ":" + server.getPort();
      client.breaker(key).forceOpen();

      CircuitOpenException e = assertThrows(CircuitOpenException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(0, e.attempts());
      assertEquals(key, e.breaker());
      assertEquals(0, server.getRequestCount(), "nothing reaches the network");
      assertEquals(CircuitBreaker.State.FORCED_OPEN, client.breaker(key).snapshot().state());

      client.breaker(key).reset();
      assertEquals("a", client.get("/x").execute(String.class));
      assertTrue(client.breakers().stream().anyMatch(s -> s.key().equals(key)
          && s.state() == CircuitBreaker.State.CLOSED), client.breakers().toString());
    }
  }

  @Test
  void aRetryPastABreakerForcedOpenSaysSoInsteadOfAnEndlessWait() {
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.exponential(java.time.Duration.ofMillis(10), java.time.Duration.ofMillis(50))
            .retryWhenCircuitOpen(true))
        .build()) {
      String key = server.getHostName() + ":" + server.getPort();
      client.breaker(key).forceOpen();

      CircuitOpenException e = assertThrows(CircuitOpenException.class,
          () -> client.get("/x").execute(String.class));
      assertTrue(e.getMessage().contains("circuit breaker " + key + " is forced open"),
          e.getMessage());
      assertTrue(!e.getMessage().contains("4611686018"), e.getMessage());
      assertEquals(0, server.getRequestCount(), "nothing reaches the network");
    }
  }
}
