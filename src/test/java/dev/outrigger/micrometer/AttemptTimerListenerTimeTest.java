package dev.outrigger.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
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
 * outrigger.attempts times "attempts sent to the network". A listener's attemptStart runs on the
 * calling thread before the request goes out; its time is not the attempt's time on the network
 * (the JFR Attempt event, begun after the user's listeners, leaves it out), yet the timer counts
 * it: Transport reads the attempt's start before calling attemptStart.
 */
class AttemptTimerListenerTimeTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void theAttemptsTimerDoesNotCountAListenersAttemptStart() {
    FakeClock time = new FakeClock();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    try (ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), time)
        .baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(10))
        .retry(Retry.none())
        .addListener(new CallListener() {
          @Override
          public void attemptStart(CallContext call) {
            time.advanceMillis(2_000); // a listener that blocked, say on an exporter
          }
        })
        .addListener(OutriggerMetrics.of(registry))
        .build()) {
      client.get("/a").execute(String.class);
    }
    Timer attempts = registry.find("outrigger.attempts").timer();
    assertEquals(1, attempts.count());
    // The server answered at once (the fake clock moves only in the listener): the attempt's
    // time on the network is 0, not the listener's 2 s.
    assertEquals(0, attempts.totalTime(TimeUnit.MILLISECONDS), 1.0,
        "outrigger.attempts recorded the listener's attemptStart time as network time");
  }
}
