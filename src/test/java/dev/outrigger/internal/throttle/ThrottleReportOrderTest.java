package dev.outrigger.internal.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A host's rejection probability is reported in order, so the last report (and a gauge fed by
 * it) carries the probability in place, even when a report is slow to land: the listener's
 * first call waits, as a thread descheduled before its report would, while other attempts move
 * the probability on.
 */
class ThrottleReportOrderTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder().build();
  private final List<Double> reported = new CopyOnWriteArrayList<>();
  private final CountDownLatch firstReportEntered = new CountDownLatch(1);
  private final CountDownLatch firstReportGoesOn = new CountDownLatch(1);
  private final CallListener listener = new CallListener() {
    @Override
    public void throttleProbability(String host, double p, long requests, long accepts) {
      if (firstReportEntered.getCount() > 0) {
        firstReportEntered.countDown();
        try {
          assertTrue(firstReportGoesOn.await(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
      }
      reported.add(p);
    }
  };

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  private void call(PolicyChain chain) {
    ThrottleCalls.callAndClose(chain, server.url("/x"), clock, listener);
  }

  private void enqueue(int status, int times) {
    for (int i = 0; i < times; i++) {
      server.enqueue(new MockResponse.Builder().code(status).body("b").build());
    }
  }

  @Test
  void theLastReportCarriesTheProbabilityInPlaceWhenAnEarlierReportLandsLate() throws Exception {
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), clock,
        new Random(42));
    PolicyChain chain = new PolicyChain(
        List.of(t, new Transport(okhttp, null, 1 << 20, null, false, false)));
    String host = server.url("/").host() + ":" + server.getPort();
    // 10 accepted, then 11 rejected: (21 - 2 * 10) / 22, the first probability above 0.
    enqueue(200, 10);
    enqueue(503, 100);
    for (int i = 0; i < 21; i++) {
      call(chain);
    }
    // The next attempt finds it and reports it, slowly.
    AtomicReference<Throwable> failed = new AtomicReference<>();
    Thread slow = Thread.ofPlatform().start(() -> {
      try {
        call(chain);
      } catch (Throwable e) {
        failed.set(e);
      }
    });
    assertTrue(firstReportEntered.await(10, TimeUnit.SECONDS));
    // Meanwhile more rejections move it on by more than 0.01 each, and each is found.
    for (int i = 0; i < 3; i++) {
      call(chain);
    }
    // In place until the slow attempt's own answer, which comes after its report.
    double inPlace = t.probability(host);
    assertTrue(inPlace > 0.1, "moved on: " + inPlace);
    firstReportGoesOn.countDown();
    slow.join();
    assertEquals(null, failed.get());
    double last = reported.get(reported.size() - 1);
    assertTrue(Math.abs(last - inPlace) < 0.01,
        "last reported " + last + ", in place " + inPlace + "; reports " + reported);
  }
}
