package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/**
 * A client derived, and given its parent's {@code okHttpClient()}, once the parent released its
 * pool: it must not send on the released pool, where its close() would leave its connections
 * open for the keep-alive.
 */
class DerivedFromClosedParentTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void theParentsOwnClientGivenAfterThePoolWasReleasedLeavesNoConnectionOpenAtClose() {
    ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString()).build();
    parent.close();
    ApiClient child = parent.newBuilder().okHttpClient(parent.okHttpClient()).build();
    server.enqueue(new MockResponse.Builder().body("a").build());
    assertEquals("a", child.get("/").execute(String.class));
    assertNotSame(parent.okHttpClient().connectionPool(), child.okHttpClient().connectionPool(),
        "sent on the pool its parent released");
    child.close();
    assertEquals(0, child.okHttpClient().connectionPool().connectionCount(),
        "a connection left open after the last close()");
    assertTrue(child.okHttpClient().dispatcher().executorService().isShutdown());
  }

  @Test
  void aSuppliedClientOfTheParentIsStillSentWithAndNeverShutDown() {
    OkHttpClient mine = new OkHttpClient();
    try {
      ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString())
          .okHttpClient(mine).build();
      parent.close();
      ApiClient child = parent.newBuilder().okHttpClient(parent.okHttpClient()).build();
      server.enqueue(new MockResponse.Builder().body("a").build());
      assertEquals("a", child.get("/").execute(String.class));
      assertSame(mine.connectionPool(), child.okHttpClient().connectionPool());
      child.close();
      assertEquals(1, mine.connectionPool().connectionCount(), "the owner's pool is untouched");
    } finally {
      mine.connectionPool().evictAll();
    }
  }
}
