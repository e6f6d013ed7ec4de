package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Jitter;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A 2xx that {@code retryOnResponse} wanted retried is an answer: when its retry is refused (a
 * rate-limit wait that cannot fit in the deadline, a deadline a {@code retryScheduled} listener
 * used up, an open breaker), the call returns it, body and all, as it does when attempts run
 * out. It used to end as an {@code HttpStatusException} of status 200, its body gone into a
 * snippet (a breaker's refusal: as that {@code CircuitOpenException}).
 */
class RefusedRetryOfASuccessTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();

  private static final Retry PENDING_RETRIED =
      Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(1))
          .jitter(Jitter.NONE)
          .retryOnResponse(r -> r.header("X-Pending") != null);

  /** The client of the call under way, for a listener that acts on it. */
  private final AtomicReference<ApiClient> current = new AtomicReference<>();

  private ApiResponse<String> call(UnaryOperator<ApiClient.Builder> more) throws Exception {
    server.enqueue(new MockResponse.Builder().addHeader("X-Pending", "1")
        .addHeader("Content-Type", "text/plain").body("partial report").build());
    try (ApiClient client = more.apply(ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(5))
        .retry(PENDING_RETRIED)).build()) {
      current.set(client);
      ApiResponse<String> r = client.get("/report").send(String.class);
      ClientTestSupport.assertNoLeaks(client);
      return r;
    }
  }

  @Test
  void aSuccessWhoseRetryCannotGetAPermitInTimeIsTheAnswer() throws Exception {
    // One permit per minute: the retry would wait 60 s for its own, past the 5 s deadline.
    ApiResponse<String> r = call(b -> b.rateLimit(RateLimit.per(1, Duration.ofMinutes(1))));

    assertEquals(200, r.status());
    assertEquals("partial report", r.body());
    assertEquals("1", r.header("X-Pending"));
    assertEquals(1, r.attempts());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aSuccessWhoseRetryAListenerLeftNoTimeForIsTheAnswer() throws Exception {
    ApiResponse<String> r = call(b -> b.addListener(new CallListener() {
      @Override
      public void retryScheduled(CallContext call, Duration delay, String reason) {
        // The listener takes the whole deadline: no time is left for the retry. (Its time is
        // part of the backoff: had it left 50 ms, the retry would have gone at once.)
        clock.advance(Duration.ofMillis(5000).toNanos());
      }
    }));

    assertEquals(200, r.status());
    assertEquals("partial report", r.body());
    assertEquals(1, r.attempts());
    assertEquals(1, server.getRequestCount());
  }

  /** A listener that forces the host's breaker open while the retry waits (an operator would). */
  private CallListener breakerForcedOpenInTheBackoff() {
    return new CallListener() {
      @Override
      public void retryScheduled(CallContext call, Duration delay, String reason) {
        current.get().breaker(call.host()).forceOpen();
      }
    };
  }

  @Test
  void aSuccessWhoseRetryAnOpenBreakerRefusesIsTheAnswer() throws Exception {
    ApiResponse<String> r = call(b -> b.circuitBreaker(CircuitBreaker.defaults())
        .addListener(breakerForcedOpenInTheBackoff()));

    assertEquals(200, r.status());
    assertEquals("partial report", r.body());
    assertEquals(1, r.attempts());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aSuccessWhoseRetryWaitsForAnOpenBreakerPastTheDeadlineIsTheAnswer() throws Exception {
    ApiResponse<String> r = call(b -> b.circuitBreaker(CircuitBreaker.defaults())
        // Refused, retryable, and then the breaker's wait does not fit: the 2xx all the same.
        .retry(PENDING_RETRIED.retryWhenCircuitOpen(true).maxAttempts(3))
        .addListener(breakerForcedOpenInTheBackoff()));

    assertEquals(200, r.status());
    assertEquals("partial report", r.body());
    assertEquals(1, r.attempts());
    assertEquals(1, server.getRequestCount());
  }
}
