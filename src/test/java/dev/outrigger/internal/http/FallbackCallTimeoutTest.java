package dev.outrigger.internal.http;

import static dev.outrigger.HoldingServer.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HoldingServer;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/**
 * An attempt that finds no deadline watchdog (a call racing the last client's close()) is bounded
 * by OkHttp's call timeout instead: by what is left of the attempt's time, or by the supplied
 * OkHttpClient's own {@code callTimeout} when that is shorter, as beside the watchdog.
 */
class FallbackCallTimeoutTest {
  @StartStop private final MockWebServer origin = new MockWebServer();

  @Test
  void anAttemptWithNoWatchdogKeepsTheSuppliedClientsShorterCallTimeout() throws Exception {
    // The fallback set the deadline as the call timeout over the user's shorter one: the
    // attempt ran on to the deadline.
    // Another test's client left open would keep the watchdog running.
    await("no client open", () -> !DeadlineWatchdog.running());
    // Its read timeout far beyond the deadline: only the call timeout can end the attempt early.
    OkHttpClient own = new OkHttpClient.Builder().callTimeout(Duration.ofMillis(300))
        .readTimeout(Duration.ofSeconds(60)).build();
    try (HoldingServer server = new HoldingServer()) {
      ApiClient client = ApiClient.builder().baseUrl(server.url()).okHttpClient(own)
          .deadline(Duration.ofSeconds(5)).retry(Retry.none()).build();
      // The client's hold on the watchdog let go, as the last close() does while a call of its
      // goes on: the attempt finds no watchdog and falls back to OkHttp's call timeout.
      DeadlineWatchdog.release();
      try {
        assertFalse(DeadlineWatchdog.running());

        TransportException e = assertThrows(TransportException.class,
            () -> client.get("/held").execute(String.class));

        // The user's 300 ms call timeout ended it, not the 5 s deadline.
        assertEquals(TransportException.Kind.TIMEOUT, e.kind(), e.toString());
        assertEquals(1, e.attempts());
      } finally {
        DeadlineWatchdog.acquire(); // the client's again: its close() gives it back
        server.release();
      }
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    } finally {
      own.connectionPool().evictAll();
    }
  }

  @Test
  void aReSendWithNoWatchdogIsBoundedByWhatIsLeftOfTheDeadline() throws Exception {
    // An attempt whose redirect met a stale connection sends the call's own request again on a
    // new OkHttp call, within the attempt (StaleConnectionRedirectTest). With no watchdog, that
    // call's OkHttp call timeout must be what is left of the attempt's time, not the whole of
    // it again: the attempt would run past its deadline by the time the first call took.
    await("no client open", () -> !DeadlineWatchdog.running());
    List<Long> callTimeouts = new CopyOnWriteArrayList<>();
    IdleConnectionCheck.afterNanos = 1; // the idle check's threshold, so as not to wait it out
    try (IdleClosingServer target = new IdleClosingServer(100);
        ApiClient client = ApiClient.builder().baseUrl(origin.url("/").toString())
            .deadline(Duration.ofSeconds(20)).retry(Retry.none())
            .addOkHttpInterceptor(chain -> {
              if (chain.request().url().encodedPath().equals("/go")) {
                callTimeouts.add(chain.call().timeout().timeoutNanos());
              }
              return chain.proceed(chain.request());
            })
            .build()) {
      client.get(target.url() + "/warm").execute(String.class);
      target.awaitIdleClosed(1);
      // The first call takes half a second or more before its redirect meets the stale one.
      origin.enqueue(new MockResponse.Builder().code(307)
          .setHeader("Location", target.url() + "/moved")
          .headersDelay(500, TimeUnit.MILLISECONDS).build());
      origin.enqueue(new MockResponse.Builder().body("ok").build());
      DeadlineWatchdog.release();
      try {
        assertFalse(DeadlineWatchdog.running());

        assertEquals("ok", client.get("/go").execute(String.class));
      } finally {
        DeadlineWatchdog.acquire();
      }

      assertEquals(2, callTimeouts.size(), "the first OkHttp call and the re-send's");
      long first = callTimeouts.get(0);
      long second = callTimeouts.get(1);
      assertTrue(second <= first - TimeUnit.MILLISECONDS.toNanos(500),
          "the re-send's call timeout " + second + " ns, the first's " + first + " ns");
      ClientTestSupport.assertNoLeaks(client);
    } finally {
      IdleConnectionCheck.afterNanos = IdleConnectionCheck.AFTER_NANOS;
    }
  }
}
