package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

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

    assertNotNull(e.getCause(), "the cause is the interrupted read");
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
