package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import dev.outrigger.Auth;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.internal.http.AuthInterceptors;
import java.time.Duration;
import java.util.List;
import mockwebserver3.MockWebServer;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/**
 * What runs between an attempt's slot and its send (here the {@link Auth} hook, fetching a
 * token) is not the host's latency. The adaptive limiter, the auth stamp and the client's
 * transport against MockWebServer, on a clock that moves only when the hook or the server moves
 * it: the server takes 20 ms of it per answer, the hook as long as the test says.
 */
class AuthTimeNotLatencyTest extends LimiterOverServerTest {
  /** How much of the clock the next token fetch takes. */
  private volatile long tokenNanos;
  private final Auth auth = refresh -> {
    clock.advance(tokenNanos);
    return "Bearer t0ken-value";
  };
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);

  @Override
  List<CallInterceptor> policies() {
    return List.of(limiter, AuthInterceptors.stamp(new AuthInterceptors.Refresher(auth), null));
  }

  @Test
  void aTokenFetchedByTheAuthHookIsNotTimedAsTheHostsLatency() {
    tokenNanos = 10_000 * MS;
    try (Response r = call("/x", Duration.ofMinutes(1))) {
      assertEquals(200, r.code());
    }
    assertEquals(20 * MS, limiter.noLoadRttNanos(host()),
        "the host took 20 ms, the token fetch before it 10 s");
  }

  @Test
  void aDeadlineTheAuthHookSpentIsNotADropOfTheHost() {
    try (Response r = call("/x", Duration.ofMinutes(1))) {
      assertEquals(200, r.code());
    }
    assertEquals(20 * MS, limiter.noLoadRttNanos(host()));
    // The token fetch leaves 30 ms of the minute when the request goes out: less than twice the
    // host's 20 ms, so the deadline's cut is the caller's hurry, not the host's slowness.
    tokenNanos = 60_000 * MS - 30 * MS;
    assertThrows(DeadlineExceededException.class, () -> call("/hang", Duration.ofMinutes(1)));
    assertEquals(20, limiter.limit(host()), "the limit was cut");
  }
}
