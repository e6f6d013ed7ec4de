package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import java.time.Duration;
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

/**
 * GitHub's secondary rate limits answer 403 with {@code Retry-After}, and say not to send again
 * before it: such a 403 pauses the key as a 429 does; a 403 without it is a plain refusal.
 */
class ForbiddenRetryAfterTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient client = new OkHttpClient.Builder().build();
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
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
    return new RateLimitInterceptor(limit, clock, () -> 1_750_000_000_000L);
  }

  private Response call(RateLimitInterceptor rl, Duration deadline) {
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(deadline, clock::nanoTime), true, clock, listener,
        new Redactor(Set.of(), Set.of()));
    return MiniChain.run(client, List.of(MiniChain.retry(1), rl), ctx,
        new Request.Builder().url(server.url("/x")).build());
  }

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
