package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A redirect's request, which OkHttp writes within the attempt, gets the idle-connection check
 * of a call's first request: the pooled connection it would go on, one its server closed while
 * idle, is found before anything is written on it. Before, only the first request was checked:
 * the redirect's was written into the closed socket and the attempt failed ("unexpected end of
 * stream"), a failure for the retry policy and the breaker.
 */
class StaleConnectionRedirectTest {
  @StartStop private final MockWebServer origin = new MockWebServer();

  @AfterEach
  void restoreTheIdleThreshold() {
    IdleConnectionCheck.afterNanos = IdleConnectionCheck.AFTER_NANOS;
  }

  private void redirectTo(String location) {
    origin.enqueue(new MockResponse.Builder().code(307).setHeader("Location", location).build());
  }

  @Test
  void aRedirectsRequestOnAConnectionTheServerClosedWhileIdleGoesOnAnother() throws Exception {
    // The check's idle threshold (a second) shortened, so that the test need not wait it out.
    IdleConnectionCheck.afterNanos = 1;
    try (IdleClosingServer target = new IdleClosingServer(100);
        ApiClient client = ApiClient.builder().baseUrl(origin.url("/").toString())
            .retry(Retry.none()).build()) {
      client.get(target.url() + "/warm").execute(String.class);
      target.awaitIdleClosed(1);
      redirectTo(target.url() + "/moved");
      redirectTo(target.url() + "/moved");

      ApiResponse<String> r = client.get("/go").send(String.class);

      assertEquals("ok", r.body());
      assertEquals(1, r.attempts());
      assertEquals(List.of("GET /warm HTTP/1.1", "GET /moved HTTP/1.1"), target.requests);
      assertEquals(2, origin.getRequestCount(), "the call's own request, sent again at once");
      assertEquals(0, client.breaker("127.0.0.1:" + target.port()).snapshot().failedCalls());
    }
  }

  @Test
  void aRequestSentOnceIsNotSentAgainWhenItsRedirectMeetsAClosedConnection() throws Exception {
    IdleConnectionCheck.afterNanos = 1;
    try (IdleClosingServer target = new IdleClosingServer(100);
        ApiClient client = ApiClient.builder().baseUrl(origin.url("/").toString()).build()) {
      client.get(target.url() + "/warm").execute(String.class);
      target.awaitIdleClosed(1);
      redirectTo(target.url() + "/orders");

      TransportException e = assertThrows(TransportException.class,
          () -> client.post("/orders").json(Map.of("item", 1)).execute(String.class));

      assertTrue(e.getMessage().contains("closed this pooled connection"), e.getMessage());
      assertTrue(e.getMessage().contains("not written"), e.getMessage());
      assertEquals(1, e.attempts());
      assertEquals(1, origin.getRequestCount(), "the POST went once");
      assertEquals(List.of("GET /warm HTTP/1.1"), target.requests);
    }
  }

  @Test
  void aOneShotBodyIsNotSentAgainWhenItsRedirectMeetsAClosedConnection() throws Exception {
    // A PUT may go twice, but not with a body that can be read once: the re-send within the
    // attempt would read it again.
    IdleConnectionCheck.afterNanos = 1;
    java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
    okhttp3.RequestBody oneShot = new okhttp3.RequestBody() {
      @Override
      public okhttp3.MediaType contentType() {
        return okhttp3.MediaType.get("application/octet-stream");
      }

      @Override
      public void writeTo(okio.BufferedSink sink) throws java.io.IOException {
        if (reads.incrementAndGet() > 1) {
          throw new IllegalStateException("a one-shot body read twice");
        }
        sink.writeUtf8("blob");
      }

      @Override
      public boolean isOneShot() {
        return true;
      }
    };
    try (IdleClosingServer target = new IdleClosingServer(100);
        ApiClient client = ApiClient.builder().baseUrl(origin.url("/").toString())
            .retry(Retry.none())
            .addCallInterceptor(chain -> chain.proceed(
                chain.request().url().encodedPath().endsWith("/upload")
                    ? chain.request().newBuilder().put(oneShot).build() : chain.request()))
            .build()) {
      client.get(target.url() + "/warm").execute(String.class);
      target.awaitIdleClosed(1);
      // A 303 turns the PUT into a GET of the target (OkHttp follows no 307 of a one-shot body).
      origin.enqueue(new MockResponse.Builder().code(303)
          .setHeader("Location", target.url() + "/status").build());

      TransportException e = assertThrows(TransportException.class,
          () -> client.get("/upload").execute(String.class));

      assertTrue(e.getMessage().contains("its body can be read once"), e.getMessage());
      assertEquals(1, reads.get());
      assertEquals(1, origin.getRequestCount(), "the PUT went once");
    }
  }

