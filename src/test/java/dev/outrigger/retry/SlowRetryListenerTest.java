package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.outrigger.ApiClient;
import dev.outrigger.ApiException;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.micrometer.OutriggerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A retryScheduled listener's time is part of the retry's wait: the retry it was told of is sent
 * when it was scheduled to (at once, if the listener took longer), not dropped, so
 * outrigger.retries counts the retries the server sees.
 */
class SlowRetryListenerTest {
  private final FakeClock time = new FakeClock();
  private final AtomicInteger requests = new AtomicInteger();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private HttpServer server;

  @BeforeEach
  void start() throws IOException {
    // The first request of the test is a 503, every later one a 200.
    server = ClientTestSupport.jdkServer(exchange -> {
      if (requests.incrementAndGet() == 1) {
        ClientTestSupport.bare(exchange, 503, null);
      } else {
        ClientTestSupport.reply(exchange, 200, "ok");
      }
    });
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  /** A client whose one retry waits 500 ms, in a deadline of 1 s, told to a slow listener. */
  private ApiClient client(long listenerMillis) {
    return ClientTestSupport.withClock(ApiClient.builder(), time)
        .baseUrl(ClientTestSupport.url(server))
        .deadline(Duration.ofSeconds(1))
        .retry(Retry.exponential(Duration.ofMillis(500), Duration.ofMillis(500)).maxAttempts(2)
            .jitter(Jitter.NONE).noBudget())
        .addListener(OutriggerMetrics.of(registry))
        .addListener(new CallListener() {
          @Override
          public void retryScheduled(CallContext call, Duration delay, String reason) {
            time.advanceMillis(listenerMillis); // a metrics exporter that blocked, say
          }
        })
        .build();
  }

  private double retriesCounted() {
    return registry.find("outrigger.retries").counters().stream()
        .mapToDouble(c -> c.count()).sum();
  }

  @Test
  void aListenerSlowerThanTheBackoffSendsTheRetryAtOnceAndItIsCountedAsSent() {
    try (ApiClient client = client(600)) {
      assertEquals("ok", client.get("/flaky").execute(String.class));
    }
    assertEquals(2, requests.get());
    assertEquals(requests.get() - 1, retriesCounted(), "retries counted vs. sent");
    assertEquals(List.of(), time.sleeps(), "the listener took the whole backoff");
  }

  @Test
  void theListenersTimeIsTakenFromTheBackoff() {
    try (ApiClient client = client(300)) {
      assertEquals("ok", client.get("/flaky").execute(String.class));
    }
    assertEquals(2, requests.get());
    assertEquals(1, retriesCounted());
    assertEquals(List.of(200_000_000L), time.sleeps(), "500 ms scheduled, 300 ms in the listener");
  }

  @Test
  void aListenerThatOutlastsTheDeadlineEndsTheCallAsTheDeadline() {
    try (ApiClient client = client(1_200)) {
      ApiException e = assertThrows(ApiException.class,
          () -> client.get("/flaky").execute(String.class));
      DeadlineExceededException d = assertInstanceOf(DeadlineExceededException.class, e);
      assertInstanceOf(HttpStatusException.class, d.getCause(), "the 503 the retry was for");
      assertTrue(d.getMessage().contains("before attempt 2"), d.getMessage());
      assertEquals(1, d.attempts());
    }
    assertEquals(1, requests.get());
    assertEquals(List.of(), time.sleeps());
  }
}
