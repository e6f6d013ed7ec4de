package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The interceptor in a real chain over a real socket, with a fake clock for every wait. */
class RateLimitInterceptorTest {
  private static final long S = 1_000_000_000L;
  private static final long WALL = 1_750_000_000_000L;

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final long start = clock.nanoTime();
  private final OkHttpClient client = new OkHttpClient.Builder().build();
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void rateLimitWaited(CallContext call, String key, Duration waited) {
      events.add("waited " + key + " " + waited);
    }

    @Override
    public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
      events.add("rejected " + key + " " + wouldWait);
    }

    @Override
    public void rateLimitPaused(CallContext call, String key, Duration pause) {
      events.add("paused " + key + " " + pause);
    }
  };

  @AfterEach
  void noConnectionLeaked() {
    client.connectionPool().evictAll();
    assertEquals(0, client.connectionPool().connectionCount());
    client.dispatcher().executorService().shutdown();
  }

  private String host() {
    return server.getHostName() + ":" + server.getPort();
  }

  private RateLimitInterceptor interceptor(RateLimit limit) {
    // Wall time is WALL when the test starts and moves with the fake clock.
    return new RateLimitInterceptor(
        limit, clock, () -> WALL + (clock.nanoTime() - start) / 1_000_000);
  }

  private RealCallContext context(Duration deadline) {
    return new RealCallContext("GET", server.url("/x"), Deadline.after(deadline, clock::nanoTime),
        true, clock, listener, new Redactor(Set.of(), Set.of()));
  }

  private Response call(List<CallInterceptor> chain, RealCallContext ctx) {
    return MiniChain.run(client, chain, ctx, new Request.Builder().url(server.url("/x")).build());
  }

  private Response call(CallInterceptor rateLimit, Duration deadline) {
    return call(List.of(MiniChain.retry(1), rateLimit), context(deadline));
  }

  private static MockResponse ok() {
    return new MockResponse.Builder().code(200).body("ok").build();
  }

  @Test
  void everyAttemptTakesAPermitRetriesIncluded() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(1).burst(3));
    server.enqueue(new MockResponse.Builder().code(500).build());
    server.enqueue(new MockResponse.Builder().code(500).build());
    server.enqueue(ok());
    try (Response r = call(List.of(MiniChain.retry(3), rl), context(Duration.ofSeconds(5)))) {
      assertEquals(200, r.code());
    }
    assertEquals(3, server.getRequestCount());
    assertEquals(0, rl.limiter().availablePermits(host()));
  }

  @Test
  void aWaitThatFitsInTheDeadlineIsTakenAndReported() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(10).burst(1));
    server.enqueue(ok());
    server.enqueue(ok());
    call(rl, Duration.ofSeconds(1)).close();
    call(rl, Duration.ofSeconds(1)).close();
    assertEquals(List.of(100_000_000L), clock.sleeps());
    assertEquals(List.of("waited " + host() + " PT0.1S"), events);
    assertEquals(2, server.getRequestCount());
  }

  @Test
  void aWaitBeyondTheDeadlineFailsAtOnceConsumingNothing() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(1).burst(1));
    server.enqueue(ok());
    call(rl, Duration.ofSeconds(5)).close();
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> call(rl, Duration.ofMillis(500)));
    assertEquals(Duration.ofSeconds(1), e.wouldWait());
    assertEquals(0, e.attempts());
    assertTrue(e.getMessage().startsWith("GET " + server.url("/x")
        + " was refused by the rate limit RateLimit[1.0/s, burst 1] of " + host()
        + ": the wait for a permit (1000 ms) would not fit in the 500 ms left before the "
        + "deadline"),
        e.getMessage());
    assertEquals(List.of("rejected " + host() + " PT1S"), events);
    assertEquals(List.of(), clock.sleeps());
    assertEquals(0, rl.limiter().availablePermits(host()));
    assertEquals(1, server.getRequestCount());
  }

  /**
   * The refusal writes its wait and the time left as the deadline's messages do ("302 ms"), not
   * as a {@code Duration} ("the wait for a permit (PT0.095185103S) would not fit in the
   * PT0.001S left").
   */
  @Test
  void aRefusalSaysItsWaitAndTheTimeLeftInMilliseconds() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(10).burst(1));
    server.enqueue(ok());
    call(rl, Duration.ofSeconds(5)).close();
    clock.advance(4_814_897);
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> call(rl, Duration.ofMillis(1)));
    assertEquals(Duration.ofNanos(95_185_103), e.wouldWait());
    assertTrue(e.getMessage().endsWith(": the wait for a permit (95 ms) would not fit in the "
        + "1 ms left before the deadline"), e.getMessage());
  }

  /** A wait within the deadline refused for the 30-day cap on every wait says so. */
  @Test
  void aWaitRefusedForTheThirtyDayCapDoesNotBlameTheDeadline() {
    RateLimitInterceptor rl = interceptor(RateLimit.per(1, Duration.ofDays(365)).burst(1));
    server.enqueue(ok());
    call(rl, Duration.ofSeconds(5)).close();
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> call(rl, Duration.ofDays(400)));
    assertEquals(Duration.ofDays(365), e.wouldWait());
    assertTrue(e.getMessage().endsWith(": the wait for a permit (31536000 s) would be longer "
        + "than the longest wait a rate limit allows (30 days)"), e.getMessage());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aRejectedRetryCountsTheAttemptsAlreadySent() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(1).burst(1));
    server.enqueue(new MockResponse.Builder().code(500).build());
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> call(List.of(MiniChain.retry(3), rl), context(Duration.ofMillis(900))));
    assertEquals(1, e.attempts());
  }

  @Test
  void aRetryAfterOn429PausesTheHostForEveryCall() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).burst(10));
    server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "2").build());
    server.enqueue(ok());
    try (Response r = call(rl, Duration.ofSeconds(5))) {
      assertEquals(429, r.code());
    }
    assertEquals(List.of("paused " + host() + " PT2S"), events);
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> call(rl, Duration.ofSeconds(1)));
    assertEquals(Duration.ofSeconds(2), e.wouldWait());
    call(rl, Duration.ofSeconds(3)).close();
    assertEquals(List.of(2 * S), clock.sleeps());
    assertEquals(2, server.getRequestCount());
  }

  @Test
  void a503WithAnHttpDatePausesUntilThatDate() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).burst(10));
    String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(
        Instant.ofEpochMilli(WALL + 3000).atOffset(ZoneOffset.UTC));
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", date).build());
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(List.of("paused " + host() + " PT3S"), events);
  }

  @Test
  void aQuotaUsedUpPausesUntilItsResetEvenOnASuccess() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).burst(10));
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("RateLimit-Remaining", "0").addHeader("RateLimit-Reset", "4").build());
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("X-RateLimit-Remaining", "0")
        .addHeader("X-RateLimit-Reset", String.valueOf((WALL / 1000) + 20)).build());
    call(rl, Duration.ofSeconds(5)).close();
    assertFalse(rl.limiter().tryAcquire(host(), 1));
    call(rl, Duration.ofSeconds(5)).close();
    // Paused 4 s, then waited 4 s; the epoch-second reset is 20 s after the start, 16 s later.
    assertEquals(List.of("paused " + host() + " PT4S", "waited " + host() + " PT4S",
        "paused " + host() + " PT16S"), events);
  }

  @Test
  void aQuotaWithRemainingPermitsDoesNotPause() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).burst(10));
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("RateLimit-Remaining", "3").addHeader("RateLimit-Reset", "4").build());
    server.enqueue(new MockResponse.Builder().code(429).build());
    call(rl, Duration.ofSeconds(5)).close();
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(List.of(), events);
    assertTrue(rl.limiter().tryAcquire(host(), 1));
  }

  @Test
  void anAbsurdRetryAfterIsCutToTheMaximumPause() {
    RateLimitInterceptor rl = interceptor(
        RateLimit.perSecond(100).burst(10).maxPause(Duration.ofSeconds(5)));
    server.enqueue(new MockResponse.Builder().code(429)
        .addHeader("Retry-After", "999999999999999").build());
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(List.of("paused " + host() + " PT5S"), events);
  }

  @Test
  void aZeroMaximumPauseIgnoresTheServer() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).maxPause(Duration.ZERO));
    server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "5").build());
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(List.of(), events);
    assertTrue(rl.limiter().tryAcquire(host(), 1));
  }

  @Test
  void aKeyFunctionGivesEachTenantItsOwnBucketAndIsNotNamedInMessages() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(1).burst(1)
        .keyedBy(c -> (String) c.attribute("tenant")));
    server.enqueue(ok());
    server.enqueue(ok());
    RealCallContext a = context(Duration.ofMillis(100));
    a.attribute("tenant", "secret-token-a");
    call(List.of(MiniChain.retry(1), rl), a).close();
    RealCallContext b = context(Duration.ofMillis(100));
    b.attribute("tenant", "secret-token-b");
    call(List.of(MiniChain.retry(1), rl), b).close();
    RealCallContext again = context(Duration.ofMillis(100));
    again.attribute("tenant", "secret-token-a");
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> call(List.of(MiniChain.retry(1), rl), again));
    assertFalse(e.getMessage().contains("secret"), e.getMessage());
    assertEquals(List.of("rejected secret-token-a PT1S"), events);
    assertEquals(2, server.getRequestCount());
  }

  @Test
  void theLiveLimiterReconfiguresTheClientsBuckets() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(1).burst(1));
    server.enqueue(ok());
    server.enqueue(ok());
    call(rl, Duration.ofSeconds(5)).close();
    rl.limiter().reconfigure(RateLimit.perSecond(10).burst(1));
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(List.of(100_000_000L), clock.sleeps());
    assertTrue(rl.toString().startsWith("RateLimiter[RateLimit[10.0/s, burst 1], keyed by host"),
        rl.toString());
  }

  @Test
  void anAdaptiveRateFullyRecoveredReturnsToTheConfiguredLimitBurstIncluded() {
    RateLimit configured = RateLimit.per(600, Duration.ofMinutes(1)).burst(50).adaptive();
    RateLimitInterceptor rl = interceptor(configured);
    server.enqueue(new MockResponse.Builder().code(429).build());
    server.enqueue(ok());
    call(rl, Duration.ofSeconds(5)).close();
    // Cut to 70% of 10/s, with a burst to match.
    assertEquals(RateLimit.perSecond(7).burst(7), rl.limiter().limit(host()));
    // CUBIC is back at the configured rate about 2 s after the cut.
    clock.advance(5 * S);
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(configured, rl.limiter().limit(host()));
    // The permits held carry over (7 stored, 1 taken), and the bucket refills to 50 again.
    assertEquals(6, rl.limiter().availablePermits(host()));
    clock.advance(10 * S);
    assertEquals(50, rl.limiter().availablePermits(host()));
  }

  @Test
  void anAdaptiveRateCutsUnderAnOperatorsOverrideAndRecoversToItNotPastIt() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).burst(20).adaptive());
    RateLimit vip = RateLimit.perSecond(20).burst(5);
    rl.limiter().reconfigure(host(), vip);
    server.enqueue(new MockResponse.Builder().code(429).build());
    call(rl, Duration.ofSeconds(5)).close();
    // 70% of the operator's 20/s, not of the limiter's 100/s; the override itself is kept.
    assertEquals(RateLimit.perSecond(14).burst(5), rl.limiter().limit(host()));
    assertEquals(1, rl.engine().overrideCount());
    assertEquals(vip, rl.engine().ceiling(host()));
    // Recovered: back to the operator's override, which is still there.
    clock.advance(60 * S);
    server.enqueue(ok());
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(vip, rl.limiter().limit(host()));
    assertEquals(1, rl.engine().overrideCount());
    assertEquals(0, rl.engine().adaptedCount());
  }

  @Test
  void anOperatorsOverrideTakesEffectAtOnceUnderAnAdaptedRateAndItsRemovalRestoresIt() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).burst(20).adaptive());
    server.enqueue(new MockResponse.Builder().code(429).build());
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(RateLimit.perSecond(70).burst(20), rl.limiter().limit(host()));
    // The operator lowers the key below the adapted rate: capped at once, no answer needed.
    rl.limiter().reconfigure(host(), RateLimit.perSecond(10).burst(3));
    assertEquals(RateLimit.perSecond(10).burst(3), rl.limiter().limit(host()));
    // Raised above it: the adapted 70/s holds (the server throttled there), burst from the new.
    rl.limiter().reconfigure(host(), RateLimit.perSecond(500).burst(40));
    assertEquals(RateLimit.perSecond(70).burst(40), rl.limiter().limit(host()));
    // Removed: the adapted rate under the limiter's own limit again; nothing lost or lifted.
    rl.limiter().removeOverride(host());
    assertEquals(RateLimit.perSecond(70).burst(20), rl.limiter().limit(host()));
    assertEquals(1, rl.engine().adaptedCount());
  }

  @Test
  void anAdaptiveCutOfACombinedOverrideScalesEveryBandwidth() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).burst(20).adaptive());
    rl.limiter().reconfigure(host(), RateLimit.perSecond(10).burst(10)
        .and(RateLimit.per(1000, Duration.ofHours(1)).burst(1000)));
    server.enqueue(new MockResponse.Builder().code(503).build());
    call(rl, Duration.ofSeconds(5)).close();
    // The hourly band's 1000/h is the tighter long-run rate (0.28/s): the cut is 70% of each.
    List<RateLimit> bands = rl.limiter().limit(host()).bandwidths();
    assertEquals(2, bands.size());
    assertEquals(7, bands.get(0).permits(), 1e-9);
    assertEquals(Duration.ofSeconds(1), bands.get(0).period());
    assertEquals(7, bands.get(0).burst());
    assertEquals(700, bands.get(1).permits(), 1e-9);
    assertEquals(Duration.ofHours(1), bands.get(1).period());
    assertEquals(700, bands.get(1).burst());
  }

  @Test
  void anInterruptedWaitEndsTheCallAsCancelledAndKeepsTheInterrupt() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(1).burst(1));
    server.enqueue(ok());
    call(rl, Duration.ofSeconds(5)).close();
    Thread.currentThread().interrupt();
    try {
      TransportException e = assertThrows(TransportException.class,
          () -> call(rl, Duration.ofSeconds(5)));
      assertEquals(TransportException.Kind.CANCELLED, e.kind());
      assertTrue(Thread.currentThread().isInterrupted());
    } finally {
      Thread.interrupted();
    }
    assertEquals(0, rl.limiter().availablePermits(host()));
  }

  // GitHub's secondary rate limits answer 403 with Retry-After, and say not to send again before
  // it: such a 403 pauses the key as a 429 does; a 403 without it is a plain refusal.

  private static MockResponse forbidden(String retryAfter) {
    MockResponse.Builder b = new MockResponse.Builder().code(403).body("slow down");
    return (retryAfter == null ? b : b.addHeader("Retry-After", retryAfter)).build();
  }

  @Test
  void a403PausesTheKeyOnlyWithRetryAfter() {
    RateLimitInterceptor rl = interceptor(RateLimit.perSecond(100).burst(10));
    server.enqueue(forbidden(null));
    server.enqueue(forbidden("2"));
    server.enqueue(new MockResponse.Builder().code(200).build());
    // Without Retry-After, a refusal: the next call goes at once.
    try (Response r = call(rl, Duration.ofSeconds(5))) {
      assertEquals(403, r.code());
    }
    assertEquals(List.of(), events);
    try (Response r = call(rl, Duration.ofSeconds(5))) {
      assertEquals(403, r.code());
    }
    assertEquals(List.of(), clock.sleeps());
    // With it, nothing is sent to the key until then.
    assertEquals(List.of("paused " + host() + " PT2S"), events);
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> call(rl, Duration.ofSeconds(1)));
    assertEquals(Duration.ofSeconds(2), e.wouldWait());
    call(rl, Duration.ofSeconds(3)).close();
    assertEquals(List.of(2_000_000_000L), clock.sleeps());
    assertEquals(3, server.getRequestCount());
  }

  @Test
  void a403CutsAnAdaptiveRateOnlyWithRetryAfterAsA429Does() {
    RateLimit configured = RateLimit.perSecond(10).burst(10).adaptive();
    RateLimitInterceptor rl = interceptor(configured);
    server.enqueue(forbidden(null));
    call(rl, Duration.ofSeconds(5)).close();
    assertEquals(configured, rl.limiter().limit(host()));
    server.enqueue(forbidden("1"));
    call(rl, Duration.ofSeconds(5)).close();
    // 70% of 10/s, with a burst to match.
    assertEquals(RateLimit.perSecond(7).burst(7), rl.limiter().limit(host()));
    // Once the key adapts, a second such 403 cuts again: it never counts as an answer that
    // lets the rate recover.
    clock.advance(1_000_000_000L);
    server.enqueue(forbidden("1"));
    call(rl, Duration.ofSeconds(5)).close();
    assertTrue(rl.limiter().limit(host()).permits() < 7, rl.limiter().limit(host())::toString);
  }
}
