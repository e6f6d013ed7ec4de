package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * An Auth that signs each attempt (a nonce or a timestamp in the value, as request-signing
 * schemes do) hands out a different value on every authorization(false). Since c7a6e61 the held
 * value never equals the refused one, so a 401 (the signing key rotated) is answered by signing
 * again with the same old key, never by authorization(true): the key is never refreshed, and
 * every call fails, where before the 401 fetched a new key and the call succeeded.
 */
class AuthPerAttemptSignatureTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private volatile int key = 0;
  private final AtomicInteger nonce = new AtomicInteger();
  private final AtomicInteger fetches = new AtomicInteger();

  private final Auth auth = refresh -> {
    if (refresh) {
      fetches.incrementAndGet();
      key++;
    }
    return "Sig key=k" + key + ",nonce=" + nonce.incrementAndGet();
  };

  @Test
  void a401ForASignedValueFetchesANewKey() throws Exception {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String authz = request.getHeaders().get("Authorization");
        return authz != null && authz.startsWith("Sig key=k1,")
            ? new MockResponse.Builder().code(200).body("ok").build()
            : new MockResponse.Builder().code(401).body("key rotated").build();
      }
    });
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(10)).retry(Retry.none()).auth(auth).build()) {
      String result;
      try {
        result = client.get("/a").execute(String.class);
      } catch (HttpStatusException e) {
        result = "status " + e.status();
      }
      assertEquals(1, fetches.get(), "a 401 never asked for a fresh key");
      assertEquals("ok", result);
    }
  }
}
