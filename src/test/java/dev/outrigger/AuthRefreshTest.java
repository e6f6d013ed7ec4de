package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.MediaType;
import okhttp3.RequestBody;
import okio.BufferedSink;
import org.junit.jupiter.api.Test;

/**
 * When the refresh on a 401 does not send the call again: the 401 is not an answer to this
 * client's credentials, the request cannot go again, or there is nothing fresh to send.
 */
class AuthRefreshTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  /** Another origin a redirect leads to. */
  @StartStop
  private final MockWebServer other = new MockWebServer();

  /** The refresh flags the Auth was asked with. */
  private final List<Boolean> asked = new CopyOnWriteArrayList<>();

  private ApiClient client(Auth auth) {
    return ApiClient.builder().baseUrl(server.url("/").toString())
        .auth(refresh -> {
          asked.add(refresh);
          return auth.authorization(refresh);
        })
        .build();
  }

  @Test
  void a401FromAnotherOriginARedirectLedToIsReturnedWithoutARefresh() throws Exception {
    // The credentials never went there (dropped on the redirect): its 401 says nothing of them.
    // Before, the Auth was asked for a fresh token and the whole call went again, to the same
    // 401.
    String target = other.url("/landing").newBuilder().host("127.0.0.1").build().toString();
    server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", target).build());
    other.enqueue(new MockResponse.Builder().code(401).build());
    // The same again, for the call sent again before.
    server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", target).build());
    other.enqueue(new MockResponse.Builder().code(401).build());
    try (ApiClient client = client(refresh -> refresh ? "Bearer fresh" : "Bearer api-token")) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/start").execute(String.class));
      assertEquals(401, e.status());
      assertEquals(1, e.attempts());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(List.of(false), asked, "asked once, for the attempt; never for a fresh value");
    assertEquals(1, server.getRequestCount());
    assertEquals(1, other.getRequestCount());
    assertNull(other.takeRequest().getHeaders().get("Authorization"));
  }

  @Test
  void a401AfterARedirectWithinTheOriginIsStillRefreshed() throws Exception {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", server.url("/moved").toString()).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    try (ApiClient client = client(refresh -> refresh ? "Bearer fresh" : "Bearer stale")) {
      ApiResponse<String> r = client.get("/start").send(String.class);
      assertEquals("ok", r.body());
      assertEquals(2, r.attempts());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(List.of(false, true), asked);
    server.takeRequest();
    assertEquals("Bearer stale", server.takeRequest().getHeaders().get("Authorization"));
    assertEquals("Bearer fresh", server.takeRequest().getHeaders().get("Authorization"));
  }

  @Test
  void aOneShotBodyIsNotSentAgainAfterA401() throws Exception {
    // README: a one-shot body is never sent twice, whatever the failure. The refresh sent it
    // again: a body streamed from a socket or a file would go empty, or fail half way.
    byte[] blob = "a streamed blob".getBytes(StandardCharsets.UTF_8);
    AtomicInteger reads = new AtomicInteger();
    RequestBody oneShot = new RequestBody() {
      @Override
      public MediaType contentType() {
        return MediaType.get("application/octet-stream");
      }

      @Override
      public long contentLength() {
        return blob.length;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        if (reads.incrementAndGet() > 1) {
          throw new IllegalStateException("a one-shot body read twice");
        }
        sink.write(blob);
      }

      @Override
      public boolean isOneShot() {
        return true;
      }
    };
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .addCallInterceptor(chain ->
            chain.proceed(chain.request().newBuilder().put(oneShot).build()))
        .auth(refresh -> {
          asked.add(refresh);
          return refresh ? "Bearer fresh" : "Bearer stale";
        })
        .build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.put("/upload").execute(String.class));
      assertEquals(401, e.status());
      assertEquals(1, e.attempts());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(1, reads.get());
    assertEquals(1, server.getRequestCount());
    assertEquals(List.of(false), asked, "no fresh value asked for a request that cannot go");
    RecordedRequest sent = server.takeRequest();
    assertEquals("a streamed blob", sent.getBody().utf8());
  }

  @Test
  void aFreshValueEqualToTheOneRefusedIsNotSent() throws Exception {
    // Auth.bearer over a cached token: the refresh gives the same token, which the server just
    // refused. OkHttp's Authenticator recipe gives up there; sending it again cost a second
    // request, a permit and an attempt, for the same 401.
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    try (ApiClient client = client(Auth.bearer(() -> "cached-token"))) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/me").execute(String.class));
      assertEquals(401, e.status());
      assertEquals(1, e.attempts());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(List.of(false, true), asked, "asked for a fresh value, which was not fresh");
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aFreshValueEqualToTheOneRefusedBackHomeAfterARedirectIsNotSent() throws Exception {
    // Back on the call's origin after a redirect away, the request OkHttp built has no
    // Authorization (it dropped it on the way out); the one written, and refused, had it again.
    String away = other.url("/away").newBuilder().host("127.0.0.1").build().toString();
    server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", away).build());
    other.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", server.url("/back").toString()).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    // The same again, for the call sent again before.
    server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", away).build());
    other.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", server.url("/back").toString()).build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    try (ApiClient client = client(Auth.bearer(() -> "cached-token"))) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/start").execute(String.class));
      assertEquals(401, e.status());
      assertEquals(1, e.attempts());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(List.of(false, true), asked);
    assertEquals(2, server.getRequestCount());
    server.takeRequest();
    assertEquals("Bearer cached-token", server.takeRequest().getHeaders().get("Authorization"),
        "the refused request carried the value");
  }
}
