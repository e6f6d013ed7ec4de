package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Deadline cuts and the host-wide policies: one caller whose deadline is shorter than a healthy
 * host ever answers in must not cut the adaptive limit for everyone, while a host that hangs
 * must still engage the client-side throttle, whose only sign of it is the deadline's cut.
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
  void aHostThatHangsEngagesTheThrottleThroughTheDeadline() throws Exception {
    HttpServer server = ClientTestSupport.jdkServer(ex -> {
      try {
        Thread.sleep(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    int refused = 0;
    try (ApiClient c = ApiClient.builder().baseUrl(ClientTestSupport.url(server))
        .retry(Retry.none()).circuitBreaker(CircuitBreaker.none())
        .deadline(Duration.ofMillis(100)).clientThrottling(2).build()) {
      for (int i = 0; i < 30; i++) {
        try {
          c.get("/x").execute(String.class);
        } catch (RateLimitedException e) {
          refused++;
        } catch (DeadlineExceededException e) {
          // cut by the deadline: the host never answered
        }
      }
    } finally {
      server.stop(0);
    }
    assertTrue(refused > 0, "30 calls to a host that never answered; the throttle refused none");
  }
}
