package dev.outrigger.internal.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiException;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.Deadline;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Jitter;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.breaker.BreakerInterceptor;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import dev.outrigger.internal.ratelimit.RateLimitInterceptor;
import dev.outrigger.internal.throttle.ThrottleInterceptor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A retry refused before it reaches the network gives its share of the retry budget back; a
 * retry that was sent keeps it. The retry policy in a small real chain (retry, the refusing
 * policy, the client's transport) against MockWebServer, on a clock moved by hand.
 */
class RefusedRetryRefundTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder()
      .build();
  /**
   * Two attempts, 1 ms apart; a budget of the floor alone, 10 retries (10 a second over 1 s),
   * which a clock moved only by the backoffs barely refills.
   */
  private final RetryInterceptor retry = new RetryInterceptor(
      Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1)).jitter(Jitter.NONE)
          .maxAttempts(2).budget(0, Duration.ofSeconds(1), 10),
      clock);

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  private String host() {
    return RealCallContext.hostKey(server.url("/x"));
  }

  private <T extends ApiException> T call(Class<T> expected, CallInterceptor... between) {
    List<CallInterceptor> list = new ArrayList<>();
    list.add(retry);
    list.addAll(List.of(between));
    list.add(new Transport(okhttp, null, 1 << 20, null, false, false));
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(Duration.ofMillis(500), clock::nanoTime), true, clock, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    return assertThrows(expected, () -> new PolicyChain(list)
        .proceed(ctx, new Request.Builder().url(server.url("/x")).build()));
  }

  private void enqueue503(int times) {
    for (int i = 0; i < times; i++) {
      server.enqueue(new MockResponse.Builder().code(503).body("busy").build());
    }
  }

  /**
   * A call whose retry is sent keeps its share; then a call whose first attempt gets a 503 and
   * whose retry {@code refusing} turns down locally gives its share back.
   */
  private void refusedRetryIsRefunded(
      Class<? extends ApiException> refusal, CallInterceptor refusing) {
    enqueue503(2);
    call(HttpStatusException.class);
    assertEquals(2, server.getRequestCount());
    assertEquals(9, retry.budget().available(host()), 1e-9, "the sent retry keeps its share");

    enqueue503(1);
    ApiException e = call(refusal, refusing);
    assertEquals(3, server.getRequestCount(), "the retry never left");
    assertEquals(1, e.attempts());
    assertEquals(9, retry.budget().available(host()), 1e-9,
        "the refused retry's share went back: " + e.getMessage());
  }

  @Test
  void aRetryTheClientSideThrottleRefusesGivesItsShareBack() {
    // K = 1 and a random source that always draws 0: after one 503 (probability 1/2), every
    // attempt is refused; the first attempt, at probability 0, is sent.
    refusedRetryIsRefunded(RateLimitedException.class,
        new ThrottleInterceptor(1, Duration.ofMinutes(2), clock, () -> 0L));
  }

  @Test
  void aRetryAnOpenBreakerRefusesGivesItsShareBack() {
    // One failure in a window of one opens the breaker.
    refusedRetryIsRefunded(CircuitOpenException.class, new BreakerInterceptor(
        CircuitBreaker.builder().slidingWindowSize(1).minimumNumberOfCalls(1)
            .failureRateThreshold(0.5).build(),
        clock, CallListener.NONE));
  }

  @Test
  void aRetryTheRateLimitRefusesGivesItsShareBack() {
    // The first attempt takes the only permit; the next comes a second later, past the
    // deadline's 500 ms: the call ends with the 503 it was retrying, saying why it stopped.
    refusedRetryIsRefunded(HttpStatusException.class,
        new RateLimitInterceptor(RateLimit.perSecond(1), clock));
  }
}
