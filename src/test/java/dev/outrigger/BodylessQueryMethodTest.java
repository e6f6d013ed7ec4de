package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A method OkHttp refuses without a body goes with an empty one, as a bare {@code post(...)}
 * does: OkHttp 5.5's {@code requiresRequestBody} names {@code QUERY} too, and without it in
 * Outrigger's list {@code request("QUERY", ...)} without a body threw OkHttp's own "method QUERY
 * must have a request body." QUERY is safe and idempotent (the HTTP working group's draft), so a
 * 503 to it is retried as a GET's would be.
 */
class BodylessQueryMethodTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aQueryWithoutABodyGoesWithAnEmptyOneAsAPostDoes() throws Exception {
    server.enqueue(new MockResponse.Builder().body("posted").build());
    server.enqueue(new MockResponse.Builder().body("queried").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString()).build()) {
      assertEquals("posted", client.post("/search").execute(String.class));
      // Before: IllegalArgumentException "method QUERY must have a request body."
      assertEquals("queried", client.request("QUERY", "/search").execute(String.class));
    }
    server.takeRequest();
    RecordedRequest query = server.takeRequest();
    assertEquals("QUERY", query.getMethod());
    assertEquals(0L, query.getBodySize());
  }

  @Test
  void aQueryIsIdempotentSoA503ToItIsRetried() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().body("found").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString()).build()) {
      assertEquals("found", client.request("QUERY", "/search")
          .body("q=1".getBytes(java.nio.charset.StandardCharsets.UTF_8), "text/plain")
          .execute(String.class));
    }
    assertEquals(2, server.getRequestCount(), "the 503 was retried");
    assertEquals("q=1", server.takeRequest().getBody().utf8());
    assertEquals("q=1", server.takeRequest().getBody().utf8(), "the body sent again");
  }
}
