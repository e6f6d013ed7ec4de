package dev.outrigger.internal.http;

import static dev.outrigger.HoldingServer.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HoldingServer;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.time.Duration;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/**
 * An attempt that finds no deadline watchdog (a call racing the last client's close()) is bounded
 * by OkHttp's call timeout instead. That fallback set the call's deadline as its call timeout over
 * the one the supplied OkHttpClient gave it, so a shorter {@code callTimeout} of the user's no
 * longer bounded the attempt: it ran on to the deadline. The shorter of the two now stands, as
 * it does beside the watchdog.
 */
class FallbackCallTimeoutTest {
  @Test
  void anAttemptWithNoWatchdogKeepsTheSuppliedClientsShorterCallTimeout() throws Exception {
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
}
