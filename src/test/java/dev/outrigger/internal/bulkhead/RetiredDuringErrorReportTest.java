package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A listener's Error must not leave a retired state in the map for ever.
 *
 * <p>X drops api's first state h1 and reports its return (10 -> 20), holding the flag. While
 * that report runs, api's next call puts a successor h2 in h1's place (its cut 20 -> 10 is left
 * to X), and h2 goes idle and is dropped in turn: the dropper cannot take the flag, so h2's
 * report and its removal are X's. Without an Error, X looks again once it lets go, reports h2
 * and removes it (the control test). With an Error from X's listener, X reports no more, but
 * still removes h2 (under the flag) before it passes the Error on; a first version removed only
 * the state X had read under the flag (h1, already replaced), and h2 stayed, retired, for ever
 * (a scan never takes a retired state; only a new call to the same host replaces it).
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RetiredDuringErrorReportTest extends LimiterOverServerTest {
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);
  private final List<String> reports = new CopyOnWriteArrayList<>();
  private volatile String dwellOn;
  private volatile boolean throwAfterDwell;
  private final AtomicBoolean armed = new AtomicBoolean();
  private final CountDownLatch dwelling = new CountDownLatch(1);
  private final CountDownLatch finish = new CountDownLatch(1);
  private final CallListener listener = new CallListener() {
    @Override
    public void adaptiveLimitChanged(String host, int from, int to) {
      String report = host.substring(0, host.indexOf(':')) + " " + from + "->" + to;
      reports.add(report);
      if (report.equals(dwellOn) && armed.compareAndSet(true, false)) {
        dwelling.countDown();
        await(finish);
        if (throwAfterDwell) {
          throw new OutOfMemoryError("the JVM's, in a listener");
        }
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

  private int call(String host, String path) {
    clock.advanceMillis(1);
    try (Response r = call(url(host, path), Duration.ofMinutes(1))) {
      return r.code();
    }
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

  /** Keys whose mapped state is retired. */
  private List<String> retiredInMap() throws Exception {
    Field f = InFlightLimiter.class.getDeclaredField("hosts");
    f.setAccessible(true);
    @SuppressWarnings("unchecked")
    Map<String, InFlightLimiter.Host> hosts = (Map<String, InFlightLimiter.Host>) f.get(limiter);
    return hosts.entrySet().stream().filter(e -> e.getValue().retired())
        .map(Map.Entry::getKey).toList();
  }

  private void run(boolean error) throws Exception {
    throwAfterDwell = error;
    assertEquals(503, call("api.test", "/drop")); // h1: 20 -> 10
    for (int i = 0; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    // X's call drops h1 and reports its return, 10 -> 20, holding the flag.
    dwellOn = "api.test 10->20";
    armed.set(true);
    AtomicReference<Throwable> thrownInX = new AtomicReference<>();
    Thread x = Thread.ofPlatform().name("X").start(() -> {
      try {
        call("last.test", "/");
      } catch (Throwable t) {
        thrownInX.set(t);
      }
    });
    await(dwelling);

    // Successor h2, cut to 10 (left to X); then h2 is the host idle the longest and is dropped.
    assertEquals(503, call("api.test", "/drop"));
    for (int i = 1; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    assertEquals(200, call("last.test", "/"));
    assertEquals(200, call("next.test", "/"));
    assertEquals(20, limiter.limit(api()), "h2 was dropped");
    assertEquals(List.of(api()), retiredInMap(), "h2 retired, still mapped: X's to remove");

    finish.countDown();
    x.join();
    if (error) {
      assertTrue(thrownInX.get() instanceof OutOfMemoryError, String.valueOf(thrownInX.get()));
    } else {
      assertEquals(null, thrownInX.get());
    }
    // Other hosts' calls go on; nothing ever removes a retired state but a reporter of its key.
    for (int i = 1; i < InFlightLimiter.IDLE_HOSTS_KEPT - 1; i++) {
      assertEquals(200, call("h" + i + ".test", "/"));
    }
    assertEquals(List.of(), retiredInMap(), "no retired state may stay in the map");
  }

  /** Control: without an Error, X looks again, reports h2 and removes it. Passes. */
  @Test
  void withoutAnErrorTheReporterRemovesTheStateRetiredDuringItsReport() throws Exception {
    run(false);
    assertEquals(List.of("api.test 20->10", "api.test 10->20"), reports);
  }

  /** Fails on 8005fdf: h2 stays mapped, retired, for ever. */
  @Test
  void anErrorFromTheReportLeavesNoStateRetiredDuringItInTheMap() throws Exception {
    run(true);
  }
}
