package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A builder from {@code newBuilder()} holds every setting of its parent, so each setting a
 * client of another service must not keep has a way back to its default there: here the
 * credentials and the deadline header, which such a client would otherwise send to its own base
 * URL's origin.
 */
class DerivedBuilderTurnsOffTest {
  @StartStop
  final MockWebServer server = new MockWebServer();

  @Test
  void aDerivedClientCanDropItsParentsAuthAndDeadlineHeader() throws Exception {
    server.enqueue(new MockResponse.Builder().body("parent").build());
    server.enqueue(new MockResponse.Builder().body("child").build());
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/v1").toString())
            .auth(refresh -> "Bearer parent-token").propagateDeadline("X-Deadline-Ms").build();
        ApiClient other = parent.newBuilder().baseUrl(server.url("/partner").toString())
            .auth(null).propagateDeadline(null).build()) {
      assertEquals("parent", parent.get("/a").execute(String.class));
      assertEquals("child", other.get("/b").execute(String.class));
      ClientTestSupport.assertNoLeaks(parent);
      ClientTestSupport.assertNoLeaks(other);
    }

    RecordedRequest fromParent = server.takeRequest();
    assertEquals("Bearer parent-token", fromParent.getHeaders().get("Authorization"));
    assertNotNull(fromParent.getHeaders().get("X-Deadline-Ms"));
    RecordedRequest fromOther = server.takeRequest();
    assertEquals("/partner/b", fromOther.getUrl().encodedPath());
    assertNull(fromOther.getHeaders().get("Authorization"));
    assertNull(fromOther.getHeaders().get("X-Deadline-Ms"));
  }
}
