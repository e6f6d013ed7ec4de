package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import dev.outrigger.DeadlineExceededException;
import java.time.Duration;
import java.util.List;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/**
 * A host idle for two {@code rttWindow}s has no no-load latency any more: the one it had is no
 * reason to take a deadline's cut for its fault. The adaptive limiter and the client's transport
 * against MockWebServer, on a clock the server moves by 20 ms per answer and the test by hand.
 */
class IdleHostNoLoadLatencyTest extends LimiterOverServerTest {
  private final InFlightLimiter limiter = new InFlightLimiter(AdaptiveLimit.vegas().min(2)
      .initial(20).backoffRatio(0.5).rttWindow(Duration.ofSeconds(30)), clock);

  @Override
  List<CallInterceptor> policies() {
    return List.of(limiter);
  }

  @Test
  void aDeadlinesCutAfterTwoIdleWindowsIsNoDropOnTheLatencyOfBefore() {
    String host = host();
    try (Response r = call("/x", Duration.ofMinutes(1))) {
      assertEquals(200, r.code());
    }
    assertEquals(20 * MS, limiter.noLoadRttNanos(host));
    // Two windows and more without a call: the 20 ms are no longer "recent".
    clock.advance(61_000 * MS);
    // 100 ms is five times the old 20 ms, but nothing says what the host needs now.
    assertThrows(DeadlineExceededException.class, () -> call("/hang", Duration.ofMillis(100)));
    assertEquals(20, limiter.limit(host), "the limit was cut");
    assertEquals(-1, limiter.noLoadRttNanos(host));
  }

  @Test
  void aDeadlinesCutWithinTheWindowsIsStillADrop() {
    String host = host();
    try (Response r = call("/x", Duration.ofMinutes(1))) {
      assertEquals(200, r.code());
    }
    clock.advance(40_000 * MS); // one window on: the 20 ms are still the previous window's
    assertThrows(DeadlineExceededException.class, () -> call("/hang", Duration.ofMillis(100)));
    assertEquals(10, limiter.limit(host));
  }
}
