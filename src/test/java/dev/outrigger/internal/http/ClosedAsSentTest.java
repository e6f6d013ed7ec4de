package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.LogCapture;
import dev.outrigger.Result;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A pooled connection its server closed as the request went out, too soon after its last
 * answer for the idle check to look at it: a server that closes connections right after
 * answering without {@code Connection: close} (the JDK's HttpServer beyond its 200 idle ones),
 * or one whose idle timeout fires as the request arrives. The request meets the end of the
 * stream before any byte of an answer. Before, that failed the attempt ("unexpected end of
 * stream"): a retry, with its backoff and budget, and a failure for the breaker. Now, as Go's
 * {@code net/http} does, a request that may go twice goes again at once on another connection,
 * within the attempt; one that may not fails, saying why.
 */
class ClosedAsSentTest {
  @StartStop private final MockWebServer origin = new MockWebServer();

  @BeforeEach
  void noIdleCheck() {
    // The check before writing never looks (however slow the machine): each connection here is
    // met closed by its request, never by the check.
    IdleConnectionCheck.afterNanos = Long.MAX_VALUE;
  }

  @AfterEach
  void restoreTheIdleThreshold() {
    IdleConnectionCheck.afterNanos = IdleConnectionCheck.AFTER_NANOS;
  }

  private static IdleClosingServer closingAfterEachAnswer() throws Exception {
    IdleClosingServer server = new IdleClosingServer(10_000);
    server.closeAfterAnswer = true;
    return server;
  }

  @Test
  void aGetOnAConnectionClosedJustAfterItsAnswerGoesAgainWithinTheAttempt() throws Exception {
    try (IdleClosingServer server = closingAfterEachAnswer();
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      client.get("/warm").execute(String.class);
      server.awaitClosedAfterAnswer(1);

      ApiResponse<String> r = client.get("/next").send(String.class);

      assertEquals("ok", r.body());
      assertEquals(1, r.attempts(), "not a retry: no backoff, no budget");
      assertEquals(List.of("GET /warm HTTP/1.1", "GET /next HTTP/1.1"), server.requests);
      assertEquals(2, server.accepted(), "sent again on a new connection");
      CircuitBreaker.Snapshot s = client.breaker("127.0.0.1:" + server.port()).snapshot();
      assertEquals(0, s.failedCalls(), s.toString());
    }
  }

  @Test
  void anUnkeyedPostIsNotSentAgainAndTheFailureSaysWhy() throws Exception {
    try (IdleClosingServer server = new IdleClosingServer(10_000);
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      server.answersBeforeDrop = 1;
      client.get("/warm").execute(String.class);

      TransportException e = assertThrows(TransportException.class,
          () -> client.post("/orders").json(Map.of("item", 1)).execute(String.class));

      assertEquals(TransportException.Kind.IO, e.kind(), e.getMessage());
      assertTrue(e.getMessage().contains(
          "the server closed this pooled connection as the request went out"), e.getMessage());
      assertTrue(e.getMessage().contains("was not sent again on another connection: it is not "
          + "idempotent"), e.getMessage());
      assertEquals(1, e.attempts());
      assertEquals(List.of("GET /warm HTTP/1.1", "POST /orders HTTP/1.1"), server.requests,
          "the POST went once");
    }
  }

  @Test
  void aPostWithAnIdempotencyKeyGoesAgainWithinTheAttempt() throws Exception {
    try (IdleClosingServer server = new IdleClosingServer(10_000);
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      server.answersBeforeDrop = 1;
      client.get("/warm").execute(String.class);

      ApiResponse<String> r = client.post("/orders").json(Map.of("item", 1))
          .idempotencyKey("order-1").send(String.class);

      assertEquals("ok", r.body());
      assertEquals(1, r.attempts());
      // The closed connection's server read it before closing: it went twice, as its key allows.
      assertEquals(List.of("GET /warm HTTP/1.1", "POST /orders HTTP/1.1", "POST /orders HTTP/1.1"),
          server.requests);
    }
  }

  @Test
  void aNewConnectionClosedBeforeAnsweringFailsTheAttempt() throws Exception {
    // A server that closes a connection made for the request had no idle connection to close:
    // the failure is its own, and the attempt's, not sent again within it.
    try (IdleClosingServer server = new IdleClosingServer(10_000);
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.none()).build()) {
      server.answersBeforeDrop = 0;

      TransportException e = assertThrows(TransportException.class,
          () -> client.get("/things").execute(String.class));

      assertEquals(TransportException.Kind.IO, e.kind(), e.getMessage());
      assertTrue(e.getMessage().contains("unexpected end of stream"), e.getMessage());
      assertFalse(e.getMessage().contains("pooled"), e.getMessage());
      assertEquals(List.of("GET /things HTTP/1.1"), server.requests);
    }
  }

  @Test
  void theRequestSentAgainSkipsOtherConnectionsTheServerClosed() throws Exception {
    // Two pooled connections, both closed by the server after answering. The first the call
    // takes fails as its request goes out; the one it is sent again on is looked at before
    // anything is written (however briefly idle), found closed too and set aside: the request
    // goes on a new connection, once more, within the one attempt.
    try (IdleClosingServer server = closingAfterEachAnswer();
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.none()).build()) {
      server.hold = new CountDownLatch(2);
      List<Result<String>> warm = FanOut.map(List.of(1, 2),
          i -> client.get("/warm/{i}", i).execute(String.class));
      assertTrue(warm.stream().allMatch(Result::isSuccess), warm.toString());
      server.hold = null;
      server.awaitClosedAfterAnswer(2);

      ApiResponse<String> r = client.get("/next").send(String.class);

      assertEquals("ok", r.body());
      assertEquals(1, r.attempts());
      assertEquals(3, server.requests.size(), server.requests.toString());
      assertEquals(3, server.accepted());
    }
  }

  @Test
  void aRedirectsConnectionClosedAsItsRequestWentOutSendsTheCallAgain() throws Exception {
    // The call's own GET was answered (a 307); the redirect's request, on a pooled connection
    // to the target that its server closed after answering, met the end of the stream. The
    // call's own request goes again, once, within the attempt.
    try (IdleClosingServer target = closingAfterEachAnswer();
        ApiClient client = ApiClient.builder().baseUrl(origin.url("/").toString())
            .retry(Retry.none()).build()) {
      client.get(target.url() + "/warm").execute(String.class);
      target.awaitClosedAfterAnswer(1);
      for (int i = 0; i < 2; i++) {
        origin.enqueue(new MockResponse.Builder().code(307)
            .setHeader("Location", target.url() + "/moved").build());
      }

      ApiResponse<String> r = client.get("/go").send(String.class);

      assertEquals("ok", r.body());
      assertEquals(1, r.attempts());
      assertEquals(2, origin.getRequestCount(), "the call's own request, sent again at once");
      assertEquals(List.of("GET /warm HTTP/1.1", "GET /moved HTTP/1.1"), target.requests);
      assertEquals(0, client.breaker("127.0.0.1:" + target.port()).snapshot().failedCalls());
    }
  }

  @Test
  void aRequestWhoseDeadlinePassedAsItWentOutIsNotSentAgain() throws Exception {
    // The deadline passes while the request is on its way (the client's clock moved on past it)
    // and the server closes the pooled connection unanswered; the watchdog, on a thread of its
    // own (here, on the real clock), has not cut the call yet. Nothing goes out after the
    // deadline: the attempt fails with the server's close, not sent again on another connection.
    FakeClock time = new FakeClock();
    try (IdleClosingServer server = new IdleClosingServer(10_000);
        LogCapture log = new LogCapture(IdleConnectionCheck.class.getName());
        ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), time)
            .baseUrl(server.url()).deadline(Duration.ofSeconds(10)).retry(Retry.none())
            .addOkHttpInterceptor(chain -> {
              if (chain.request().url().encodedPath().equals("/next")) {
                time.advanceMillis(20_000);
              }
              return chain.proceed(chain.request());
            }).build()) {
      server.answersBeforeDrop = 1;
      client.get("/warm").execute(String.class);

      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> client.get("/next").execute(String.class));

      assertEquals(0, log.count("DEBUG", "again"), log.all());
      assertTrue(String.valueOf(e.getCause()).contains("as the request went out"),
          String.valueOf(e.getCause()));
      assertEquals(List.of("GET /warm HTTP/1.1", "GET /next HTTP/1.1"), server.requests);
    }
  }

  @Test
  void anAnswerCutShortAfterItsStatusLineReadsAsNone() throws Exception {
    // OkHttp shows the end of the stream after a status line as it shows one before any byte:
    // the server began to answer and went away, and a request that may go twice goes again
    // within the attempt (README says so); one that may not is not sent again.
    try (IdleClosingServer server = new IdleClosingServer(10_000);
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      server.answersBeforeDrop = 1;
      server.cutAnswer = "HTTP/1.1 200 OK\r\n";
      client.get("/warm").execute(String.class);

      ApiResponse<String> r = client.get("/next").send(String.class);

      assertEquals("ok", r.body());
      assertEquals(1, r.attempts());
      assertEquals(List.of("GET /warm HTTP/1.1", "GET /next HTTP/1.1", "GET /next HTTP/1.1"),
          server.requests);

      // The connection /next went again on answered it: the next request on it is cut short.
      TransportException e = assertThrows(TransportException.class,
          () -> client.post("/orders").json(Map.of("item", 1)).execute(String.class));

      assertTrue(e.getMessage().contains("no answer read"), e.getMessage());
      assertTrue(e.getMessage().contains("it is not idempotent"), e.getMessage());
      assertEquals(1, server.requests.stream().filter(l -> l.startsWith("POST")).count());
    }
  }
}
