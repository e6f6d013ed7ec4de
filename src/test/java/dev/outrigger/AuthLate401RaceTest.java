package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * c7a6e61 sends a 401 for a value other than the held one again with the held value, without
 * looking whether a fetch is running. When one is (another call met a 401 for the held value),
 * the held value is the one being replaced: the call spends its one refresh on it, meets a second
 * 401 and fails, where before it waited for the running fetch and succeeded.
 */
class AuthLate401RaceTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  /** The generation of token the server accepts: "Bearer t" + valid. */
  private volatile int valid = 1;
  private volatile String token = "t0";
  private final AtomicInteger fetches = new AtomicInteger();
  private final CountDownLatch secondFetchStarted = new CountDownLatch(1);
  private final CountDownLatch releaseSecondFetch = new CountDownLatch(1);

  private final Auth auth = refresh -> {
    if (refresh) {
      int n = fetches.incrementAndGet();
      if (n == 2) {
        secondFetchStarted.countDown();
        try {
          releaseSecondFetch.await(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      token = "t" + n;
    }
    return "Bearer " + token;
  };

  @Test
  void aLate401WhileAFetchRunsWaitsForItRatherThanResendingTheValueBeingReplaced()
      throws Exception {
    CountDownLatch bSent = new CountDownLatch(1);
    CountDownLatch answerB = new CountDownLatch(1);
    CountDownLatch bResentWithT1 = new CountDownLatch(1);
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        String authz = request.getHeaders().get("Authorization");
        String path = request.getUrl().encodedPath();
        if (path.equals("/b") && "Bearer t0".equals(authz)) {
          bSent.countDown();
          answerB.await(20, TimeUnit.SECONDS); // B's 401 for t0 comes late
        }
        if (path.equals("/b") && "Bearer t1".equals(authz)) {
          bResentWithT1.countDown();
        }
        return ("Bearer t" + valid).equals(authz)
            ? new MockResponse.Builder().code(200).body("ok").build()
            : new MockResponse.Builder().code(401).body("expired").build();
      }
    });
    ExecutorService pool = Executors.newFixedThreadPool(3);
    AtomicReference<Thread> bThread = new AtomicReference<>();
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(30)).retry(Retry.none()).auth(auth).build()) {
      // B goes out with t0; its 401 is held back.
      Future<String> b = pool.submit(() -> {
        bThread.set(Thread.currentThread());
        return client.get("/b").execute(String.class);
      });
      assertTrue(bSent.await(10, TimeUnit.SECONDS));
      // A meets a 401 for t0, fetches t1 (fetch 1), and succeeds with it.
      assertEquals("ok", client.get("/a").execute(String.class));
      assertEquals(1, fetches.get());
      // The server revokes t1: C meets a 401 for it, the held value, and starts fetch 2.
      valid = 2;
      Future<String> c = pool.submit(() -> client.get("/c").execute(String.class));
      assertTrue(secondFetchStarted.await(10, TimeUnit.SECONDS));
      // B's 401 for t0 arrives while fetch 2 runs: the Auth still holds t1, being replaced.
      answerB.countDown();
      // Let fetch 2 end once B has either resent with t1 or is waiting for the fetch.
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!bResentWithT1.await(1, TimeUnit.MILLISECONDS) && !waitingForRefresh(bThread.get())
          && System.nanoTime() < end) {
        Thread.onSpinWait();
      }
      releaseSecondFetch.countDown();
      assertEquals("ok", c.get(10, TimeUnit.SECONDS));
      assertEquals(1, bResentWithT1.getCount(),
          "B resent with t1, the value the running fetch was replacing");
      assertEquals("ok", b.get(10, TimeUnit.SECONDS));
    } finally {
      answerB.countDown();
      releaseSecondFetch.countDown();
      pool.shutdownNow();
    }
  }

  private static boolean waitingForRefresh(Thread t) {
    if (t == null) {
      return false;
    }
    Thread.State s = t.getState();
    if (s != Thread.State.WAITING && s != Thread.State.TIMED_WAITING) {
      return false;
    }
    for (StackTraceElement e : t.getStackTrace()) {
      if (e.getClassName().endsWith("AuthInterceptors$Refresher")
          && e.getMethodName().equals("fresh")) {
        return true;
      }
    }
    return false;
  }
}
