package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A host whose long attempt ended a moment ago is not the host idle the longest. Its last use
 * was dated at the attempt's start, so once more than 64 hosts were idle, the next call's end to
 * any other host dropped its learnt limit, while hosts idle for far longer kept theirs. The
 * adaptive limiter and the client's transport against MockWebServer, every host name resolved
 * to the loopback address, on a clock moved by hand.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class LongAttemptHostKeptTest extends LimiterOverServerTest {
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);

  @Override
  List<CallInterceptor> policies() {
    return List.of(limiter);
  }

  private int call(String host, String path) {
    try (Response r = call(url(host, path), Duration.ofMinutes(10))) {
      return r.code();
    }
  }

  @Test
  void aHostWhoseLongAttemptJustEndedKeepsItsLimitOverHostsIdleForLonger() throws Exception {
    CountDownLatch longArrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        String path = request.getUrl().encodedPath();
        if (path.equals("/long")) {
          longArrived.countDown();
          release.await(30, TimeUnit.SECONDS);
        }
        return new MockResponse.Builder().code(path.equals("/drop") ? 503 : 200).build();
      }
    });
    String slow = "slow.test:" + server.getPort();
    assertEquals(503, call("slow.test", "/drop"));
    assertEquals(10, limiter.limit(slow), "slow's learnt limit");

    // A long attempt to slow; while it runs, 64 other hosts are used once each.
    clock.advanceMillis(1);
    Thread longCall = Thread.ofVirtual().start(() -> assertEquals(200, call("slow.test", "/long")));
    assertEquals(true, longArrived.await(30, TimeUnit.SECONDS));
    for (int i = 0; i < InFlightLimiter.IDLE_HOSTS_KEPT; i++) {
      clock.advanceMillis(1);
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    clock.advanceMillis(1000);
    release.countDown();
    longCall.join();
    // 65 idle: h0, idle the longest, went.
    assertEquals(InFlightLimiter.IDLE_HOSTS_KEPT, limiter.hostsTracked());
    assertEquals(10, limiter.limit(slow));

    // A new host's call ends: 65 idle again, and h1 (idle 1 s) goes, not slow (idle 1 ms).
    clock.advanceMillis(1);
    assertEquals(200, call("new.test", "/"));
    assertEquals(InFlightLimiter.IDLE_HOSTS_KEPT, limiter.hostsTracked());
    assertEquals(10, limiter.limit(slow), "slow kept its learnt limit");
  }
}
