package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A listener of the adaptive limit that blocks in {@code adaptiveLimitChanged} holds up only
 * the caller it reports on, not the host: the report is made after that attempt gave its slot
 * back, so another call to the host gets the slot and completes while the listener is still
 * blocked. Before, the report ran while the attempt held its slot, and with the host's limit cut
 * to 1 every other call to it waited behind the listener.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SlowLimitListenerTest extends LimiterOverServerTest {
  // A drop cuts the limit from 2 to 1: one slot, which the reporting attempt must not keep.
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(1).initial(2).max(2).backoffRatio(0.5), clock);
  private final List<String> reports = new CopyOnWriteArrayList<>();
  private final CountDownLatch blocked = new CountDownLatch(1);
  private final CountDownLatch release = new CountDownLatch(1);
  private final CallListener listener = new CallListener() {
    @Override
    public void adaptiveLimitChanged(String host, int from, int to) {
      reports.add(from + "->" + to);
      if (blocked.getCount() > 0) {
        // The first report blocks until the test lets it go.
        blocked.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
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

  @AfterEach
  void letTheListenerGo() {
    release.countDown();
  }

  private int call(String path) {
    clock.advanceMillis(1); // sent after the cut before
    try (Response r = call(url("api.test", path), Duration.ofMinutes(1))) {
      return r.code();
    }
  }

  @Test
  void aListenerBlockedOnAReportKeepsNoSlotOfTheHost() throws Exception {
    String key = "api.test:" + server.getPort();
    AtomicReference<Throwable> firstFailed = new AtomicReference<>();
    Thread first = Thread.ofVirtual().start(() -> {
      try {
        assertEquals(503, call("/drop"));
      } catch (Throwable e) {
        firstFailed.set(e);
      }
    });
    assertTrue(blocked.await(30, TimeUnit.SECONDS), "the drop's report reached the listener");
    assertEquals(1, limiter.limit(key), "the drop cut the limit from 2 to 1");
    assertEquals(0, limiter.inFlight(key), "the attempt being reported on holds no slot");

    // The one slot is free: another call to the host gets it and completes while the listener
    // is still blocked.
    CountDownLatch secondDone = new CountDownLatch(1);
    AtomicReference<Integer> secondCode = new AtomicReference<>();
    Thread second = Thread.ofVirtual().start(() -> {
      secondCode.set(call("/"));
      secondDone.countDown();
    });
    assertTrue(secondDone.await(10, TimeUnit.SECONDS),
        "the second call waited behind the blocked listener (waiting: " + limiter.waiting(key)
            + ", in flight: " + limiter.inFlight(key) + ")");
    assertEquals(200, secondCode.get());
    assertTrue(first.isAlive(), "the listener is still blocked");
    assertEquals(List.of("2->1"), reports, "the second call's change waits for the first report");

    release.countDown();
    first.join();
    second.join();
    assertNull(firstFailed.get());
    // The second answer (at the no-load latency, its one slot in use) grew the limit back to 2;
    // its report was left to the blocked thread, which made it once its listener returned.
    assertEquals(2, limiter.limit(key));
    assertEquals(List.of("2->1", "1->2"), reports,
        "in order, the last report carrying the limit in place");
  }
}
