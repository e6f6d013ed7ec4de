package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okio.BufferedSink;
import org.junit.jupiter.api.Test;

/**
 * A one-shot request body (one a call interceptor streams in, say) is sent again when the attempt
 * failed before its request was written, as OkHttp itself retries a refused connection of such a
 * body: the body was never read. Once it was handed to the connection, it is not sent again,
 * whatever became of it. It used to be refused every retry, even after a refused connection.
 */
class OneShotBodyRetryTest {
  private static final byte[] BLOB = "a streamed blob".getBytes(StandardCharsets.UTF_8);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  /** How many times OkHttp read the one-shot body. */
  private final AtomicInteger reads = new AtomicInteger();

  /** A body that can be read once, as one streamed from a file or a socket. */
  private RequestBody oneShot() {
    return new RequestBody() {
      @Override
      public MediaType contentType() {
        return MediaType.get("application/octet-stream");
      }

      @Override
      public long contentLength() {
        return BLOB.length;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        if (reads.incrementAndGet() > 1) {
          throw new IllegalStateException("a one-shot body read twice");
        }
        sink.write(BLOB);
      }

      @Override
      public boolean isOneShot() {
        return true;
      }
    };
  }

  /**
   * A client whose calls go with a one-shot body (put in by a call interceptor); its first
   * attempt goes to {@code firstPort} instead of the server's when that is not -1.
   */
  private ApiClient client(int firstPort) {
    return ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(5))
            .maxAttempts(3).jitter(Jitter.NONE))
        .addCallInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().put(oneShot()).build()))
        .addAttemptInterceptor(chain -> {
          Request request = chain.request();
          if (firstPort == -1 || chain.context().attempt() > 1) {
            return chain.proceed(request);
          }
          HttpUrl elsewhere = request.url().newBuilder().port(firstPort).build();
          return chain.proceed(request.newBuilder().url(elsewhere).build());
        })
        .build();
  }

  /** A loopback port nothing listens on: a connection to it is refused. */
  private static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void aOneShotBodyIsRetriedAfterARefusedConnection() throws Exception {
    server.enqueue(new MockResponse.Builder().body("stored").build());
    try (ApiClient client = client(closedPort())) {
      assertEquals("stored", client.put("/blob").body(BLOB, "application/octet-stream")
          .execute(String.class));
      ClientTestSupport.assertNoLeaks(client);
    }
    RecordedRequest got = server.takeRequest();
    assertEquals("PUT", got.getMethod());
    assertEquals("a streamed blob", got.getBody().utf8());
    assertEquals(1, server.getRequestCount());
    assertEquals(1, reads.get(), "the refused attempt never read the body");
  }

  @Test
  void aOneShotBodyTheServerReadIsNotSentAgainWhenTheExchangeFails() throws Exception {
    server.enqueue(new MockResponse.Builder()
        .onResponseStart(SocketEffect.ShutdownConnection.INSTANCE).build());
    server.enqueue(new MockResponse.Builder().body("never asked").build());
    try (ApiClient client = client(-1)) {
      TransportException e = assertThrows(TransportException.class,
          () -> client.put("/blob").body(BLOB, "application/octet-stream")
              .execute(String.class));
      assertTrue(e.getMessage().contains("one-shot"), e.getMessage());
      assertEquals(1, e.attempts());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals("a streamed blob", server.takeRequest().getBody().utf8());
    assertEquals(1, server.getRequestCount());
    assertEquals(1, reads.get());
  }

  @Test
  void aOneShotBodyWrittenToAServerThatClosedBeforeReadingIsNotSentAgain() throws Exception {
    // The connection was made, so OkHttp wrote the request, body and all, before it could learn
    // that nobody read it: the body is spent, and cannot go again.
    server.enqueue(new MockResponse.Builder()
        .onRequestStart(new SocketEffect.CloseSocket(true, false, false)).build());
    server.enqueue(new MockResponse.Builder().body("never asked").build());
    try (ApiClient client = client(-1)) {
      TransportException e = assertThrows(TransportException.class,
          () -> client.put("/blob").body(BLOB, "application/octet-stream")
              .execute(String.class));
      assertTrue(e.getMessage().contains("one-shot"), e.getMessage());
      assertEquals(1, e.attempts());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(1, reads.get(), "OkHttp wrote the body before the server's close showed");
  }
}
