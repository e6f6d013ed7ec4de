package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * README (Writes are never sent twice by surprise; Security): an unkeyed POST goes again after a
 * 401 answered with fresh credentials because "a 401 says the server refused the request without
 * acting on it". But when the POST was answered with a 303 See Other (the server acted on it, the
 * classic POST-redirect-GET) and only the GET OkHttp made of it met the 401, the call is not sent
 * again: the 401 is returned. (Sent again, the POST reached the server twice, and a second order
 * was created.)
 */
class AuthRefreshAfterSeeOtherTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final List<Boolean> asked = new CopyOnWriteArrayList<>();

  @Test
  void aPostTheServerActedOnIsNotSentAgainWhenOnlyItsRedirectsGetMetA401() throws Exception {
    // The POST creates order 42 and sees the caller to it; the token expires before the GET.
    server.enqueue(new MockResponse.Builder().code(303)
        .addHeader("Location", "/v1/orders/42").build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    // What a second POST would get: a second order.
    server.enqueue(new MockResponse.Builder().code(303)
        .addHeader("Location", "/v1/orders/43").build());
    server.enqueue(new MockResponse.Builder().body("{\"id\":43}").build());
    Throwable failure = null;
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .auth(refresh -> {
          asked.add(refresh);
          return refresh ? "Bearer fresh" : "Bearer expired";
        })
        .build()) {
      client.post("/orders").json(Map.of("item", "book")).execute(String.class);
    } catch (ApiException e) {
      failure = e;
    }
    List<String> lines = new ArrayList<>();
    for (int i = server.getRequestCount(); i > 0; i--) {
      RecordedRequest r = server.takeRequest();
      lines.add(r.getMethod() + " " + r.getUrl().encodedPath());
    }
    // Before: [POST /v1/orders, GET /v1/orders/42, POST /v1/orders, GET /v1/orders/43], and the
    // call returned order 43.
    assertEquals(List.of("POST /v1/orders", "GET /v1/orders/42"), lines,
        "the POST the server answered with a 303 went again after the GET's 401");
    HttpStatusException e = assertInstanceOf(HttpStatusException.class, failure);
    assertEquals(401, e.status());
    assertEquals(1, e.attempts());
    assertEquals(List.of(false), asked, "no fresh value asked for a write that cannot go again");
  }

  @Test
  void aPostKeptByA307WhoseTargetMeetsA401IsRefreshed() throws Exception {
    // A 307 keeps the POST: the server did not act on it, and the 401 refused the POST itself.
    server.enqueue(new MockResponse.Builder().code(307)
        .addHeader("Location", "/v1/orders-v2").build());
    server.enqueue(new MockResponse.Builder().code(401).build());
    server.enqueue(new MockResponse.Builder().code(307)
        .addHeader("Location", "/v1/orders-v2").build());
    server.enqueue(new MockResponse.Builder().body("{\"id\":42}").build());
    String body;
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .auth(refresh -> {
          asked.add(refresh);
          return refresh ? "Bearer fresh" : "Bearer expired";
        })
        .build()) {
      body = client.post("/orders").json(Map.of("item", "book")).execute(String.class);
    }
    assertEquals("{\"id\":42}", body);
    List<String> lines = new ArrayList<>();
    for (int i = server.getRequestCount(); i > 0; i--) {
      RecordedRequest r = server.takeRequest();
      lines.add(r.getMethod() + " " + r.getUrl().encodedPath() + " "
          + r.getHeaders().get("Authorization"));
    }
    assertEquals(List.of("POST /v1/orders Bearer expired", "POST /v1/orders-v2 Bearer expired",
        "POST /v1/orders Bearer fresh", "POST /v1/orders-v2 Bearer fresh"), lines);
    assertEquals(List.of(false, true), asked);
  }
}
