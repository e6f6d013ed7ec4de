package dev.outrigger.internal.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.LogCapture;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The throttle's DEBUG line follows the probability: a move of 0.1 or more since the last line
 * is logged, also when it comes in steps smaller than 0.1 each, as it does once the window
 * holds a few dozen requests (each answer then moves it by a few hundredths).
 */
class ThrottleDebugLineTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder().build();
  private final List<Double> reported = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void throttleProbability(String host, double p, long requests, long accepts) {
      reported.add(p);
    }
  };

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  @Test
  void aProbabilityClimbingInSmallStepsIsLoggedEveryTenthOfTheWay() {
    // Never refuses locally (nextDouble just under 1): every attempt reaches the server.
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), clock, () -> -1L);
    PolicyChain chain = new PolicyChain(
        List.of(t, new Transport(okhttp, null, 1 << 20, null, false, false)));
    for (int i = 0; i < 5; i++) {
      server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    }
    for (int i = 0; i < 50; i++) {
      server.enqueue(new MockResponse.Builder().code(503).body("busy").build());
    }
    List<String> lines;
    try (LogCapture logs = new LogCapture(ThrottleInterceptor.class.getName())) {
      for (int i = 0; i < 56; i++) {
        if (i == 55) {
          server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
        }
        ThrottleCalls.callAndClose(chain, server.url("/x"), clock, listener);
      }
      lines = logs.lines();
    }
    // 5 accepted then 50 refused: (55 - 2 x 5) / 56 = 0.80 at the last attempt, reached in
    // steps of 0.01 to 0.07 from 0.08 on.
    double last = reported.get(reported.size() - 1);
    assertEquals(45.0 / 56, last, 1e-9, reported.toString());
    assertTrue(lines.size() >= 2, lines.toString());
    String lastLine = lines.get(lines.size() - 1);
    double logged = Double.parseDouble(
        lastLine.substring(lastLine.indexOf("-> ") + 3, lastLine.indexOf(" (")));
    assertTrue(Math.abs(last - logged) < 0.1,
        "the probability is " + last + " but the last DEBUG line says " + lastLine
            + "; lines: " + lines);
  }
}