  @Test
  void aSecondStaleFollowUpInOneAttemptEndsTheAttempt() throws Exception {
    // The call's own request goes again at most once per attempt for a follow-up: a pool of
    // closed connections to the redirect's host does not make the origin see it again and again,
    // uncounted.
    IdleConnectionCheck.afterNanos = 1;
    try (IdleClosingServer target = new IdleClosingServer(100);
        ApiClient client = ApiClient.builder().baseUrl(origin.url("/").toString())
            .retry(Retry.none()).build()) {
      // Two calls held together by the target: two pooled connections to it.
      target.hold = new java.util.concurrent.CountDownLatch(2);
      List<dev.outrigger.Result<String>> warm = dev.outrigger.FanOut.map(List.of(1, 2),
          i -> client.get(target.url() + "/warm/" + i).execute(String.class));
      assertTrue(warm.stream().allMatch(dev.outrigger.Result::isSuccess), warm.toString());
      target.hold = null;
      target.awaitIdleClosed(2);
      for (int i = 0; i < 3; i++) {
        redirectTo(target.url() + "/moved");
      }

      TransportException e = assertThrows(TransportException.class,
          () -> client.get("/go").execute(String.class));

      assertTrue(e.getMessage().contains("went twice already"), e.getMessage());
      assertEquals(1, e.attempts());
      assertEquals(2, origin.getRequestCount(), "the first request and one re-send");
    }
  }

  @Test
  void anAttemptWhoseReSendFailsBeforeWritingStillSaysItsRequestWasWritten() throws Exception {
    // The call's own request reached its origin, whose redirect then met a stale connection:
    // the transport sets that OkHttp call aside and sends the request again on a new one, which
    // fails before writing anything (the origin is gone: its connect is refused). The server
    // saw the attempt's request all the same, and CallContext.requestWritten() must say so
    // (a policy or listener reads it to judge whether the server may have acted on it). The
    // call set aside must be noted as written before it is replaced: noted only as the attempt
    // ended, the new call was asked, which wrote nothing.
    IdleConnectionCheck.afterNanos = 1;
    List<Boolean> written = new CopyOnWriteArrayList<>();
    CallListener listener = new CallListener() {
      @Override
      public void attemptEnd(CallContext call, int status, Throwable error, Duration elapsed) {
        written.add(call.requestWritten());
      }
    };
    try (IdleClosingServer target = new IdleClosingServer(100);
        ServerSocket once = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ApiClient client = ApiClient.builder()
            .baseUrl("http://127.0.0.1:" + once.getLocalPort() + "/")
            .retry(Retry.none()).addListener(listener).build()) {
      client.get(target.url() + "/warm").execute(String.class);
      target.awaitIdleClosed(1);
      written.clear();
      // An origin that answers one request, a redirect to the target, and is gone by then.
      Thread origin = Thread.ofVirtual().start(() -> redirectOnceThenStop(once, target.url()));

      TransportException e = assertThrows(TransportException.class,
          () -> client.get("/go").execute(String.class));

      origin.join(Duration.ofSeconds(10));
      assertEquals(TransportException.Kind.CONNECT, e.kind(), e.toString());
      assertEquals(1, e.attempts());
      assertEquals(List.of(true), written, "the attempt's request was written");
      assertEquals(List.of("GET /warm HTTP/1.1"), target.requests);
    }
  }

  /**
   * Reads one request on {@code listener}, stops listening, then answers it with a 307 to
   * {@code target} and closes the connection.
   */
  private static void redirectOnceThenStop(ServerSocket listener, String target) {
    try (Socket s = listener.accept()) {
      InputStream in = s.getInputStream();
      int matched = 0;
      while (matched < 4) {
        int b = in.read();
        if (b < 0) {
          return;
        }
        matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : b == '\r' ? 1 : 0;
      }
      listener.close();
      OutputStream out = s.getOutputStream();
      out.write(("HTTP/1.1 307 Temporary Redirect\r\nLocation: " + target + "/moved\r\n"
          + "Content-Length: 0\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
    } catch (java.io.IOException e) {
      // The test's assertions say what went wrong.
    }
  }
}
