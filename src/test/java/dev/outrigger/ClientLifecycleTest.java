package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.stream.Collectors;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

class ClientLifecycleTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private static Set<Thread> liveThreads() {
    return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
        .collect(Collectors.toSet());
  }

  @Test
  void closeReleasesThePoolAndLeavesNoThreadOfItsOwn() throws Exception {
    Set<Thread> before = liveThreads();
    ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString()).build();
    for (int i = 0; i < 5; i++) {
      server.enqueue(new MockResponse.Builder().body("x").build());
      client.get("/").execute(String.class);
    }
    assertEquals(1, client.okHttpClient().connectionPool().connectionCount());
    client.close();

    assertEquals(0, client.okHttpClient().connectionPool().connectionCount());
    assertTrue(client.okHttpClient().dispatcher().executorService().isShutdown());
    Set<Thread> started = liveThreads();
    started.removeAll(before);
    // OkHttp's shared TaskRunner threads and Okio's timeout watchdog belong to OkHttp/Okio (one
    // per JVM, shared by every OkHttp user), not to the client, and idle out on their own.
    started.removeIf(t -> t.getName().startsWith("OkHttp TaskRunner")
        || t.getName().equals("Okio Watchdog")
        || t.getName().startsWith("MockWebServer"));
    assertTrue(started.isEmpty(), "threads left behind: " + started);
  }

  @Test
  void aDerivedClientSharesThePoolAndKeepsItAliveUntilItCloses() {
    ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString()).build();
    ApiClient child = parent.newBuilder().deadline(java.time.Duration.ofSeconds(1)).build();
    assertSame(parent.okHttpClient().connectionPool(), child.okHttpClient().connectionPool());

    server.enqueue(new MockResponse.Builder().body("a").build());
    server.enqueue(new MockResponse.Builder().body("b").build());
    parent.get("/").execute(String.class);
    parent.close();
    child.get("/").execute(String.class);
    assertEquals(0, takeSecond().getConnectionIndex());
    child.close();
    assertEquals(0, child.okHttpClient().connectionPool().connectionCount());
  }

  private mockwebserver3.RecordedRequest takeSecond() {
    try {
      server.takeRequest();
      return server.takeRequest();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aSuppliedOkHttpClientIsSharedButNeverShutDown() {
    OkHttpClient mine = new OkHttpClient();
    server.enqueue(new MockResponse.Builder().body("a").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .okHttpClient(mine).build()) {
      assertSame(mine.connectionPool(), client.okHttpClient().connectionPool());
      client.get("/").execute(String.class);
    }
    assertEquals(1, mine.connectionPool().connectionCount(), "the owner's pool is untouched");
    assertTrue(mine.retryOnConnectionFailure(), "the owner's client is not modified");
    mine.connectionPool().evictAll();
  }
}
