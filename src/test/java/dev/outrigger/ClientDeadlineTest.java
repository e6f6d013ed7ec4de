package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Deadlines over real sockets: every way a call can hang ends promptly and closes the socket. */
class ClientDeadlineTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final ApiClient client = ApiClient.builder()
      .retry(Retry.none())
      .deadline(Duration.ofMillis(300))
      .build();

  @AfterEach
  void tearDown() throws InterruptedException {
    ClientTestSupport.assertNoLeaks(client);
    client.close();
  }

  private static long millisSince(long start) {
    return (System.nanoTime() - start) / 1_000_000;
  }

  @Test
  void aServerThatStallsBeforeHeadersEndsInDeadlineExceededAndTheSocketIsClosed() throws Exception {
    try (StallServer stall = new StallServer("", true)) {
      long start = System.nanoTime();
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> client.get(stall.url("/slow")).execute(String.class));

      assertTrue(millisSince(start) < 5_000, "took " + millisSince(start) + " ms");
      assertEquals(1, e.attempts());
      assertTrue(e.getMessage().contains("deadline exceeded"), e.getMessage());
      assertTrue(stall.awaitClientClose(5), "the server must see the client disconnect");
    }
  }

  @Test
  void aServerThatStallsMidBodyEndsInDeadlineExceededAndTheSocketIsClosed() throws Exception {
    String head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n"
        + "only ten..";
    try (StallServer stall = new StallServer(head, true)) {
      assertThrows(DeadlineExceededException.class,
          () -> client.get(stall.url("/body")).execute(String.class));
      assertTrue(stall.awaitClientClose(5), "the server must see the client disconnect");
    }
  }

  @Test
  void aDeadlineThatCutsARetryNamesTheFailureBeforeItAsItsCause() throws Exception {
    try (ApiClient retrying = ApiClient.builder()
        .retry(Retry.exponential(Duration.ofMillis(10), Duration.ofMillis(10)).maxAttempts(3)
            .jitter(Jitter.NONE))
        // Room for a slow first attempt on a loaded machine: the retry must still fit.
        .deadline(Duration.ofSeconds(2))
        .build()) {
      server.enqueue(new MockResponse.Builder().code(503).build());
      server.enqueue(new MockResponse.Builder().body("late").headersDelay(5, TimeUnit.SECONDS)
          .build());

      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> retrying.get(server.url("/flaky").toString()).execute(String.class));

      assertEquals(2, e.attempts());
      // The contract: the cause is the last failure, the 503 that led to the retry; the
      // deadline's own cut of the second attempt is kept, suppressed, and the 503 only once.
      HttpStatusException cause = assertInstanceOf(HttpStatusException.class, e.getCause());
      assertEquals(503, cause.status());
      assertEquals(1, e.getSuppressed().length, List.of(e.getSuppressed()).toString());
      assertInstanceOf(IOException.class, e.getSuppressed()[0]);
      assertTrue(e.getMessage().endsWith("(2 attempts sent)"), e.getMessage());
      ClientTestSupport.assertNoLeaks(retrying);
    }
  }

  @Test
  void aFailureOfItsOwnThatComesAfterTheDeadlineIsTheCause() throws Exception {
    dev.outrigger.internal.FakeClock time = new dev.outrigger.internal.FakeClock();
    AtomicInteger attempts = new AtomicInteger();
    server.enqueue(new MockResponse.Builder().code(503).build());
    try (ApiClient c = ApiClient.builder()
        .clock(time)
        .deadline(Duration.ofSeconds(10))
        .retry(Retry.exponential(Duration.ofMillis(10), Duration.ofMillis(10)).maxAttempts(2)
            .jitter(Jitter.NONE))
        .addOkHttpInterceptor(chain -> {
          if (attempts.incrementAndGet() == 2) {
            // The second attempt's connection is refused, and by then the deadline has passed:
            // a failure of its own, not the deadline's cut of the exchange.
            time.advanceMillis(20_000);
            throw new java.net.ConnectException("Connection refused");
          }
          return chain.proceed(chain.request());
        })
        .build()) {
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> c.get(server.url("/x").toString()).execute(String.class));
      // The last failure, as the same refusal a moment earlier would have been.
      TransportException last = assertInstanceOf(TransportException.class, e.getCause());
      assertEquals(TransportException.Kind.CONNECT, last.kind());
      assertInstanceOf(java.net.ConnectException.class, last.getCause());
      HttpStatusException first = assertInstanceOf(HttpStatusException.class,
          e.getSuppressed()[0], List.of(e.getSuppressed()).toString());
      assertEquals(503, first.status());
    }
  }

  @Test
  void aServerThatNeverAcceptsEndsInDeadlineExceeded() throws Exception {
    try (StallServer stall = new StallServer("", false)) {
      long start = System.nanoTime();
      assertThrows(DeadlineExceededException.class,
          () -> client.get(stall.url("/never")).execute(String.class));
      assertTrue(millisSince(start) < 5_000, "took " + millisSince(start) + " ms");
    }
  }

  @Test
  void aBodyDrippedSlowerThanTheDeadlineIsCutOff() {
    server.enqueue(new MockResponse.Builder().body("x".repeat(1000))
        .throttleBody(1, 50, TimeUnit.MILLISECONDS).build());

    DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
        () -> client.get(server.url("/drip").toString()).execute(String.class));

    assertTrue(e.getMessage().contains("while attempt 1 read the response body"), e.getMessage());
    assertNull(e.getCause(), "the client's own cut of the read is no failure of the server's");
    assertInstanceOf(IOException.class, e.getSuppressed()[0]);
  }

  @Test
  @Timeout(60) // without a bound on the whole attempt this would hang, not fail
  void headersDrippedByteByByteAreCutOffAtTheDeadline() throws Exception {
    // Each header byte arrives well within OkHttp's read timeout (30 s), so only a bound on the
    // whole attempt can stop this; without one the call would hang for the 256 KiB header limit.
    try (ServerSocket drip = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      CountDownLatch hungUp = new CountDownLatch(1);
      Thread.ofVirtual().start(() -> {
        try (Socket s = drip.accept()) {
          StallServer.readHead(s.getInputStream());
          OutputStream out = s.getOutputStream();
          out.write("HTTP/1.1 200 OK\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
          while (true) {
            out.write('a');
            out.flush();
            Thread.sleep(20);
          }
        } catch (IOException | InterruptedException e) {
          hungUp.countDown();
        }
      });
      long start = System.nanoTime();
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> client.get("http://127.0.0.1:" + drip.getLocalPort() + "/drip")
              .execute(String.class));

      assertTrue(millisSince(start) < 5_000, "took " + millisSince(start) + " ms");
      assertEquals(1, e.attempts());
      assertTrue(hungUp.await(5, TimeUnit.SECONDS), "the client must hang up on the dripper");
    }
  }

  @Test
  void anAttemptTimeoutCutsAStalledAttemptAndTheRetryAnswers() throws Exception {
    server.enqueue(new MockResponse.Builder().body("late").headersDelay(3, TimeUnit.SECONDS)
        .build());
    server.enqueue(new MockResponse.Builder().body("on time").build());
    List<Throwable> attemptErrors = new CopyOnWriteArrayList<>();
    try (ApiClient c = ApiClient.builder()
        .retry(Retry.exponential(Duration.ofMillis(10), Duration.ofMillis(10)).maxAttempts(2))
        .deadline(Duration.ofSeconds(10))
        .attemptTimeout(Duration.ofMillis(300))
        .addListener(new CallListener() {
          @Override
          public void attemptEnd(CallContext call, int status, Throwable error, Duration took) {
            attemptErrors.add(error);
          }
        })
        .build()) {
      long start = System.nanoTime();
      ApiResponse<String> r = c.get(server.url("/x").toString()).send(String.class);

      assertEquals("on time", r.body());
      assertEquals(2, r.attempts());
      TransportException first = assertInstanceOf(TransportException.class, attemptErrors.get(0));
      assertEquals(TransportException.Kind.TIMEOUT, first.kind());
      assertTrue(first.getMessage().contains("timed out after 300 ms while it sent its request"
          + " or awaited the response"), first.getMessage());
      // The client's own cancel (a closed socket) says nothing of the server: not the cause.
      assertEquals(null, first.getCause());
      assertEquals(1, first.getSuppressed().length, List.of(first.getSuppressed()).toString());
      assertEquals(null, attemptErrors.get(1));
      assertTrue(millisSince(start) < 3_000, "the first attempt was not cut: "
          + millisSince(start) + " ms");
    }
  }

  @Test
  void attemptsThatEndedInTimeAreNeverCancelledLater() throws Exception {
    // Calls that end well inside their deadline; once every deadline has passed, none of them
    // may have been cancelled (OkHttp reports each cancel to the client's EventListener).
    HttpServer jdk = ClientTestSupport.jdkServer(exchange -> {
      byte[] ok = "ok".getBytes(StandardCharsets.US_ASCII);
      exchange.sendResponseHeaders(200, ok.length);
      exchange.getResponseBody().write(ok);
      exchange.close();
    });
    AtomicInteger cancels = new AtomicInteger();
    OkHttpClient counting = new OkHttpClient.Builder().eventListener(new EventListener() {
      @Override
      public void canceled(Call call) {
        cancels.incrementAndGet();
      }
    }).build();
    try (ApiClient quick = ApiClient.builder().okHttpClient(counting).retry(Retry.none())
        .build()) {
      String url = ClientTestSupport.url(jdk) + "/q";
      quick.get(url).execute(String.class); // connection set up, classes loaded
      for (int i = 0; i < 100; i++) {
        assertEquals("ok", quick.get(url).deadline(Duration.ofMillis(700)).execute(String.class));
      }
      // A later deadline cut (another client, so not counted) proves the watchdog went past
      // every deadline above.
      try (StallServer stall = new StallServer("", true)) {
        assertThrows(DeadlineExceededException.class, () -> client.get(stall.url("/later"))
            .deadline(Duration.ofMillis(800)).execute(String.class));
      }
      assertEquals(0, cancels.get(), "calls that had ended were cancelled");
    } finally {
      jdk.stop(0);
    }
  }

  @Test
  void aPerCallDeadlineTightensTheClientDefault() {
    server.enqueue(new MockResponse.Builder().body("late").headersDelay(1, TimeUnit.SECONDS)
        .build());
    try (ApiClient patient = client.newBuilder().deadline(Duration.ofSeconds(30)).build()) {
      long start = System.nanoTime();
      assertThrows(DeadlineExceededException.class, () -> patient.get(server.url("/x").toString())
          .deadline(Duration.ofMillis(100)).execute(String.class));
      assertTrue(millisSince(start) < 900, "took " + millisSince(start) + " ms");
    }
  }

  @Test
  void aDeadlineScopeBoundsEveryCallInsideItAndIsRestoredAfterwards() {
    server.enqueue(new MockResponse.Builder().body("late").headersDelay(2, TimeUnit.SECONDS)
        .build());
    try (ApiClient patient = client.newBuilder().deadline(Duration.ofSeconds(30)).build()) {
      assertThrows(DeadlineExceededException.class, () -> Deadline.within(Duration.ofMillis(100),
          () -> patient.get(server.url("/x").toString()).execute(String.class)));
      assertTrue(Deadline.current().isEmpty(), "the scope must not leak");
    }
  }

  @Test
  void anExpiredScopeFailsBeforeSendingAnything() {
    DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
        () -> Deadline.within(Duration.ZERO,
            () -> client.get(server.url("/x").toString()).execute(String.class)));
    assertEquals(0, e.attempts());
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void theMessageSaysWhichDeadlineRanOutAndWhatItGaveTheCall() throws Exception {
    for (int i = 0; i < 2; i++) {
      server.enqueue(new MockResponse.Builder().body("late").headersDelay(5, TimeUnit.SECONDS)
          .build());
    }
    try (ApiClient patient = client.newBuilder().deadline(Duration.ofSeconds(30)).build()) {
      // A scope far shorter than the client's 30 s: the message must not leave the caller
      // wondering why a 30 s client gave up so soon.
      DeadlineExceededException scoped = assertThrows(DeadlineExceededException.class,
          () -> Deadline.within(Duration.ofMillis(200),
              () -> patient.get(server.url("/scoped").toString()).execute(String.class)));
      assertTrue(scoped.getMessage().matches(
              ".*: deadline exceeded while attempt 1 sent its request or awaited the response, "
                  + "after \\d+ ms of the 1\\d\\d ms its Deadline scope left it"
                  + " \\(1 attempt sent\\)"),
          scoped.getMessage());
      ClientTestSupport.assertNoLeaks(patient);
    }

    DeadlineExceededException own = assertThrows(DeadlineExceededException.class,
        () -> client.get(server.url("/own").toString()).execute(String.class));
    assertTrue(own.getMessage().matches(
            ".*: deadline exceeded while attempt 1 sent its request or awaited the response, "
                + "after \\d+ ms of its 300 ms deadline \\(1 attempt sent\\)"),
        own.getMessage());

    // A scope that ran out before the call: nothing sent, and the message says why.
    Deadline spent = Deadline.after(Duration.ZERO);
    DeadlineExceededException expired = assertThrows(DeadlineExceededException.class,
        () -> Deadline.within(spent,
            () -> client.get(server.url("/x").toString()).execute(String.class)));
    assertTrue(expired.getMessage().endsWith(": deadline exceeded before the call started: its "
        + "Deadline scope had run out already (0 attempts sent)")
        || expired.getMessage().matches(".*: deadline exceeded before the call started: its "
            + "Deadline scope had run out \\d+ ms earlier \\(0 attempts sent\\)"),
        expired.getMessage());
  }

  @Test
  void propagatesTheRemainingBudgetAsAHeaderWhenAsked() throws Exception {
    server.enqueue(new MockResponse.Builder().body("a").build());
    server.enqueue(new MockResponse.Builder().body("b").build());
    try (ApiClient ms = client.newBuilder().deadline(Duration.ofSeconds(2))
            .propagateDeadline("X-Deadline-Ms").build();
        ApiClient grpc = client.newBuilder().deadline(Duration.ofSeconds(2))
            .propagateDeadline("grpc-timeout").build()) {
      ms.get(server.url("/a").toString()).execute(String.class);
      grpc.get(server.url("/b").toString()).execute(String.class);
    }
    RecordedRequest a = server.takeRequest();
    long ms = Long.parseLong(a.getHeaders().get("X-Deadline-Ms"));
    assertTrue(ms > 0 && ms <= 2000, "X-Deadline-Ms " + ms);
    String g = server.takeRequest().getHeaders().get("grpc-timeout");
    assertTrue(g.matches("\\d{1,8}[HMSmun]"), g);
    long grpcNanos = Deadline.fromHeader("grpc-timeout", g).orElseThrow().remainingNanos();
    assertTrue(grpcNanos > 0 && grpcNanos <= 2_000_000_000L, g);
  }

  @Test
  void aServerHandlerRunsUnderTheDeadlineItsCallerSentAsREADMEShows() throws Exception {
    server.enqueue(new MockResponse.Builder().body("down").build());
    server.enqueue(new MockResponse.Builder().body("down").build());
    try (ApiClient downstream = client.newBuilder().deadline(Duration.ofSeconds(30))
        .propagateDeadline("grpc-timeout").build()) {
      String downUrl = server.url("/down").toString();
      HttpServer middle = HttpServer.create(
          new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      middle.createContext("/", exchange -> {
        // README's sample, as written there: a void handler that may throw IOException.
        Deadline d = Deadline.fromHeader("grpc-timeout",
                exchange.getRequestHeaders().getFirst("grpc-timeout"))
            .orElse(Deadline.after(Duration.ofSeconds(30)));
        Deadline.within(d, () -> {
          handle(exchange, downstream, downUrl);
          return null;
        });
      });
      middle.start();
      try {
        String url = "http://127.0.0.1:" + middle.getAddress().getPort() + "/";
        OkHttpClient upstream = new OkHttpClient();
        try (okhttp3.Response r = upstream.newCall(new okhttp3.Request.Builder().url(url)
            .header("grpc-timeout", "1S").build()).execute()) {
          assertEquals("down", r.body().string());
        }
        try (okhttp3.Response r = upstream.newCall(new okhttp3.Request.Builder().url(url)
            .build()).execute()) {
          assertEquals("down", r.body().string());
        }
        upstream.connectionPool().evictAll();
      } finally {
        middle.stop(0);
      }
    }
    long inherited = Deadline.fromHeader("grpc-timeout",
        server.takeRequest().getHeaders().get("grpc-timeout")).orElseThrow().remainingNanos();
    assertTrue(inherited <= 1_000_000_000L, "the caller's 1 s, not the client's 30 s");
    long own = Deadline.fromHeader("grpc-timeout",
        server.takeRequest().getHeaders().get("grpc-timeout")).orElseThrow().remainingNanos();
    assertTrue(own > 1_000_000_000L, "no header: the handler's own 30 s");
  }

  private static void handle(com.sun.net.httpserver.HttpExchange exchange, ApiClient downstream,
      String url) throws IOException {
    byte[] body = downstream.get(url).execute(String.class).getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(200, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  @Test
  void noDeadlineHeaderIsSentByDefault() throws Exception {
    server.enqueue(new MockResponse.Builder().body("a").build());
    client.get(server.url("/a").toString()).execute(String.class);
    RecordedRequest r = server.takeRequest();
    assertEquals(null, r.getHeaders().get("grpc-timeout"));
    assertEquals(null, r.getHeaders().get("X-Deadline-Ms"));
  }

  @Test
  void interruptingTheCallingThreadCancelsTheCallAndKeepsTheInterruptStatus() throws Exception {
    try (StallServer stall = new StallServer("", true);
        ApiClient patient = client.newBuilder().deadline(Duration.ofSeconds(30)).build()) {
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      AtomicBoolean stillInterrupted = new AtomicBoolean();
      Thread t = Thread.ofVirtual().start(() -> {
        try {
          patient.get(stall.url("/x")).execute(String.class);
        } catch (Throwable e) {
          thrown.set(e);
          stillInterrupted.set(Thread.currentThread().isInterrupted());
        }
      });
      assertTrue(stall.awaitRequest(5));
      t.interrupt();
      t.join(5_000);

      TransportException e = assertInstanceOf(TransportException.class, thrown.get());
      assertEquals(TransportException.Kind.CANCELLED, e.kind());
      assertTrue(stillInterrupted.get(), "the interrupt status must be kept");
      assertTrue(stall.awaitClientClose(5), "the server must see the client disconnect");
    }
  }

  @Test
  void aScopeIsInheritedByNothingItDidNotStart() throws Exception {
    CompletableFuture<Boolean> seen = new CompletableFuture<>();
    Deadline.within(Duration.ofSeconds(5), () -> {
      Thread.ofPlatform().start(() -> seen.complete(Deadline.current().isPresent())).join();
      return null;
    });
    assertEquals(false, seen.get());
  }
}
