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
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * Two calls sent together with the same expired token both meet a 401. The first one's refresh
 * fetches a new token and its call succeeds with it; the second one's 401 (for the same expired
 * token) arrives just after that fetch ended. The Auth already holds a fresh token (it is what
 * authorization(false) hands out now, and differs from the one refused), so the second call
 * should be sent again with it, as OkHttp's Authenticator recipe does, not start a second fetch:
 * a burst of requests that were in flight when a token expired otherwise refreshes once per
 * late 401 (and with refresh-token rotation, each fetch revokes the token the previous one
 * handed out, so the storm feeds itself).
 */
class AuthRefreshStormTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final AtomicInteger fetches = new AtomicInteger();
  private volatile String token = "t0";

  private final Auth auth = refresh -> {
    if (refresh) {
      token = "t" + fetches.incrementAndGet();
    }
    return "Bearer " + token;
  };

  @Test
  void late401sForTheSameExpiredTokenShareOneRefresh() throws Exception {
    CountDownLatch bothSent = new CountDownLatch(2);
    CountDownLatch releaseSecond = new CountDownLatch(1);
    AtomicInteger expiredSeen = new AtomicInteger();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        if ("Bearer t0".equals(request.getHeaders().get("Authorization"))) {
          int n = expiredSeen.incrementAndGet();
          bothSent.countDown();
          bothSent.await(10, TimeUnit.SECONDS);
          if (n == 2) {
            // The second 401 for the expired token comes after the first call is done.
            releaseSecond.await(10, TimeUnit.SECONDS);
          }
          return new MockResponse.Builder().code(401).body("expired").build();
        }
        return new MockResponse.Builder().code(200).body("ok").build();
      }
    });
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(20)).retry(Retry.none()).auth(auth).build()) {
      Future<String> first = pool.submit(() -> client.get("/a").execute(String.class));
      Future<String> second = pool.submit(() -> client.get("/b").execute(String.class));
      assertTrue(bothSent.await(10, TimeUnit.SECONDS), "both calls sent with the expired token");
      // One of the two finishes: its 401 came at once, its refresh ran, its retry succeeded.
      String done = null;
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (done == null && System.nanoTime() < end) {
        if (first.isDone()) {
          done = first.get();
        } else if (second.isDone()) {
          done = second.get();
        } else {
          Thread.onSpinWait();
        }
      }
      assertEquals("ok", done);
      assertEquals(1, fetches.get());
      releaseSecond.countDown();
      assertEquals("ok", first.get(10, TimeUnit.SECONDS));
      assertEquals("ok", second.get(10, TimeUnit.SECONDS));
      assertEquals(1, fetches.get(),
          "a 401 for a token older than the one the Auth now holds fetched another token");
    } finally {
      releaseSecond.countDown();
      pool.shutdownNow();
    }
  }
}
