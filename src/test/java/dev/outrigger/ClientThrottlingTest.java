package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/** Client-side throttling through {@link ApiClient} against MockWebServer. */
class ClientThrottlingTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void anOverloadedHostIsSparedMostAttemptsAndTheRefusalSaysWhoRefused() throws Exception {
    List<Double> probabilities = new CopyOnWriteArrayList<>();
    List<String> rejections = new CopyOnWriteArrayList<>();
    try (ApiClient c = ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none())
        .clientThrottling(2)
        .addListener(new CallListener() {
          @Override
          public void throttleProbability(String host, double p, long requests, long accepts) {
            probabilities.add(p);
          }

          @Override
          public void rateLimitRejected(CallContext call, String key, java.time.Duration wait) {
            rejections.add(key + " " + wait);
          }
        })
        .build()) {
      for (int i = 0; i < 100; i++) {
        server.enqueue(new MockResponse.Builder().code(503).build());
      }
      int refused = 0;
      for (int i = 0; i < 100; i++) {
        try {
          c.get("/x").execute(String.class);
        } catch (HttpStatusException e) {
          assertEquals(503, e.status());
        } catch (RateLimitedException e) {
          refused++;
          assertTrue(e.getMessage().startsWith("GET http://"), e.getMessage());
          assertTrue(e.getMessage().contains("refused by the client-side throttle"),
              e.getMessage());
          assertEquals(0, e.attempts());
        }
      }
      // Every call the throttle let through reached the server; the rest never left.
      assertEquals(100 - refused, server.getRequestCount());
      assertTrue(refused > 50, "refused " + refused);
      // Each refusal is reported as a rate limit's would be, keyed by the host, with no wait.
      assertEquals(refused, rejections.size());
      assertEquals(server.getHostName() + ":" + server.getPort() + " null", rejections.get(0));
      assertTrue(probabilities.get(probabilities.size() - 1) > 0.8, probabilities.toString());
      assertTrue(c.describe().contains("-> ClientThrottle[K=2.0, window 120 s per host]"),
          c.describe());
      assertTrue(c.describe().indexOf("ClientThrottle") > c.describe().indexOf("Breaker"),
          c.describe());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  @Test
  void a403WithRetryAfterIsARejectionAndOneWithoutItIsNot() throws Exception {
    try (ApiClient c = throttled()) {
      // A refusal that says nothing of load: the host accepted the attempt, nothing is shed.
      for (int i = 0; i < 60; i++) {
        server.enqueue(new MockResponse.Builder().code(403).build());
      }
      for (int i = 0; i < 60; i++) {
        HttpStatusException e = assertThrows(HttpStatusException.class,
            () -> c.get("/x").execute(String.class));
        assertEquals(403, e.status());
      }
      assertEquals(60, server.getRequestCount());
    }
    try (ApiClient c = throttled()) {
      // GitHub's secondary rate limit: the host is refusing load, as with a 429.
      for (int i = 0; i < 100; i++) {
        server.enqueue(new MockResponse.Builder().code(403).addHeader("Retry-After", "1").build());
      }
      int refused = 0;
      for (int i = 0; i < 100; i++) {
        try {
          c.get("/x").execute(String.class);
        } catch (HttpStatusException e) {
          assertEquals(403, e.status());
        } catch (RateLimitedException e) {
          refused++;
        }
      }
      assertEquals(60 + 100 - refused, server.getRequestCount());
      assertTrue(refused > 50, "refused " + refused);
    }
  }

  /** A client with only the throttle (K = 2) between it and the server. */
  private ApiClient throttled() {
    return ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none())
        .clientThrottling(2)
        .build();
  }

  @Test
  void kBelowOneIsRefusedAtTheSetter() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().clientThrottling(0.9));
    assertEquals("client throttling K must be a finite number of at least 1, but was 0.9",
        e.getMessage());
  }

  @Test
  void aDerivedClientCanTurnTheThrottleOff() throws Exception {
    try (ApiClient throttled = ApiClient.builder()
            .baseUrl(server.url("/").toString())
            .retry(Retry.none())
            .circuitBreaker(CircuitBreaker.none())
            .clientThrottling(1)
            .build();
        ApiClient plain = throttled.newBuilder().noClientThrottling().build()) {
      for (int i = 0; i < 20; i++) {
        server.enqueue(new MockResponse.Builder().code(503).build());
      }
      // Each rejected attempt raises the throttled client's refusal probability, to n/(n+1)
      // after n: over ten calls it refuses some (all ten sent has a chance of 1 in 10!), while
      // the derived client sends every one.
      int refused = 0;
      for (int i = 0; i < 10; i++) {
        try {
          throttled.get("/x").execute(String.class);
        } catch (RateLimitedException e) {
          refused++;
        } catch (HttpStatusException e) {
          assertEquals(503, e.status());
        }
      }
      assertTrue(refused > 0, "the throttled client refused none of ten");
      int before = server.getRequestCount();
      int sent = 20 - before;
      for (int i = 0; i < sent; i++) {
        assertThrows(HttpStatusException.class, () -> plain.get("/x").execute(String.class));
      }
      assertEquals(20, server.getRequestCount());
      assertTrue(!plain.describe().contains("ClientThrottle"), plain.describe());
      assertTrue(throttled.describe().contains("ClientThrottle"), throttled.describe());
    }
  }
}
