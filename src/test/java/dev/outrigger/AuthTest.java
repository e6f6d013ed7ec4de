package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/** What {@link Auth} sends, over a real socket. */
class AuthTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aBearerTokenNotYetThereSendsNoAuthorizationAndNoSecondRequest() throws Exception {
    // The supplier has no token (not signed in yet): "Bearer null" went to the server, and on
    // its 401 went again as the "fresh" value.
    AtomicReference<String> token = new AtomicReference<>();
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().body("ok").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .auth(Auth.bearer(token::get)).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/me").execute(String.class));
      assertEquals(401, e.status());
      assertEquals(1, e.attempts(), "no fresh token: the 401 is the answer");
      assertNull(server.takeRequest().getHeaders().get("Authorization"));
      token.set("t1");
      assertEquals("ok", client.get("/me").execute(String.class));
      assertEquals("Bearer t1", server.takeRequest().getHeaders().get("Authorization"));
    }
  }
}
