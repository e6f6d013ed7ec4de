package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A {@code Retry-After} on a status the user's own rule retries (GitHub's secondary rate limits
 * answer 403 with one; a 202 still pending may say when to look again) sets the next wait as it
 * does on 429 and 503: capped by {@code maxRetryAfter}, and never past the deadline. It used to
 * be ignored there, the backoff retrying at once into the same refusal.
 */
class RetryAfterOnOptedStatusTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final List<Duration> waits = new CopyOnWriteArrayList<>();

  /** A backoff of 100 ms, far from the server's seconds. */
  private static final Retry BACKOFF_100_MS =
      Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(1)).jitter(Jitter.NONE);

  private ApiClient client(Retry retry) {
    return ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(30))
        .retry(retry)
        .addListener(new CallListener() {
          @Override
          public void retryScheduled(CallContext call, Duration delay, String reason) {
            waits.add(delay);
          }
        })
        .build();
  }

  private static MockResponse answer(int status, String retryAfter, String body) {
    return new MockResponse.Builder().code(status).addHeader("Retry-After", retryAfter)
        .body(body).build();
  }

  @Test
  void aRetryAfterOnAStatusTheUsersRuleRetriesSetsTheWait() throws Exception {
    server.enqueue(answer(403, "3", "secondary rate limit"));
    server.enqueue(new MockResponse.Builder().body("ok").build());
    try (ApiClient client = client(BACKOFF_100_MS.retryOnStatus(s -> s == 403 || s >= 500))) {
      assertEquals("ok", client.get("/repos").execute(String.class));
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(List.of(Duration.ofSeconds(3)), waits);
    assertTrue(clock.sleeps().contains(Duration.ofSeconds(3).toNanos()), clock.sleeps().toString());
  }

  @Test
  void aRetryAfterOnAPendingSuccessTheUsersRuleRetriesSetsTheWait() throws Exception {
    server.enqueue(answer(202, "2", "pending"));
    server.enqueue(new MockResponse.Builder().body("done").build());
    try (ApiClient client = client(BACKOFF_100_MS.retryOnResponse(r -> r.code() == 202))) {
      ApiResponse<String> r = client.get("/job/7").send(String.class);
      assertEquals("done", r.body());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(List.of(Duration.ofSeconds(2)), waits);
  }

  @Test
  void aRetryAfterOnAnOptedStatusIsCappedAndBoundedByTheDeadline() throws Exception {
    server.enqueue(answer(403, "3600", "secondary rate limit"));
    server.enqueue(new MockResponse.Builder().body("too soon").build());
    try (ApiClient client = client(BACKOFF_100_MS.retryOnStatus(s -> s == 403))) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/repos").execute(String.class));
      assertEquals(403, e.status());
      assertTrue(e.getMessage().contains("stopped: the server asked to retry after 3600s "
          + "(Retry-After: 3600), capped to 60s, but only 30s of the deadline remain"),
          e.getMessage());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(1, server.getRequestCount());
    assertEquals(List.of(), waits);
  }
}
