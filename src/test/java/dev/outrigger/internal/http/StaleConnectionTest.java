package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.FanOut;
import dev.outrigger.LogCapture;
import dev.outrigger.Result;
import dev.outrigger.Retry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A server that closes keep-alive connections it sees idle (Node.js, Apache httpd and uvicorn
 * after 5 s, gunicorn after 2 s) before the client's pool lets them go (60 s): the client must
 * not take the closed connection for a failing server, nor lose an unkeyed POST to it.
 */
class StaleConnectionTest {

  @AfterEach
  void restoreTheIdleThreshold() {
    IdleConnectionCheck.afterNanos = IdleConnectionCheck.AFTER_NANOS;
  }

  @Test
  void anUnkeyedPostOnAConnectionTheServerClosedWhileIdleIsSentOnceOnAnother() throws Exception {
    // The check's idle threshold (a second) shortened, so that the test need not wait it out.
    IdleConnectionCheck.afterNanos = 1;
    try (IdleClosingServer server = new IdleClosingServer(100);
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      client.get("/warm").execute(String.class);
      server.awaitIdleClosed(1);

      ApiResponse<String> r = client.post("/orders").json(Map.of("item", 1)).send(String.class);

      assertEquals("ok", r.body());
      assertEquals(1, r.attempts());
      assertEquals(List.of("GET /warm HTTP/1.1", "POST /orders HTTP/1.1"), server.requests);
    }
  }

  @Test
  void aServerClosingIdleConnectionsCostsNoFailedAttemptAndNeverMovesTheBreaker()
      throws Exception {
    IdleConnectionCheck.afterNanos = 1;
    try (IdleClosingServer server = new IdleClosingServer(50);
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      for (int i = 0; i < 12; i++) {
        ApiResponse<String> r = client.get("/things").send(String.class);
        assertEquals(1, r.attempts(), "call " + i);
        server.awaitIdleClosed(1);
      }
      CircuitBreaker.Snapshot s = client.breaker("127.0.0.1:" + server.port()).snapshot();
      assertEquals(0, s.failedCalls(), s.toString());
      assertEquals(12, s.calls(), s.toString());
      assertEquals(12, server.requests.size());
    }
  }

  @Test
  void aPoolTheServerEmptiedWhileIdleIsWorkedThroughByOneCall() throws Exception {
    IdleConnectionCheck.afterNanos = 1;
    try (IdleClosingServer server = new IdleClosingServer(100);
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      // Three calls held together by the server: three pooled connections.
      server.hold = new CountDownLatch(3);
      List<Result<String>> warm = FanOut.map(List.of(1, 2, 3),
          i -> client.get("/warm/{i}", i).execute(String.class));
      assertTrue(warm.stream().allMatch(Result::isSuccess), warm.toString());
      server.hold = null;
      server.awaitIdleClosed(3);

      ApiResponse<String> r = client.post("/orders").json(Map.of("item", 1)).send(String.class);

      assertEquals("ok", r.body());
      assertEquals(1, r.attempts());
      assertEquals(4, server.requests.size(), server.requests.toString());
    }
  }

  @Test
  void aConnectionUsedRecentlyIsNotChecked() throws Exception {
    // With the default threshold, a connection reused at once gets no check: a check of a
    // healthy connection would leave nothing to see, so look at the closed one instead. The
    // server closes it at once after each answer's idle 50 ms; the client reuses it within the
    // second, so the closed connection is met by the request, which then goes again on another
    // connection from that failure (it may go twice), not from a check: the pre-write check
    // stayed out of the way.
    try (IdleClosingServer server = new IdleClosingServer(50);
        LogCapture log = new LogCapture(IdleConnectionCheck.class.getName());
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.none()).build()) {
      client.get("/warm").execute(String.class);
      server.awaitIdleClosed(1);

      ApiResponse<String> r = client.get("/next").send(String.class);

      assertEquals(1, r.attempts());
      assertEquals(1, log.count("DEBUG", "as the request went out"), log.all());
      assertEquals(0, log.count("DEBUG", "ms idle"), log.all());
      assertEquals(List.of("GET /warm HTTP/1.1", "GET /next HTTP/1.1"), server.requests);
    }
  }
}
