package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.sun.net.httpserver.HttpServer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * One caller whose deadline is shorter than a healthy host ever answers in: the host did not
 * shed load, so neither the adaptive limit nor the client-side throttle may act for everyone.
 */
class ShortDeadlineCallerTest {
  private static HttpServer slowServer() throws Exception {
    return ClientTestSupport.jdkServer(ex -> {
      try {
        Thread.sleep(100);
        ClientTestSupport.reply(ex, 200, "ok");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (java.io.IOException e) {
        // the client went away
      }
    });
  }

  @Test
  void aCallersOwnShortDeadlineDoesNotCutTheAdaptiveLimit() throws Exception {
    HttpServer server = slowServer();
    AtomicInteger limit = new AtomicInteger(20);
    try (ApiClient c = ApiClient.builder().baseUrl(ClientTestSupport.url(server))
        .retry(Retry.none()).circuitBreaker(CircuitBreaker.none())
        .adaptiveConcurrency(AdaptiveLimit.vegas().min(4).initial(20))
        .addListener(new CallListener() {
          @Override
          public void adaptiveLimitChanged(String host, int from, int to) {
            limit.set(to);
          }
        })
        .build()) {
      c.get("/warm").execute(String.class); // the host's no-load latency: ~100 ms
      for (int i = 0; i < 10; i++) {
        assertThrows(DeadlineExceededException.class,
            () -> c.get("/hurried").deadline(Duration.ofMillis(30)).execute(String.class));
      }
      assertEquals(20, limit.get());
    } finally {
      server.stop(0);
    }
  }

  @Test
  void aCallersOwnShortDeadlineDoesNotMakeTheThrottleRefuseOthers() throws Exception {
    HttpServer server = slowServer();
    try (ApiClient c = ApiClient.builder().baseUrl(ClientTestSupport.url(server))
        .retry(Retry.none()).circuitBreaker(CircuitBreaker.none())
        .clientThrottling(2).build()) {
      for (int i = 0; i < 10; i++) {
        assertThrows(DeadlineExceededException.class,
            () -> c.get("/hurried").deadline(Duration.ofMillis(30)).execute(String.class));
      }
      for (int i = 0; i < 5; i++) {
        assertEquals("ok", c.get("/important").execute(String.class));
      }
    } finally {
      server.stop(0);
    }
  }
}
