package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code close()} ends a call's wait in a policy (a backoff, a permit, a slot) at once, with a
 * {@code CANCELLED} failure, and leaves the waiting thread's interrupt status clear. Every wait
 * here would last a minute or more on its own; the calls must end within the futures' 20 s.
 */
class CloseCutsWaitsShortTest {
  private HttpServer http;
  private final AtomicInteger requests = new AtomicInteger();
  private final CountDownLatch release = new CountDownLatch(1);
  private volatile int status = 200;

  @BeforeEach
  void start() throws Exception {
    http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    http.createContext("/", ex -> {
      requests.incrementAndGet();
      if (ex.getRequestURI().getPath().equals("/hold")) {
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      byte[] b = "ok".getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(status, b.length);
      ex.getResponseBody().write(b);
      ex.close();
    });
    http.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
    http.start();
  }

  @AfterEach
  void stop() {
    release.countDown();
    http.stop(0);
  }

  /** The waits reported to listeners, cut short ones included. */
  private final java.util.List<String> waits = new java.util.concurrent.CopyOnWriteArrayList<>();

  private ApiClient.Builder client() {
    return ApiClient.builder()
        .baseUrl("http://127.0.0.1:" + http.getAddress().getPort())
        .deadline(Duration.ofMinutes(5))
        .addListener(new CallListener() {
          @Override
          public void rateLimitWaited(CallContext call, String key, Duration waited) {
            waits.add("permit");
          }

          @Override
          public void inFlightWaited(CallContext call, Duration waited) {
            waits.add("slot");
          }
        });
  }

  /** How a call on its own virtual thread ended, and its interrupt status just after. */
  private record Ended(Throwable failure, boolean interrupted) {}

  private static Thread call(ApiClient client, String path, CompletableFuture<Ended> ended) {
    return Thread.ofVirtual().start(() -> {
      Throwable failure = null;
      try {
        client.get(path).execute(String.class);
      } catch (Throwable e) {
        failure = e;
      }
      ended.complete(new Ended(failure, Thread.currentThread().isInterrupted()));
    });
  }

  /** Waits (without sleeping) until {@code t} is parked: in its policy's wait. */
  private static void awaitParked(Thread t) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
      assertTrue(System.nanoTime() < end, "the call never waited: " + t.getState());
      Thread.onSpinWait();
    }
  }

  private static TransportException cancelledByClose(CompletableFuture<Ended> ended, String wait)
      throws Exception {
    Ended e = ended.get(20, TimeUnit.SECONDS);
    TransportException t = assertInstanceOf(TransportException.class, e.failure());
    assertEquals(TransportException.Kind.CANCELLED, t.kind(), t.getMessage());
    assertTrue(t.getMessage().contains("the ApiClient was closed while the call waited for " + wait),
        t.getMessage());
    assertFalse(e.interrupted(), "close() left its interrupt on the caller's thread");
    return t;
  }

  /** Calls "/" on a thread of its own, closes the client once it waits, and checks how it ended. */
  private static TransportException closeWhileItWaits(ApiClient client, String wait)
      throws Exception {
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    Thread t = call(client, "/", ended);
    awaitParked(t);
    client.close();
    return cancelledByClose(ended, wait);
  }

  @Test
  void closeEndsARetrysBackoff() throws Exception {
    status = 503;
    ApiClient client = client()
        .circuitBreaker(CircuitBreaker.none())
        .retry(Retry.exponential(Duration.ofMinutes(1), Duration.ofMinutes(1)).maxAttempts(3))
        .build();
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    Thread t = call(client, "/", ended);
    while (requests.get() == 0) {
      assertFalse(ended.isDone(), "the call ended before its backoff: " + ended);
      Thread.onSpinWait();
    }
    awaitParked(t);
    client.close();
    TransportException e = cancelledByClose(ended, "the backoff before attempt 2");
    assertEquals(1, e.attempts());
    assertEquals(503, assertInstanceOf(HttpStatusException.class, e.getSuppressed()[0]).status());
    assertEquals(1, requests.get(), "no retry after close()");
  }

  @Test
  void closeEndsAWaitForARateLimitPermit() throws Exception {
    ApiClient client = client()
        .rateLimit(RateLimit.per(1, Duration.ofMinutes(2)).burst(1))
        .build();
    client.get("/").execute(String.class); // takes the only permit
    TransportException e = closeWhileItWaits(client, "a rate-limit permit");
    assertEquals(0, e.attempts());
    assertEquals(1, requests.get());
    assertEquals(java.util.List.of("permit"), waits, "a wait cut short is reported as a wait");
  }

  @Test
  void closeEndsAWaitForAnInFlightSlot() throws Exception {
    closeEndsAWaitForASlot(client().maxInFlightPerHost(1).build());
  }

  @Test
  void closeEndsAWaitForAnAdaptiveInFlightSlot() throws Exception {
    closeEndsAWaitForASlot(client()
        .adaptiveConcurrency(AdaptiveLimit.vegas().min(1).initial(1).max(1)).build());
  }

  private void closeEndsAWaitForASlot(ApiClient client) throws Exception {
    CompletableFuture<Ended> holder = new CompletableFuture<>();
    call(client, "/hold", holder);
    while (requests.get() == 0) {
      Thread.onSpinWait();
    }
    TransportException e = closeWhileItWaits(client, "an in-flight slot to 127.0.0.1:");
    assertEquals(0, e.attempts());
    assertEquals(java.util.List.of("slot"), waits, "a wait cut short is reported as a wait");
    // The attempt already sent still finishes, with its answer.
    release.countDown();
    Ended held = holder.get(20, TimeUnit.SECONDS);
    assertEquals(null, held.failure());
    assertEquals(1, requests.get());
  }

  @Test
  void aCallersOwnInterruptStillEndsTheWaitAndKeepsItsStatus() throws Exception {
    status = 503;
    try (ApiClient client = client()
        .circuitBreaker(CircuitBreaker.none())
        .retry(Retry.exponential(Duration.ofMinutes(1), Duration.ofMinutes(1)).maxAttempts(3))
        .build()) {
      CompletableFuture<Ended> ended = new CompletableFuture<>();
      Thread t = call(client, "/", ended);
      while (requests.get() == 0) {
        Thread.onSpinWait();
      }
      awaitParked(t);
      t.interrupt();
      Ended e = ended.get(20, TimeUnit.SECONDS);
      TransportException te = assertInstanceOf(TransportException.class, e.failure());
      assertEquals(TransportException.Kind.CANCELLED, te.kind());
      assertTrue(te.getMessage().contains("was interrupted"), te.getMessage());
      assertTrue(e.interrupted(), "the caller's own interrupt is restored");
    }
  }

  @Test
  void anAttemptNotYetSentAtCloseIsNeverSent() {
    java.util.concurrent.atomic.AtomicReference<ApiClient> self =
        new java.util.concurrent.atomic.AtomicReference<>();
    ApiClient client = client()
        .addAttemptInterceptor(chain -> {
          self.get().close(); // closed after every wait, just before the transport
          return chain.proceed(chain.request());
        })
        .build();
    self.set(client);
    TransportException e = org.junit.jupiter.api.Assertions.assertThrows(
        TransportException.class, () -> client.get("/").execute(String.class));
    assertEquals(TransportException.Kind.CANCELLED, e.kind());
    assertTrue(e.getMessage().contains("attempt 1 not sent: the ApiClient was closed"),
        e.getMessage());
    assertEquals(0, requests.get());
  }

  @Test
  void closeEndsAWaitForASharedRateLimitPermit() throws Exception {
    // A store (Redis, say) that grants a permit usable in two minutes.
    RateLimitStore store = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
        return TimeUnit.MINUTES.toNanos(2);
      }

      @Override
      public long pause(String key, RateLimit limit, long pauseNanos) {
        return 0;
      }
    };
    ApiClient client = client().rateLimit(RateLimit.perSecond(10).store(store)).build();
    closeWhileItWaits(client, "a shared rate-limit permit");
    assertEquals(0, requests.get());
    assertEquals(java.util.List.of("permit"), waits, "a wait cut short is reported as a wait");
  }

  @Test
  void aCallersOwnInterruptSurvivesCloseCuttingTheBackoff() throws Exception {
    status = 503;
    java.util.concurrent.atomic.AtomicBoolean inListener =
        new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicBoolean release =
        new java.util.concurrent.atomic.AtomicBoolean();
    ApiClient client = client()
        .circuitBreaker(CircuitBreaker.none())
        .retry(Retry.exponential(Duration.ofMinutes(1), Duration.ofMinutes(1)).maxAttempts(3))
        .addListener(new CallListener() {
          @Override
          public void retryScheduled(CallContext c, Duration w, String r) {
            inListener.set(true);
            while (!release.get()) {
              Thread.onSpinWait(); // holds the call just before its backoff, uninterruptibly
            }
          }
        }).build();
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    Thread t = call(client, "/", ended);
    while (!inListener.get()) {
      Thread.onSpinWait();
    }
    t.interrupt(); // the owner cancels the worker...
    client.close(); // ...and shuts the client down
    release.set(true);
    Ended e = ended.get(20, TimeUnit.SECONDS);
    TransportException te = assertInstanceOf(TransportException.class, e.failure());
    assertEquals(TransportException.Kind.CANCELLED, te.kind());
    assertTrue(e.interrupted(), "the worker's own interrupt was swallowed");
  }
}
