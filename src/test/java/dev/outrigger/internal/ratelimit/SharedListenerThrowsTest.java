package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
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
 * A listener that throws, heard by the shared rate-limit step as by the local one: what it
 * throws is logged as a WARN and ignored. The shared step let a throw from rateLimitWaited
 * break the call, and swallowed one from rateLimitPaused without a word.
 */
class SharedListenerThrowsTest {
  private static final long WAIT = 100_000_000L;

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient client = new OkHttpClient.Builder().build();

  /** Every reservation waits {@link #WAIT}; every pause grows. */
  private final RateLimitStore store = new RateLimitStore() {
    @Override
    public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
      return WAIT;
    }

    @Override
    public long pause(String key, RateLimit limit, long pauseNanos) {
      return pauseNanos;
    }
  };

  private final CallListener throwing = new CallListener() {
    @Override
    public void rateLimitWaited(CallContext call, String key, Duration waited) {
      throw new IllegalStateException("waited listener broke");
    }

    @Override
    public void rateLimitPaused(CallContext call, String key, Duration pause) {
      throw new IllegalStateException("paused listener broke");
    }
  };

  @AfterEach
  void noConnectionLeaked() {
    client.connectionPool().evictAll();
    assertEquals(0, client.connectionPool().connectionCount());
    client.dispatcher().executorService().shutdown();
  }

  @Test
  void aThrowingListenerIsLoggedAndIgnoredAsByTheLocalStep() {
    SharedRateLimitInterceptor shared =
        new SharedRateLimitInterceptor(RateLimit.perSecond(10).burst(1), store, clock);
    server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "2").build());
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(Duration.ofSeconds(5), clock::nanoTime), true, clock, throwing,
        new Redactor(Set.of(), Set.of()));

    try (LogCapture logs = new LogCapture();
        Response r = MiniChain.run(client, List.of(MiniChain.retry(1), shared), ctx,
            new Request.Builder().url(server.url("/x")).build())) {
      assertEquals(429, r.code());
      assertEquals(List.of(WAIT), clock.sleeps());
      assertEquals(1, logs.count("WARN", "CallListener threw; ignored waited listener broke"),
          logs.all());
      assertEquals(1, logs.count("WARN", "CallListener threw; ignored paused listener broke"),
          logs.all());
    }
    assertEquals(1, server.getRequestCount());
  }
}
