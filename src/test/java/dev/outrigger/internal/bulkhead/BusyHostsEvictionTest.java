package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.Deadline;
import dev.outrigger.internal.NanoClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.HttpUrl;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/**
 * README: beyond 64 idle hosts "the host idle the longest loses its state ..., never the one
 * whose call just ended", also while more than 64 other hosts are busy.
 */
class BusyHostsEvictionTest {
  static final class Ctx implements CallContext, CallInterceptor.Chain {
    final String host;
    final int code;
    final CountDownLatch entered;
    final CountDownLatch release;
    int sent;

    Ctx(String host, int code, CountDownLatch entered, CountDownLatch release) {
      this.host = host;
      this.code = code;
      this.entered = entered;
      this.release = release;
    }

    @Override public String method() {
      return "GET";
    }

    @Override public HttpUrl url() {
      return HttpUrl.get("http://" + host + "/x");
    }

    @Override public String host() {
      return host;
    }

    @Override public int attempt() {
      return 1;
    }

    @Override public int attemptsSent() {
      return sent;
    }

    @Override public boolean requestWritten() {
      return sent > 0;
    }

    @Override public Deadline deadline() {
      return Deadline.after(Duration.ofSeconds(5));
    }

    @Override public boolean idempotent() {
      return true;
    }

    @Override public Object attribute(String n) {
      return null;
    }

    @Override public void attribute(String n, Object v) {}

    @Override public Request request() {
      return new Request.Builder().url(url()).build();
    }

    @Override public CallContext context() {
      return this;
    }

    @Override public Response proceed(Request r) {
      sent++;
      if (entered != null) {
        entered.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return new Response.Builder().request(r).protocol(Protocol.HTTP_1_1).code(code)
          .message("m").build();
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
    } finally {
      release.countDown();
      for (Thread t : busy) {
        t.join();
      }
    }
  }
}
