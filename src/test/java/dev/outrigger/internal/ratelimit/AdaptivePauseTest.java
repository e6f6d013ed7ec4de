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

/** A server pause on an adaptive limit, through a real chain over a real socket. */
class AdaptivePauseTest {
  private static final long S = 1_000_000_000L;

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final long start = clock.nanoTime();
  private final OkHttpClient client = new OkHttpClient.Builder().build();

  @AfterEach
  void close() {
    client.connectionPool().evictAll();
    client.dispatcher().executorService().shutdown();
  }

  private Response call(RateLimitInterceptor rl) {
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(Duration.ofSeconds(5), clock::nanoTime), true, clock, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    return MiniChain.run(client, List.of(MiniChain.retry(1), rl), ctx,
        new Request.Builder().url(server.url("/x")).build());
  }

  @Test
  void aRetryAfterOf60sOnAnAdaptiveLimitPausesTheKeyFor60sNotLonger() {
    RateLimitInterceptor rl = new RateLimitInterceptor(
        RateLimit.perSecond(10).burst(10).adaptive(), clock,
        () -> 1_750_000_000_000L + (clock.nanoTime() - start) / 1_000_000);
    server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "60").build());
    try (Response r = call(rl)) {
      assertEquals(429, r.code());
    }
    clock.advance(61 * S);   // the server's pause is over, and a second more
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    // The adaptive cut on the 429 stretched the pause: a RateLimitedException, the wait
    // (~24.7 s) not fitting the 5 s deadline.
    try (Response r = call(rl)) {
      assertEquals(200, r.code());
    }
  }
}
