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

  /**
   * A breaker forced open admits nothing until it is reset: its snapshot and its refusal say
   * so, not that a probe comes in {@code PT2562047H47M16.854775807S} (Long.MAX_VALUE
   * nanoseconds, what {@code retryAfter()} holds).
   */
  @Test
  void aBreakerForcedOpenReadsUntilResetNotASaturatedDuration() {
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString()).build()) {
      String key = server.getHostName() + ":" + server.getPort();
      client.breaker(key).forceOpen();

      String snapshot = client.breaker(key).snapshot().toString();
      assertTrue(snapshot.endsWith(", retryAfter=until reset]"), snapshot);
      String all = client.breakers().toString();
      assertTrue(all.contains("retryAfter=until reset") && !all.contains("PT"), all);
      CircuitOpenException e = assertThrows(CircuitOpenException.class,
          () -> client.get("/x").execute(String.class));
      assertTrue(e.toString().endsWith("it stays open until reset"), e.toString());
      assertTrue(!e.toString().contains("PT"), e.toString());
    }
  }

  /**
   * Breakers keyed by host have keys of one form, host:port: a handle of "127.0.0.1" (no port)
   * or of a URL was a breaker no call uses, and forcing it open logged a transition and stopped
   * nothing. Such a key is refused, saying the form and how to get it from a URL.
   */
  @Test
  void aKeyNoCallCanHaveIsRefusedSayingTheForm() {
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString()).build()) {
      IllegalArgumentException noPort = assertThrows(IllegalArgumentException.class,
          () -> client.breaker("127.0.0.1"));
      assertTrue(noPort.getMessage().startsWith("breaker key '127.0.0.1' is not one a call can "
          + "have: this client keys its breakers by host, and keys are host:port, e.g. "
          + "127.0.0.1:8080"), noPort.getMessage());
      assertTrue(noPort.getMessage().endsWith("from a URL, take HttpUrl.get(url) and its host() "
          + "+ \":\" + port()"), noPort.getMessage());
      // Where the key says which host:port was meant, the message gives it.
      refused(client, "https://api.example.com/v1?token=s3cret", "api.example.com:443");
      refused(client, "API.example.com:443", "api.example.com:443");
      refused(client, "api.example.com:443/v1", "api.example.com:443");
      refused(client, "[0:0::1]:8080", "[::1]:8080");
      assertThrows(IllegalArgumentException.class, () -> client.breaker("::1:8080"));
      assertThrows(IllegalArgumentException.class, () -> client.breaker(""));

      for (String key : new String[] {"api.example.com:443", "127.0.0.1:8080", "[::1]:8080"}) {
        assertEquals(key, client.breaker(key).key());
      }
    }
  }

  private static void refused(ApiClient client, String key, String meant) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> client.breaker(key));
    assertTrue(e.getMessage().endsWith("; for this one, " + meant), e.getMessage());
    assertTrue(!e.getMessage().contains("s3cret"), e.getMessage());
  }

  /** With a key function of the user's, any key may be one its calls have. */
  @Test
  void aCustomKeyFunctionTakesAnyKey() {
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .circuitBreaker(CircuitBreaker.builder()
            .keyedBy(call -> call.url().encodedPath()).build())
        .build()) {
      client.breaker("/x").forceOpen();
      assertThrows(CircuitOpenException.class, () -> client.get("/x").execute(String.class));
      assertEquals(0, server.getRequestCount());
      assertEquals("127.0.0.1", client.breaker("127.0.0.1").key());
    }
  }

  /** Other states write their retryAfter as other messages write time. */
  @Test
  void aSnapshotWritesItsRetryAfterInMilliseconds() {
    CircuitBreaker.Snapshot open = new CircuitBreaker.Snapshot(
        "api.example.com:443", CircuitBreaker.State.OPEN, 1.0, 0, 20, 20, 0,
        java.time.Duration.ofMillis(4999));
    assertEquals("Snapshot[key=api.example.com:443, state=OPEN, failureRate=1.0, "
        + "slowCallRate=0.0, calls=20, failedCalls=20, slowCalls=0, retryAfter=4999 ms]",
        open.toString());
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
