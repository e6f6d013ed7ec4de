package dev.outrigger.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * An attempt is timed from when it goes out, after the listeners' attemptStart, which runs on the
 * calling thread and may take any time (a listener blocked on an exporter): outrigger.attempts
 * ("attempts sent to the network") and attemptEnd's elapsed leave that time out, as the JFR
 * Attempt event does, and so do the policies that time the attempt (the breaker's slow-call
 * duration here; the adaptive limit's latency and the throttle's fastest answer read the same
 * date). The same attempt must not be 0 ms in the metrics and a 2 s slow call in the breaker.
 */
class AttemptTimeAgreesWithBreakerTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aSlowAttemptStartIsNeitherNetworkTimeInTheMetricsNorASlowCallInTheBreaker() {
    FakeClock time = new FakeClock();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    CircuitBreaker breaker = CircuitBreaker.builder().slowCallDuration(Duration.ofMillis(500))
        .build();
    try (ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), time)
        .baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(10))
        .retry(Retry.none())
        .circuitBreaker(breaker)
        .addListener(new CallListener() {
          @Override
          public void attemptStart(CallContext call) {
            time.advanceMillis(2_000); // a listener that blocked, say on an exporter
          }
        })
        .addListener(OutriggerMetrics.of(registry))
        .build()) {
      client.get("/a").execute(String.class);
      Timer attempts = registry.find("outrigger.attempts").timer();
      assertEquals(1, attempts.count());
      assertEquals(0, attempts.totalTime(TimeUnit.MILLISECONDS), 1.0,
          "outrigger.attempts: the attempt took no time on the network");
      CircuitBreaker.Snapshot s =
          client.breaker(server.getHostName() + ":" + server.getPort()).snapshot();
      assertEquals(1, s.calls());
      assertEquals(0, s.slowCalls(), "the breaker counted the listener's attemptStart as a "
          + "2 s slow call, which outrigger.attempts times as 0 ms: " + s);
    }
  }
}
