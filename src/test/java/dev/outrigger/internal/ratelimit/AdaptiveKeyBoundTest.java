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
 * keys have a bucket of their own. And a key that went quiet does not hold its place for good.
 */
class AdaptiveKeyBoundTest {
  private static final long S = 1_000_000_000L;

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

  // A key cut by a throttle that is never called again (a tenant gone) has recovered along its
  // curve long since, though no answer came to say so: it must not hold its place among the
  // adapting keys for good, or once maxKeys such keys have gone quiet no new key ever
  // adapts again.
  @Test
  void aKeyThatWentQuietAfterItRecoveredMakesRoomForANewOne() {
    RateLimitInterceptor rl = new RateLimitInterceptor(limit(1), clock, () -> 0L);
    throttle(rl, "gone");
    assertEquals(7, rl.limiter().limit("gone").permitsPerSecond(), 1e-9);

    // An hour on, "gone" would be back at its ceiling (K is about 1.96 s at 10/s).
    clock.advance(3600 * S);
    throttle(rl, "new");
    assertEquals(7, rl.limiter().limit("new").permitsPerSecond(), 1e-9, "the new key adapts");
    assertEquals(10, rl.limiter().limit("gone").permitsPerSecond(), 1e-9,
        "the quiet key follows its ceiling again");
    assertEquals(1, rl.engine().adaptedCount());
  }

  @Test
  void aKeyStillRecoveringKeepsItsPlace() {
    RateLimitInterceptor rl = new RateLimitInterceptor(limit(1), clock, () -> 0L);
    throttle(rl, "a");
    // Half a second on, "a" is still well under its ceiling: it stays, the new key waits.
    clock.advance(S / 2);
    throttle(rl, "b");
    assertEquals(10, rl.limiter().limit("b").permitsPerSecond(), 1e-9);
    assertEquals(7, rl.limiter().limit("a").permitsPerSecond(), 1e-9);
    assertEquals(1, rl.engine().adaptedCount());
  }
}
