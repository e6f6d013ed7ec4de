package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.RateLimit;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An adaptive cut never makes a limit the bucket cannot hold. {@link RateLimit} refuses a rate
 * below one permit per 50 years, and a burst that takes longer to refill; an adapted rate (70%
 * of the ceiling at each cut, down to 1% of it) of a ceiling accepted at build can fall below
 * that, and must then stop at the slowest rate held, never throw from inside a call.
 */
class SlowCeilingAdaptTest {
  private static final long S = 1_000_000_000L;
  private static final double YEAR_NANOS = 365.25 * 86_400 * 1e9;
  /** One permit per 50 years: the slowest rate a RateLimit holds. */
  private static final double SLOWEST_PER_SECOND = 1e9 / (50 * YEAR_NANOS);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient client = new OkHttpClient.Builder().build();

  @AfterEach
  void noConnectionLeaked() {
    client.connectionPool().evictAll();
    assertEquals(0, client.connectionPool().connectionCount());
    client.dispatcher().executorService().shutdown();
  }

  @Test
  void aCutBelowTheSlowestRateHeldStopsThereInsteadOfFailingTheCall() {
    // One permit per 40 years, accepted at build; 70% of it is one per 57 years.
    RateLimit ceiling = RateLimit.per(1, Duration.ofDays(40 * 365)).adaptive();
    RateLimitInterceptor rl = new RateLimitInterceptor(ceiling, clock, () -> 0L);
    server.enqueue(new MockResponse.Builder().code(429).build());
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(Duration.ofSeconds(5), clock::nanoTime), true, clock, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    try (Response r = MiniChain.run(client, List.of(MiniChain.retry(1), rl), ctx,
        new Request.Builder().url(server.url("/x")).build())) {
      assertEquals(429, r.code());
    }
    String host = server.getHostName() + ":" + server.getPort();
    RateLimit adapted = rl.limiter().limit(host);
    assertEquals(SLOWEST_PER_SECOND, adapted.permitsPerSecond(), SLOWEST_PER_SECOND * 1e-9);
    assertEquals(1, adapted.burst());
  }

  @Test
  void anAdaptedRateBelowTheSlowestHeldIsHeldAtTheSlowest() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1), S);
    l.adapt("k", 1e-12, S);
    assertEquals(SLOWEST_PER_SECOND, l.limit("k").permitsPerSecond(), SLOWEST_PER_SECOND * 1e-9);
    // The rate is applied again under a new ceiling (one per 40 years): still the slowest.
    l.reconfigure("k", RateLimit.per(1, Duration.ofDays(40 * 365)), S);
    assertEquals(SLOWEST_PER_SECOND, l.limit("k").permitsPerSecond(), SLOWEST_PER_SECOND * 1e-9);
  }

  @Test
  void aCutCombinedOverrideKeepsEveryBurstWithinWhatABucketHolds() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(1), S);
    // Ten per 40 years with a burst of ten (40 years to refill), and one a second.
    RateLimit override = RateLimit.per(10, Duration.ofDays(40 * 365)).burst(10)
        .and(RateLimit.perSecond(1));
    l.reconfigure("k", override, S);
    double ceiling = override.permitsPerSecond();
    // 21%: 2.1 per 40 years, a permit every 19 years; a burst of ceil(2.1) = 3 would take 57.
    l.adapt("k", ceiling * 0.21, S);
    RateLimit slow = l.limit("k").bandwidths().get(0);
    assertEquals(2.1, slow.permits(), 1e-9);
    double refillNanos = slow.burst() * slow.period().toNanos() / slow.permits();
    assertTrue(refillNanos <= 50 * YEAR_NANOS, slow.toString());
    // And below one per 50 years in every band: each band at its slowest.
    l.adapt("k", ceiling * 1e-6, S);
    for (RateLimit b : l.limit("k").bandwidths()) {
      assertTrue(b.period().toNanos() / b.permits() <= 50 * YEAR_NANOS, b.toString());
    }
  }
}
