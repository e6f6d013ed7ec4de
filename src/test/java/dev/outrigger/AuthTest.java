package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/** What {@link Auth} sends, over a real socket. */
class AuthTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  /** Another origin: a pre-signed storage link, another company's API. */
  @StartStop
  private final MockWebServer elsewhere = new MockWebServer();

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

  @Test
  void credentialsGoOnlyToTheBaseUrlsOrigin() throws Exception {
    List<Boolean> asked = new CopyOnWriteArrayList<>();
    Auth auth = refresh -> {
      asked.add(refresh);
      return refresh ? "Bearer fresh" : "Bearer api-token";
    };
    server.enqueue(new MockResponse.Builder().body("mine").build());
    elsewhere.enqueue(new MockResponse.Builder().body("theirs").build());
    elsewhere.enqueue(new MockResponse.Builder().code(401).build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/api").toString())
        .auth(auth).build()) {
      assertEquals("mine", client.get("/me").execute(String.class));
      assertEquals("Bearer api-token", server.takeRequest().getHeaders().get("Authorization"));

      // An absolute URL on another origin, as a response may hand out: the API's token is not
      // this server's to see, and its 401 is not the API's to answer with a fresh token.
      assertEquals("theirs", client.get(elsewhere.url("/bucket/object?sig=x").toString())
          .execute(String.class));
      assertNull(elsewhere.takeRequest().getHeaders().get("Authorization"));
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get(elsewhere.url("/private").toString()).execute(String.class));
      assertEquals(401, e.status());
      assertEquals(1, e.attempts());
      assertNull(elsewhere.takeRequest().getHeaders().get("Authorization"));
    }
    assertEquals(List.of(false), asked, "the Auth was asked only for the base URL's origin");

    // With no base URL, the client's every call is the user's chosen target: all carry it.
    elsewhere.enqueue(new MockResponse.Builder().body("any").build());
    try (ApiClient client = ApiClient.builder().auth(auth).build()) {
      assertEquals("any", client.get(elsewhere.url("/x").toString()).execute(String.class));
      assertEquals("Bearer api-token", elsewhere.takeRequest().getHeaders().get("Authorization"));
    }
  }
}
