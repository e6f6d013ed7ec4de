package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.internal.NanoClock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * README: beyond 64 idle hosts "the host idle the longest loses its state ..., never the one
 * whose call just ended", also while more than 64 other hosts are busy.
 */
class BusyHostsEvictionTest {
  /** An attempt that, given latches, stays in flight until released. */
  static final class Ctx extends AdaptiveSamplingTest.Ctx {
    final CountDownLatch entered;
    final CountDownLatch release;

    Ctx(String host, int code, CountDownLatch entered, CountDownLatch release) {
      super(host, code, true, false);
      this.entered = entered;
      this.release = release;
    }

    @Override void beforeAnswer() {
      if (entered != null) {
        entered.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  @Test
  void theHostWhoseCallJustEndedKeepsItsLimitWhileOtherHostsAreBusy() throws Exception {
    InFlightLimiter l = new InFlightLimiter(
        AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), NanoClock.SYSTEM);
    int n = InFlightLimiter.IDLE_HOSTS_KEPT + 1;
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(n);
    List<Thread> busy = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Ctx slow = new Ctx("busy" + i + ":80", 200, entered, release);
      busy.add(Thread.ofVirtual().start(() -> l.intercept(slow)));
    }
    entered.await(10, TimeUnit.SECONDS);       // 65 other hosts have a call in flight
    try {
      l.intercept(new Ctx("api:443", 503, null, null));
      l.intercept(new Ctx("api:443", 503, null, null));
      assertEquals(5, l.limit("api:443"), "two drops learnt: 20 -> 10 -> 5, not started over");
      // With one host idle, no call's end scanned the 66 hosts for one to drop.
      assertEquals(0, l.scans(), "scans of the host map while only busy hosts were beyond 64");
    } finally {
      release.countDown();
      for (Thread t : busy) {
        t.join();
      }
    }
  }
}
