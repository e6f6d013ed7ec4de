package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
 * The adaptive rate's key bound is the limiter's {@code maxKeys} as it is now: a
 * {@code reconfigure} that changes it changes how many keys may adapt, as it changes how many
 * keys have a bucket of their own.
 */
class AdaptiveKeyBoundTest {
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

  private static RateLimit limit(int maxKeys) {
    return RateLimit.perSecond(10).keyedBy(c -> (String) c.attribute("tenant")).maxKeys(maxKeys)
        .adaptive();
  }

  /** One call of {@code tenant} that the server answers with a 429. */
  private void throttle(RateLimitInterceptor rl, String tenant) {
    server.enqueue(new MockResponse.Builder().code(429).build());
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(Duration.ofSeconds(5), clock::nanoTime), true, clock, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    ctx.attribute("tenant", tenant);
    try (Response r = MiniChain.run(client, List.of(MiniChain.retry(1), rl), ctx,
        new Request.Builder().url(server.url("/x")).build())) {
      assertEquals(429, r.code());
    }
  }

  @Test
  void aReconfiguredKeyBoundLetsMoreKeysAdapt() {
    RateLimitInterceptor rl = new RateLimitInterceptor(limit(1), clock, () -> 0L);
    rl.limiter().reconfigure(limit(3));
    throttle(rl, "a");
    throttle(rl, "b");
    throttle(rl, "c");
    assertEquals(3, rl.engine().adaptedCount());
    assertEquals(7, rl.limiter().limit("c").permitsPerSecond(), 1e-9);
  }

  @Test
  void aReconfiguredKeyBoundLetsFewerNewKeysAdapt() {
    RateLimitInterceptor rl = new RateLimitInterceptor(limit(3), clock, () -> 0L);
    rl.limiter().reconfigure(limit(1));
    throttle(rl, "a");
    throttle(rl, "b");
    assertEquals(1, rl.engine().adaptedCount());
    assertEquals(10, rl.limiter().limit("b").permitsPerSecond(), 1e-9);
  }
}
