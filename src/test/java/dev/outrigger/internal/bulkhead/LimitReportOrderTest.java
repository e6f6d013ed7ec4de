package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Changes of one host's adaptive limit reach a listener in the order they happened, the last
 * report carrying the limit in place, however the threads that made them interleave. Drops from
 * MockWebServer, each test making a change while an earlier one is still being reported: a
 * listener (say, one that logs before it sets a gauge) still busy with the earlier change must
 * not hear of the later one before it has finished with the earlier.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class LimitReportOrderTest extends LimiterOverServerTest {
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);
  private final List<String> reports = new CopyOnWriteArrayList<>();
  /** The report the listener dwells on, once, until the test lets it finish. */
  private volatile String dwellOn;
  private final CountDownLatch dwelling = new CountDownLatch(1);
  private final CountDownLatch finish = new CountDownLatch(1);
  private final CallListener listener = new CallListener() {
    @Override
    public void adaptiveLimitChanged(String host, int from, int to) {
      String report = host.substring(0, host.indexOf(':')) + " " + from + "->" + to;
      if (report.equals(dwellOn) && dwelling.getCount() > 0) {
        dwelling.countDown();
        try {
          finish.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      reports.add(report);
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

  private int call(String host, String path) {
    clock.advanceMillis(1); // sent after the cut before; each host's use dated after the last
    try (Response r = call(url(host, path), Duration.ofMinutes(1))) {
      return r.code();
    }
  }

  private String api() {
    return "api.test:" + server.getPort();
  }

  @Test
  void aChangeMadeWhileAnEarlierOneIsReportedIsReportedAfterIt() throws Exception {
    dwellOn = "api.test 20->10";
    Thread first = Thread.ofVirtual().start(() -> assertEquals(503, call("api.test", "/drop")));
    assertTrue(dwelling.await(30, TimeUnit.SECONDS), "the first drop cut the limit");
    assertEquals(503, call("api.test", "/drop"));
    assertEquals(5, limiter.limit(api()), "two drops: 20 -> 10 -> 5");

    finish.countDown();
    first.join();
    assertEquals(List.of("api.test 20->10", "api.test 10->5"), reports,
        "in order, the last report carrying the limit in place");
  }

  @Test
  void aFreshStatesChangeIsReportedAfterTheDroppedStatesReturnToTheInitialLimit()
      throws Exception {
    assertEquals(503, call("api.test", "/drop"));
    // 63 other hosts used once: with api, 64 idle hosts.
    for (int i = 0; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    // One more host's call ends with 65 idle: api, idle the longest, loses its state, and the
    // listener dwells on that report while api is called again and cut at once.
    dwellOn = "api.test 10->20";
    Thread dropper = Thread.ofVirtual().start(() -> assertEquals(200, call("last.test", "/")));
    assertTrue(dwelling.await(30, TimeUnit.SECONDS), "api's state was dropped");
    assertEquals(503, call("api.test", "/drop"));
    assertEquals(10, limiter.limit(api()), "a fresh state, cut from 20 to 10");

    finish.countDown();
    dropper.join();
    assertEquals(List.of("api.test 20->10", "api.test 10->20", "api.test 20->10"), reports,
        "in order, the last report carrying the limit in place");
  }

  /**
   * While a report of api's dropped state dwells in the listener, api gets a successor state,
   * which is used, goes idle and is dropped in turn: that second drop must leave the successor
   * mapped for the dwelling thread to remove, or a third state made afresh would report its cut
   * before the dwelling report of the first drop is over.
   */
  @Test
  void aStateMadeAfterTheSuccessorIsDroppedReportsAfterTheFirstDropsReport() throws Exception {
    Thread dropper = dropApiWhileTheReportDwells();
    dropTheSuccessor();
    assertEquals(503, call("api.test", "/drop"));
    assertEquals(10, limiter.limit(api()), "a third state, cut from 20 to 10");

    finish.countDown();
    dropper.join();
    assertEquals(List.of("api.test 20->10", "api.test 10->20", "api.test 20->10"), reports,
        "in order, the last report carrying the limit in place");
  }

  /** The successor dropped while the report dwells is removed once the report is over. */
  @Test
  void aSuccessorDroppedWhileAReportDwellsLeavesTheMapWhenTheReportIsOver() throws Exception {
    Thread dropper = dropApiWhileTheReportDwells();
    dropTheSuccessor();
    int tracked = limiter.hostsTracked();

    finish.countDown();
    dropper.join();
    assertEquals(tracked - 1, limiter.hostsTracked(), "the retired successor left the map");
    assertEquals(List.of("api.test 20->10", "api.test 10->20"), reports,
        "the successor's cut, dropped with it, is never reported: the limit is the initial one");
    assertEquals(20, limiter.limit(api()));
  }

  /**
   * Cuts api's limit, then drops its state by using {@code IDLE_HOSTS_KEPT} other hosts; returns
   * the thread whose call dropped it, its report of api's return to 20 dwelling in the listener.
   */
  private Thread dropApiWhileTheReportDwells() throws InterruptedException {
    assertEquals(503, call("api.test", "/drop"));
    for (int i = 0; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    dwellOn = "api.test 10->20";
    Thread dropper = Thread.ofVirtual().start(() -> assertEquals(200, call("last.test", "/")));
    assertTrue(dwelling.await(30, TimeUnit.SECONDS), "api's state was dropped");
    return dropper;
  }

  /**
   * Gives api a successor state (cut to 10, its report left to the dwelling thread), then makes
   * it the host idle the longest and drops it with one more new host's call.
   */
  private void dropTheSuccessor() {
    assertEquals(503, call("api.test", "/drop")); // the successor: its report waits
    // h0 went to make room for the successor; every other host used after it.
    for (int i = 1; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    assertEquals(200, call("last.test", "/"));
    assertEquals(200, call("next.test", "/")); // 65 idle: api, idle the longest, goes again
    assertEquals(20, limiter.limit(api()), "the successor was dropped");
  }
}
