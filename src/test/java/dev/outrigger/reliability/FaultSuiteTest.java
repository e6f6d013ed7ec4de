package dev.outrigger.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.DeserializationException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import okio.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every fault production throws at a client, over real sockets, each with a precise
 * expectation: which exception, how many requests the server saw, how long it took at most.
 */
@SuppressWarnings("try") // close() inside a try block on purpose: what it does is tested
class FaultSuiteTest {
  /** Generous on 2 noisy cores: these bound "promptly", not a latency. */
  private static final long PROMPT_MS = 3_000;

  @StartStop
  private final MockWebServer mock = new MockWebServer();

  private final ApiClient client = ApiClient.builder()
      .deadline(Duration.ofSeconds(2))
      .retry(Retry.exponential(Duration.ofMillis(10), Duration.ofMillis(50)).maxAttempts(3))
      .build();

  @AfterEach
  void tearDown() {
    client.close();
  }

  private static long ms(long start) {
    return (System.nanoTime() - start) / 1_000_000;
  }

  private static MockResponse ok(String body) {
    return new MockResponse.Builder().body(body).build();
  }

  @Test
  void connectionRefusedIsRetriedThenReportedAsConnectFailure() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    long start = System.nanoTime();
    TransportException e = assertThrows(TransportException.class,
        () -> client.get("http://127.0.0.1:" + port + "/").execute(String.class));
    assertEquals(TransportException.Kind.CONNECT, e.kind());
    assertEquals(3, e.attempts(), "a refused connection left the server untouched: retried");
    assertEquals(2, e.getSuppressed().length);
    assertTrue(e.getMessage().contains("after 3 attempts"), e.getMessage());
    assertTrue(ms(start) < PROMPT_MS);
  }

  @Test
  void aResetBeforeTheResponseIsRetriedForGetAndNotForAnUnkeyedPost() throws Exception {
    AtomicInteger gets = new AtomicInteger();
    AtomicInteger posts = new AtomicInteger();
    try (FaultServer server = new FaultServer(req -> {
      (req.method().equals("GET") ? gets : posts).incrementAndGet();
      return new FaultServer.Reset();
    })) {
      TransportException get = assertThrows(TransportException.class,
          () -> client.get(server.url("/g")).execute(String.class));
      TransportException post = assertThrows(TransportException.class,
          () -> client.post(server.url("/p")).json(Map.of("a", 1)).execute(String.class));
      assertEquals(TransportException.Kind.IO, get.kind());
      assertEquals(3, gets.get());
      assertEquals(1, posts.get(), "an unkeyed POST the server read is never re-sent");
      assertEquals(1, post.attempts());
    }
  }

  @Test
  void aResetMidBodyIsARetryableFailureOfTheAttempt() throws Exception {
    AtomicInteger n = new AtomicInteger();
    try (FaultServer server = new FaultServer(req -> n.incrementAndGet() == 1
        ? new FaultServer.Truncate(1000, 10) : new FaultServer.Reply(200, "\"whole\""))) {
      assertEquals("\"whole\"", client.get(server.url("/x")).execute(String.class));
      assertEquals(2, n.get());
    }
  }

  @Test
  void aContentLengthLargerThanTheBodyFailsEveryAttemptWithIo() throws Exception {
    try (FaultServer server = new FaultServer(req -> new FaultServer.Truncate(100, 99))) {
      TransportException e = assertThrows(TransportException.class,
          () -> client.get(server.url("/x")).execute(String.class));
      assertEquals(TransportException.Kind.IO, e.kind());
      assertEquals(3, server.requests.get());
    }
  }

  @Test
  void aTruncatedChunkedBodyIsAnIoFailure() {
    for (int i = 0; i < 3; i++) {
      mock.enqueue(new MockResponse.Builder().chunkedBody("abcdefghij".repeat(100), 64)
          .onResponseBody(SocketEffect.ShutdownConnection.INSTANCE).build());
    }
    TransportException e = assertThrows(TransportException.class,
        () -> client.get(mock.url("/chunked").toString()).execute(String.class));
    assertEquals(TransportException.Kind.IO, e.kind());
    assertEquals(3, mock.getRequestCount());
  }

  @Test
  void headersThenAStalledBodyEndAtTheDeadline() {
    for (int i = 0; i < 3; i++) {
      mock.enqueue(new MockResponse.Builder().body("x".repeat(100))
          .onResponseBody(SocketEffect.Stall.INSTANCE).build());
    }
    long start = System.nanoTime();
    try (ApiClient c = client.newBuilder().deadline(Duration.ofMillis(400)).build()) {
      assertThrows(DeadlineExceededException.class,
          () -> c.get(mock.url("/stall").toString()).execute(String.class));
    }
    assertTrue(ms(start) < PROMPT_MS, "took " + ms(start));
    assertEquals(1, mock.getRequestCount(), "the deadline, not a retry, ended it");
  }

  @Test
  void aBodyDrippedOneByteAtATimeStillArrivesWithinTheDeadline() {
    mock.enqueue(new MockResponse.Builder().body("0123456789")
        .throttleBody(1, 10, java.util.concurrent.TimeUnit.MILLISECONDS).build());
    assertEquals("0123456789", client.get(mock.url("/drip").toString()).execute(String.class));
  }

  @Test
  void aServerThatAcceptsAndNeverReadsEndsAtTheDeadline() throws Exception {
    List<Socket> held = new CopyOnWriteArrayList<>();
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread acceptor = Thread.ofVirtual().start(() -> {
        try {
          while (true) {
            Socket s = server.accept();
            s.setReceiveBufferSize(1024);
            held.add(s);
          }
        } catch (IOException e) {
          // closed
        }
      });
      long start = System.nanoTime();
      try (ApiClient c = client.newBuilder().deadline(Duration.ofMillis(500)).build()) {
        byte[] big = new byte[16 * 1024 * 1024];
        assertThrows(DeadlineExceededException.class, () -> c.post(
            "http://127.0.0.1:" + server.getLocalPort() + "/upload")
            .body(big, "application/octet-stream").execute(String.class));
      }
      assertTrue(ms(start) < PROMPT_MS, "took " + ms(start));
      server.close();
      acceptor.join();
    } finally {
      for (Socket s : held) {
        s.close();
      }
    }
  }

  @Test
  void aStormOf503sIsRetriedThenReportedWithEveryAttemptCounted() {
    for (int i = 0; i < 3; i++) {
      mock.enqueue(new MockResponse.Builder().code(503).body("busy " + i).build());
    }
    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client.get(mock.url("/busy").toString()).execute(String.class));
    assertEquals(503, e.status());
    assertEquals(3, e.attempts());
    assertEquals(3, mock.getRequestCount());
    assertTrue(e.getMessage().contains("busy 2"), "the last failure is thrown: " + e.getMessage());
    assertEquals(2, e.getSuppressed().length);
  }

  @Test
  void retryAfterZeroRetriesAtOnce() {
    mock.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "0").build());
    mock.enqueue(ok("fine"));
    long start = System.nanoTime();
    assertEquals("fine", client.get(mock.url("/r").toString()).execute(String.class));
    assertEquals(2, mock.getRequestCount());
    assertTrue(ms(start) < PROMPT_MS);
  }

  @Test
  void retryAfterOfAYearFailsAtOnceSayingWhy() {
    mock.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "31536000").build());
    long start = System.nanoTime();
    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client.get(mock.url("/year").toString()).execute(String.class));
    assertEquals(429, e.status());
    assertEquals(1, mock.getRequestCount());
    assertTrue(e.getMessage().contains("Retry-After"), e.getMessage());
    assertTrue(ms(start) < PROMPT_MS, "must not sleep into a certain failure");
  }

  @Test
  void garbageRetryAfterFallsBackToTheBackoff() {
    mock.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "soon-ish")
        .build());
    mock.enqueue(ok("recovered"));
    assertEquals("recovered", client.get(mock.url("/g").toString()).execute(String.class));
    assertEquals(2, mock.getRequestCount());
  }

  @Test
  void retryAfterAsAnHttpDateInThePastRetriesAtOnce() {
    mock.enqueue(new MockResponse.Builder().code(503)
        .addHeader("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT").build());
    mock.enqueue(ok("now"));
    long start = System.nanoTime();
    assertEquals("now", client.get(mock.url("/d").toString()).execute(String.class));
    assertTrue(ms(start) < PROMPT_MS);
  }

  @Test
  void anUnknownHostIsAConnectFailure() {
    TransportException e = assertThrows(TransportException.class,
        () -> client.get("http://no-such-host.invalid/").execute(String.class));
    assertEquals(TransportException.Kind.CONNECT, e.kind());
    assertInstanceOf(java.net.UnknownHostException.class, e.getCause());
  }

  @Test
  void jsonOfTheWrongShapeIsADeserializationExceptionNeverRetried() {
    record Post(int id, String title) {}
    mock.enqueue(ok("[1,2,3]"));
    DeserializationException e = assertThrows(DeserializationException.class,
        () -> client.get(mock.url("/p").toString()).execute(Post.class));
    assertEquals(1, mock.getRequestCount());
    assertEquals(1, e.attempts());
  }

  @Test
  void aHugeJsonBodyIsRefusedBeforeItIsReadWhole() {
    try (ApiClient small = client.newBuilder().maxResponseBytes(64 * 1024).build()) {
      Buffer huge = new Buffer().writeUtf8("[" + "1,".repeat(200_000) + "1]");
      mock.enqueue(new MockResponse.Builder().body(huge).build());
      DeserializationException e = assertThrows(DeserializationException.class,
          () -> small.get(mock.url("/huge").toString()).execute(int[].class));
      assertTrue(e.getMessage().contains("maxResponseBytes"), e.getMessage());
      assertEquals(1, mock.getRequestCount());
    }
  }
}
