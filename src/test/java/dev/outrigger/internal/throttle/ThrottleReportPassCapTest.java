package dev.outrigger.internal.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A thread reporting a host's probability stops after a few reports in a row and goes on with
 * its own attempt, even while other attempts' answers keep moving the probability as it
 * reports; the move it leaves is reported by the host's next attempt, so the last report still
 * carries the probability in place.
 */
class ThrottleReportPassCapTest {
  /** Moves the test makes while the first reporter reports: more than it may report in a row. */
  private static final int STORM = 12;

  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder().build();
  private final List<Double> reported = new CopyOnWriteArrayList<>();
  private final AtomicInteger reportsByFirst = new AtomicInteger();
  private final AtomicInteger moved = new AtomicInteger();
  private final AtomicReference<Throwable> failed = new AtomicReference<>();
  private volatile Thread first;
  private volatile PolicyChain chain;

  private final CallListener listener = new CallListener() {
    @Override
    public void throttleProbability(String host, double p, long requests, long accepts) {
      reported.add(p);
      if (Thread.currentThread() != first) {
        return;
      }
      reportsByFirst.incrementAndGet();
      if (moved.getAndIncrement() < STORM) {
        // Another attempt's rejection lands while this thread reports: the probability moves
        // on by more than 0.01, and that attempt leaves its report to this thread.
        Thread other = Thread.ofPlatform().start(() -> call(chain));
        try {
          other.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
        assertFalse(other.isAlive());
      }
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

  @Test
  void aReporterStopsAfterAFewReportsAndTheNextAttemptReportsWhatItLeft() throws Exception {
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), clock,
        new Random(42));
    chain = new PolicyChain(List.of(t, new Transport(okhttp, null, 1 << 20, null, false, false)));
    String host = server.url("/").host() + ":" + server.getPort();
    // 10 accepted, then 11 rejected: (21 - 2 * 10) / 22, the first probability above 0. Each
    // rejection after that moves it by more than 0.01 (until about 45 attempts).
    for (int i = 0; i < 10; i++) {
      server.enqueue(new MockResponse.Builder().code(200).body("b").build());
    }
    for (int i = 0; i < 100; i++) {
      server.enqueue(new MockResponse.Builder().code(503).body("b").build());
    }
    for (int i = 0; i < 21; i++) {
      call(chain);
    }
    first = Thread.ofPlatform().unstarted(() -> {
      try {
        call(chain);
      } catch (Throwable e) {
        failed.set(e);
      }
    });
    first.start();
    first.join(TimeUnit.SECONDS.toMillis(30));
    assertFalse(first.isAlive());
    assertNull(failed.get());
    assertTrue(reportsByFirst.get() <= ThrottleInterceptor.MAX_REPORTS_IN_A_ROW,
        "one thread reported " + reportsByFirst.get() + " moves in a row: " + reported);
    // What it left is reported by the host's next attempt.
    double inPlace = t.probability(host);
    call(chain);
    assertEquals(inPlace, reported.get(reported.size() - 1), 0.0,
        "the probability in place was not reported: " + reported);
  }
}
