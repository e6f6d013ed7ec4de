package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Set;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

class ClientLifecycleTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void closeReleasesThePoolAndLeavesNoThreadOfItsOwn() throws Exception {
    Set<Thread> before = LeftThreads.live();
    ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString()).build();
    for (int i = 0; i < 5; i++) {
      server.enqueue(new MockResponse.Builder().body("x").build());
      client.get("/").execute(String.class);
    }
    assertEquals(1, client.okHttpClient().connectionPool().connectionCount());
    client.close();

    assertEquals(0, client.okHttpClient().connectionPool().connectionCount());
    assertTrue(client.okHttpClient().dispatcher().executorService().isShutdown());
    // MockWebServer's threads are the test's.
    Set<Thread> started = LeftThreads.since(before,
        t -> t.getName().startsWith("MockWebServer"), Duration.ofSeconds(5));
    assertTrue(started.isEmpty(), "threads left behind: " + started);
  }

  @Test
  void closeDuringACallLetsTheSentAttemptFinishSendsNoRetryAndClosesItsConnection()
      throws Exception {
    java.util.concurrent.CountDownLatch received = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger requests =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean answered =
        new java.util.concurrent.atomic.AtomicBoolean();
    com.sun.net.httpserver.HttpServer http = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    http.createContext("/", ex -> {
      requests.incrementAndGet();
      received.countDown();
      try {
        // Answer the first attempt only once the client has been closed.
        closed.await(10, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      byte[] b = "busy".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      answered.set(true);
      ex.sendResponseHeaders(503, b.length);
      ex.getResponseBody().write(b);
      ex.close();
    });
    http.start();
    try {
      ApiClient client = ApiClient.builder()
          .baseUrl("http://127.0.0.1:" + http.getAddress().getPort())
          .circuitBreaker(CircuitBreaker.none())
          .retry(Retry.exponential(java.time.Duration.ofMillis(1), java.time.Duration.ofMillis(1))
              .maxAttempts(3))
          .build();
      java.util.concurrent.CompletableFuture<Throwable> outcome =
          new java.util.concurrent.CompletableFuture<>();
      Thread.ofVirtual().start(() -> {
        try {
          client.get("/").execute(String.class);
          outcome.complete(null);
        } catch (Throwable e) {
          outcome.complete(e);
        }
      });
      assertTrue(received.await(10, java.util.concurrent.TimeUnit.SECONDS));
      client.close();
      // close() does not wait for the attempt in flight: the server holds its answer until
      // close() has returned, so a close() that waited would have returned only once the
      // server gave up holding (10 s) and answered.
      assertFalse(answered.get(), "close() waited for the attempt in flight");
      closed.countDown();

      Throwable e = outcome.get(10, java.util.concurrent.TimeUnit.SECONDS);
      TransportException t = org.junit.jupiter.api.Assertions.assertInstanceOf(
          TransportException.class, e);
      assertEquals(TransportException.Kind.CANCELLED, t.kind());
      // The 503 came after close(): its backoff is cut short before it starts.
      assertTrue(t.getMessage().contains(
          "the ApiClient was closed while the call waited for the backoff before attempt 2"),
          t.getMessage());
      assertEquals(1, t.attempts());
      HttpStatusException first = org.junit.jupiter.api.Assertions.assertInstanceOf(
          HttpStatusException.class, t.getSuppressed()[0]);
      assertEquals(503, first.status());
      assertEquals(1, requests.get(), "no retry after close()");
      assertEquals(0, client.okHttpClient().connectionPool().connectionCount(),
          "the connection of the attempt in flight at close() is closed when it ends");
    } finally {
      http.stop(0);
    }
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

  @Test
  void aDerivedClientGivenAnotherOkHttpClientSendsWithIt() {
    OkHttpClient mine = new OkHttpClient();
    server.enqueue(new MockResponse.Builder().body("a").build());
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString()).build()) {
      try (ApiClient child = parent.newBuilder().okHttpClient(mine).build()) {
        assertSame(mine.connectionPool(), child.okHttpClient().connectionPool());
        child.get("/").execute(String.class);
      }
      assertEquals(1, mine.connectionPool().connectionCount(), "sent on the given client");
      assertEquals(0, parent.okHttpClient().connectionPool().connectionCount());
      assertFalse(parent.okHttpClient().dispatcher().executorService().isShutdown());
      // The parent's own supplied client, given again, still means the parent's transport.
      try (ApiClient same = ApiClient.builder().okHttpClient(mine).build();
          ApiClient derived = same.newBuilder().okHttpClient(mine).build()) {
        assertSame(mine.connectionPool(), derived.okHttpClient().connectionPool());
      }
    } finally {
      mine.connectionPool().evictAll();
    }
  }

  @Test
  void aDerivedClientGivenItsParentsOkHttpClientSharesItAndRunsEachInterceptorOnce()
      throws Exception {
    java.util.concurrent.atomic.AtomicInteger ran = new java.util.concurrent.atomic.AtomicInteger();
    okhttp3.Interceptor counting = chain -> {
      ran.incrementAndGet();
      return chain.proceed(chain.request());
    };
    server.enqueue(new MockResponse.Builder().body("a").build());
    server.enqueue(new MockResponse.Builder().body("b").build());
    ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString())
        .addOkHttpInterceptor(counting).build();
    // What okHttpClient()'s javadoc offers for sharing: the parent's transport, held by the
    // child too, so closing the parent first leaves its dispatcher running for the child.
    ApiClient child = parent.newBuilder().okHttpClient(parent.okHttpClient()).build();
    assertSame(parent.okHttpClient().connectionPool(), child.okHttpClient().connectionPool());
    parent.close();
    assertFalse(child.okHttpClient().dispatcher().executorService().isShutdown(),
        "the parent's close() released a transport its child holds");
    assertEquals("a", child.get("/").execute(String.class));
    assertEquals(1, ran.get(), "the parent's interceptor, run once");
    // A client made from the child's sends with that one, and the interceptor it already holds
    // is not added twice.
    OkHttpClient built = child.okHttpClient().newBuilder().build();
    try (ApiClient other = child.newBuilder().okHttpClient(built).build()) {
      assertEquals("b", other.get("/").execute(String.class));
    }
    assertEquals(2, ran.get(), "once more, not twice");
    child.close();
    assertTrue(child.okHttpClient().dispatcher().executorService().isShutdown(),
        "the last client's close() stops the dispatcher");

    // An interceptor added twice on purpose (to see a request before and after another) runs
    // twice: only one the client starts from holds already is left out.
    server.enqueue(new MockResponse.Builder().body("c").build());
    try (ApiClient twice = ApiClient.builder().baseUrl(server.url("/").toString())
        .addOkHttpInterceptor(counting).addOkHttpInterceptor(counting).build()) {
      assertEquals("c", twice.get("/").execute(String.class));
    }
    assertEquals(4, ran.get());
  }

  @Test
  void anAttemptConnectingWhenTheClientClosesWritesNothing() {
    // close() comes while the attempt's TCP connect is under way (here, from the connect's own
    // event): the attempt connected, but no attempt starts after close(), and it sends nothing.
    java.util.concurrent.atomic.AtomicReference<ApiClient> client =
        new java.util.concurrent.atomic.AtomicReference<>();
    OkHttpClient closingOnConnect = new OkHttpClient.Builder()
        .eventListener(new okhttp3.EventListener() {
          @Override
          public void connectStart(okhttp3.Call call, java.net.InetSocketAddress address,
              java.net.Proxy proxy) {
            client.get().close();
          }
        }).build();
    server.enqueue(new MockResponse.Builder().body("never").build());
    try (ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString())
        .okHttpClient(closingOnConnect).build()) {
      client.set(c);
      TransportException e = org.junit.jupiter.api.Assertions.assertThrows(
          TransportException.class, () -> c.get("/x").execute(String.class));
      assertEquals(TransportException.Kind.CANCELLED, e.kind());
      assertTrue(e.getMessage().endsWith(": attempt 1 not sent: the ApiClient was closed"),
          e.getMessage());
      // A raw call on the closed client's OkHttp client writes nothing either.
      java.io.IOException raw = org.junit.jupiter.api.Assertions.assertThrows(
          java.io.IOException.class, () -> c.okHttpClient().newCall(
              new okhttp3.Request.Builder().url(server.url("/raw")).build()).execute());
      assertTrue(raw.getMessage().contains("closed before the request was written"),
          raw.getMessage());
    } finally {
      closingOnConnect.connectionPool().evictAll();
    }
    assertEquals(0, server.getRequestCount(), "a request written after close()");
  }

  @Test
  void aSuppliedOkHttpClientKeepsItsTimeoutsUnlessOutriggersAreSet() {
    OkHttpClient mine = new OkHttpClient.Builder()
        .connectTimeout(java.time.Duration.ofSeconds(3))
        .readTimeout(java.time.Duration.ofSeconds(7))
        .callTimeout(java.time.Duration.ofMillis(300))
        .build();
    try (ApiClient kept = ApiClient.builder().okHttpClient(mine).build();
        ApiClient set = ApiClient.builder().okHttpClient(mine)
            .readTimeout(java.time.Duration.ofSeconds(11)).build();
        ApiClient made = ApiClient.builder().build()) {
      assertEquals(3_000, kept.okHttpClient().connectTimeoutMillis());
      assertEquals(7_000, kept.okHttpClient().readTimeoutMillis());
      assertEquals(300, kept.okHttpClient().callTimeoutMillis());
      assertEquals(11_000, set.okHttpClient().readTimeoutMillis(), "set here: Outrigger's");
      assertEquals(3_000, set.okHttpClient().connectTimeoutMillis(), "not set: the owner's");
      assertEquals(2_000, made.okHttpClient().connectTimeoutMillis(), "Outrigger's defaults");
      assertEquals(30_000, made.okHttpClient().readTimeoutMillis());
      assertEquals(0, made.okHttpClient().callTimeoutMillis());
      assertTrue(kept.describe().contains("OkHttp call timeout PT0.3S"), kept.describe());

      // The owner's call timeout bounds the attempt within a 10 s deadline: a 3 s wait for
      // headers ends as a timeout, not with the late answer.
      server.enqueue(new MockResponse.Builder().body("late")
          .headersDelay(3, java.util.concurrent.TimeUnit.SECONDS).build());
      try (ApiClient once = kept.newBuilder().retry(Retry.none())
          .deadline(java.time.Duration.ofSeconds(10)).build()) {
        TransportException e = org.junit.jupiter.api.Assertions.assertThrows(
            TransportException.class,
            () -> once.get(server.url("/slow").toString()).execute(String.class));
        assertEquals(TransportException.Kind.TIMEOUT, e.kind(), e.getMessage());
      }
    } finally {
      mine.connectionPool().evictAll();
    }
  }

  @Test
  void connectionPoolIsRefusedWhereItCouldNotApply() {
    OkHttpClient mine = new OkHttpClient();
    IllegalArgumentException supplied = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> ApiClient.builder().okHttpClient(mine)
            .connectionPool(5, java.time.Duration.ofMinutes(1)).build());
    assertTrue(supplied.getMessage().contains("okHttpClient(...), which keeps its own pool"),
        supplied.getMessage());
    try (ApiClient parent = ApiClient.builder()
        .connectionPool(16, java.time.Duration.ofSeconds(30)).build()) {
      IllegalArgumentException derived = org.junit.jupiter.api.Assertions.assertThrows(
          IllegalArgumentException.class, () -> parent.newBuilder()
              .connectionPool(5, java.time.Duration.ofMinutes(1)).build());
      assertTrue(derived.getMessage().contains("shares its parent's pool"),
          derived.getMessage());
      // A parent that sized its pool still derives clients freely.
      parent.newBuilder().build().close();
    }
  }
}
