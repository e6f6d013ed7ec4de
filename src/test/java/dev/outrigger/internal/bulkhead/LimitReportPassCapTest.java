package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A thread reporting a host's adaptive limit stops after
 * {@value InFlightLimiter#MAX_REPORTS_IN_A_ROW} reports in a row, even while other attempts
 * keep cutting the limit as it reports; the change it leaves is reported at the end of the
 * host's next attempt, so the last report still carries the limit in place. Before, the thread
 * reported for as long as other calls kept changing the limit, its own call held there.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class LimitReportPassCapTest extends LimiterOverServerTest {
  /** Changes the test makes while the first reporter reports: more than it may report in a row. */
  private static final int STORM = 12;

  // Each drop cuts the limit by a tenth: a dozen cuts all move it.
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(1).initial(1000).max(1024).backoffRatio(0.9), clock);
  private final List<int[]> reports = new CopyOnWriteArrayList<>();
  private final AtomicInteger reportsByFirst = new AtomicInteger();
  private final AtomicInteger cuts = new AtomicInteger();
  private volatile Thread first;

  private final CallListener listener = new CallListener() {
    @Override
    public void adaptiveLimitChanged(String host, int from, int to) {
      reports.add(new int[] {from, to});
      if (Thread.currentThread() != first) {
        return;
      }
      reportsByFirst.incrementAndGet();
      if (cuts.getAndIncrement() < STORM) {
        // Another call's drop lands while this thread reports: the limit moves on, and that
        // call, finding the reports taken, leaves its change to this thread.
        Thread other = Thread.ofVirtual().start(() -> assertEquals(503, call("/drop")));
        try {
          other.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
        assertFalse(other.isAlive(), "the other call ended");
      }
    }
  };

  @Override
  List<CallInterceptor> policies() {
    return List.of(limiter);
  }

  @Override
  CallListener listener() {
    return listener;
  }

  private int call(String path) {
    clock.advanceMillis(1); // sent after the cut before, which it cuts again
    try (Response r = call(url("api.test", path), Duration.ofMinutes(1))) {
      return r.code();
    }
  }

  private String described() {
    StringBuilder b = new StringBuilder();
    for (int[] r : reports) {
      b.append(r[0]).append("->").append(r[1]).append(' ');
    }
    return b.toString();
  }

  @Test
  void aReporterStopsAfterAFewReportsAndTheNextAttemptReportsWhatItLeft() throws Exception {
    String key = "api.test:" + server.getPort();
    AtomicReference<Throwable> failed = new AtomicReference<>();
    first = Thread.ofVirtual().unstarted(() -> {
      try {
        assertEquals(503, call("/drop"));
      } catch (Throwable e) {
        failed.set(e);
      }
    });
    first.start();
    first.join(TimeUnit.SECONDS.toMillis(30));
    assertFalse(first.isAlive());
    assertNull(failed.get());
    assertEquals(InFlightLimiter.MAX_REPORTS_IN_A_ROW, reportsByFirst.get(),
        "reports made in a row by one thread: " + described());
    assertEquals(InFlightLimiter.MAX_REPORTS_IN_A_ROW, cuts.get(), "a cut during each report");
    // Its own cut and the next three; the fourth other call's cut is left unreported.
    int inPlace = limiter.limit(key);
    int[] last = reports.get(reports.size() - 1);
    assertEquals(InFlightLimiter.MAX_REPORTS_IN_A_ROW, reports.size(), described());
    assertEquals(true, last[1] != inPlace, "a change was left: " + described());

    // The host's next attempt (a 200 with few in flight, which moves nothing) reports it.
    assertEquals(200, call("/"));
    assertEquals(inPlace, limiter.limit(key));
    assertEquals(InFlightLimiter.MAX_REPORTS_IN_A_ROW + 1, reports.size(), described());
    int from = 1000;
    for (int[] r : reports) {
      assertEquals(from, r[0], "each report from the last one's limit: " + described());
      from = r[1];
    }
    assertEquals(inPlace, from, "the last report carries the limit in place: " + described());
  }
}
