package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.time.Duration;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/** A server's answer that breaks HTTP would break the same way again: it is not retried. */
class ProtocolFailureTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private ApiClient client() {
    return ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(5))).build();
  }

  private void answerAll(MockResponse response) {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return response;
      }
    });
  }

  @Test
  void aRedirectLoopIsFollowedOnceNotOncePerAttempt() {
    answerAll(new MockResponse.Builder().code(302).setHeader("Location", "/v1/loop").build());
    try (ApiClient client = client()) {
      TransportException e = assertThrows(TransportException.class,
          () -> client.get("/loop").execute(String.class));
      assertEquals(TransportException.Kind.PROTOCOL, e.kind(), e.getMessage());
      assertEquals(1, e.attempts());
      // OkHttp follows 20 redirects, so the first request and 20 more.
      assertEquals(21, server.getRequestCount());
    }
  }

  @Test
  void aMalformedStatusLineIsNotRetried() {
    answerAll(new MockResponse.Builder().status("HTTP/1.1 abc Garbage").build());
    try (ApiClient client = client()) {
      TransportException e = assertThrows(TransportException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(TransportException.Kind.PROTOCOL, e.kind(), e.getMessage());
      assertEquals(1, server.getRequestCount());
    }
  }

  @Test
  void aBodyCutShortIsABrokenConnectionAndIsRetried() {
    server.enqueue(new MockResponse.Builder().body("x".repeat(1024))
        .onResponseBody(SocketEffect.ShutdownConnection.INSTANCE).build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    try (ApiClient client = client()) {
      assertEquals("ok", client.get("/x").execute(String.class));
      assertEquals(2, server.getRequestCount());
    }
  }
}
