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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A thread that has reported a key's limit and let the flag go (Y) must not remove a state it
 * saw in use under the flag and finds retired only afterwards: the thread that retired it (X)
 * may have taken the free flag and be reporting its return to the initial limit. Removed then,
 * a state made afresh for the key's next call, with reports of its own, reported its cut while
 * X's report still ran: the listener heard "20->10" before "10->20", and a gauge fed by it ended
 * at 20 with the limit at 10. The test holds Y between letting the flag go and its look at the
 * state (the limiter's {@code afterReportReleased} hook) while X drops the state.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RetiredAfterReleaseTest extends LimiterOverServerTest {
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);
  private final List<String> reports = new CopyOnWriteArrayList<>();
  private volatile String dwellOn;
  private final AtomicBoolean armed = new AtomicBoolean();
  private volatile CountDownLatch dwelling;
  private volatile CountDownLatch finish;
  private final CallListener listener = new CallListener() {
    @Override
    public void adaptiveLimitChanged(String host, int from, int to) {
      String report = host.substring(0, host.indexOf(':')) + " " + from + "->" + to;
      if (report.equals(dwellOn) && armed.compareAndSet(true, false)) {
        CountDownLatch f = finish;
        dwelling.countDown();
        await(f);
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
    clock.advanceMillis(1); // each host's use dated after the last
    try (Response r = call(url(host, path), Duration.ofMinutes(1))) {
      return r.code();
    }
  }

  /** The listener's next report {@code report} dwells until {@link #finish} is counted down. */
  private CountDownLatch dwellOn(String report) {
    dwelling = new CountDownLatch(1);
    finish = new CountDownLatch(1);
    dwellOn = report;
    armed.set(true);
    return finish;
  }

  private static void await(CountDownLatch latch) {
    try {
      assertTrue(latch.await(30, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private String api() {
    return "api.test:" + server.getPort();
  }

  @Test
  void aStateRetiredAfterTheFlagWentIsNotRemovedWhileItsReturnIsReported() throws Exception {
    assertEquals(503, call("api.test", "/drop")); // api's first state: 20 -> 10
    for (int i = 0; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    // Y's call drops api's first state and reports its return, 10 -> 20, dwelling there.
    CountDownLatch finishY = dwellOn("api.test 10->20");
    Thread y = Thread.ofPlatform().name("Y").start(() -> assertEquals(200, call("last.test", "/")));
    await(dwelling);
    // A successor, cut to 10: its report is left to Y, which holds the flag.
    assertEquals(503, call("api.test", "/drop"));
    assertEquals(10, limiter.limit(api()));

    // Y reports the successor's cut, lets the flag go, and is held before it looks again.
    AtomicInteger releasesByY = new AtomicInteger();
    CountDownLatch yHeld = new CountDownLatch(1);
    CountDownLatch resumeY = new CountDownLatch(1);
    limiter.afterReportReleased = () -> {
      if (Thread.currentThread() == y && releasesByY.incrementAndGet() == 2) {
        yHeld.countDown();
        await(resumeY);
      }
    };
    finishY.countDown();
    await(yHeld);
    assertEquals(List.of("api.test 20->10", "api.test 10->20", "api.test 20->10"), reports);

    // The successor becomes the host idle the longest and X's call drops it: X takes the free
    // flag and reports its return, 10 -> 20, dwelling there.
    for (int i = 1; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    assertEquals(200, call("last.test", "/"));
    CountDownLatch finishX = dwellOn("api.test 10->20");
    Thread x = Thread.ofPlatform().name("X").start(() -> assertEquals(200, call("next.test", "/")));
    await(dwelling);
    resumeY.countDown(); // Y finds the successor retired now: X's to remove, not Y's
    y.join();

    // api's next call: its state reports after X's report, through the same reports.
    assertEquals(503, call("api.test", "/drop"));
    assertEquals(10, limiter.limit(api()));
    finishX.countDown();
    x.join();
    assertEquals(List.of("api.test 20->10", "api.test 10->20", "api.test 20->10",
        "api.test 10->20", "api.test 20->10"), reports,
        "in order, the last report carrying the limit in place");
  }

  /**
   * The other way round: the state is retired while Y holds the flag, reporting that state's
   * cut, so X leaves its report to Y. Y, finding it retired once it lets go, reports its return
   * and removes it: no retired state stays in the map.
   */
  @Test
  void aStateRetiredWhileItsCutIsReportedIsReportedAndRemovedByTheReporter() throws Exception {
    assertEquals(503, call("api.test", "/drop")); // api's first state: 20 -> 10
    for (int i = 0; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    CountDownLatch finishY = dwellOn("api.test 10->20");
    Thread y = Thread.ofPlatform().name("Y").start(() -> assertEquals(200, call("last.test", "/")));
    await(dwelling);
    assertEquals(503, call("api.test", "/drop")); // a successor, cut to 10, left to Y
    // Y goes on to report the successor's cut, and dwells there, holding the flag.
    CountDownLatch dwellingOnCut = new CountDownLatch(1);
    CountDownLatch finishCut = new CountDownLatch(1);
    dwelling = dwellingOnCut;
    finish = finishCut;
    dwellOn = "api.test 20->10";
    armed.set(true);
    finishY.countDown();
    await(dwellingOnCut);

    // X drops the successor while Y still reports its cut: X cannot take the flag.
    for (int i = 1; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    assertEquals(200, call("last.test", "/"));
    assertEquals(200, call("next.test", "/"));
    assertEquals(20, limiter.limit(api()), "the successor was dropped");
    int tracked = limiter.hostsTracked();

    finishCut.countDown();
    y.join();
    assertEquals(List.of("api.test 20->10", "api.test 10->20", "api.test 20->10",
        "api.test 10->20"), reports, "Y reported the successor's return too");
    assertEquals(tracked - 1, limiter.hostsTracked(), "and removed the retired successor");
  }
}
