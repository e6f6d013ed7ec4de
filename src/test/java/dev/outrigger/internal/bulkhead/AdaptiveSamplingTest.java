package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.Deadline;
import dev.outrigger.HttpStatusException;
import dev.outrigger.internal.NanoClock;
import java.time.Duration;
import okhttp3.HttpUrl;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/** What the adaptive in-flight limit learns from, and what it must not. */
class AdaptiveSamplingTest {
  /** One attempt's context and chain: answers {@code code}, sent to the host or not. */
  static class Ctx implements CallContext, CallInterceptor.Chain {
    final int code;
    final boolean sends;
    final boolean throwStatus;
    final String host;
    int sent;

    Ctx(int code, boolean sends, boolean throwStatus) {
      this("api:443", code, sends, throwStatus);
    }

    Ctx(String host, int code, boolean sends, boolean throwStatus) {
      this.host = host;
      this.code = code;
      this.sends = sends;
      this.throwStatus = throwStatus;
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

    /** Runs while the attempt is in flight, before its answer. */
    void beforeAnswer() {}

    @Override public Response proceed(Request r) {
      if (sends) {
        sent++;
      }
      beforeAnswer();
      if (throwStatus) {
        throw new HttpStatusException(code, "GET", r.url().toString(), "", sent);
      }
      return new Response.Builder().request(r).protocol(Protocol.HTTP_1_1).code(code)
          .message("m").build();
    }
  }

  private static InFlightLimiter limiter() {
    return new InFlightLimiter(
        AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), NanoClock.SYSTEM);
  }

  @Test
  void aStatusFromTheHostIsADrop() {
    InFlightLimiter l = limiter();
    l.intercept(new Ctx(503, true, false));
    assertEquals(10, l.limit("api:443"));
  }

  @Test
  void anAnswerAnAttemptInterceptorMadeItselfTeachesNothing() {
    InFlightLimiter l = limiter();
    // A 503 made locally (a stub, a fallback): never sent, so nothing of the host.
    l.intercept(new Ctx(503, false, false));
    assertEquals(20, l.limit("api:443"));
  }

  @Test
  void aStatusAnAttemptInterceptorThrewIsADropToo() {
    InFlightLimiter l = limiter();
    assertThrows(HttpStatusException.class, () -> l.intercept(new Ctx(503, true, true)));
    assertEquals(10, l.limit("api:443"));
  }

  @Test
  void theHostInUseKeepsItsLearntLimitWhileTheStalestIdleHostGoes() {
    InFlightLimiter l = limiter();
    for (int i = 0; i < InFlightLimiter.IDLE_HOSTS_KEPT; i++) {
      l.intercept(new Ctx("stale" + i + ":80", 200, true, false));
    }
    l.intercept(new Ctx(503, true, false));
    assertEquals(10, l.limit("api:443"), "the overloaded host's learnt limit");
    assertEquals(InFlightLimiter.IDLE_HOSTS_KEPT, l.hostsTracked());
    l.intercept(new Ctx(503, true, false));
    assertEquals(5, l.limit("api:443"), "learnt on, not started over");
  }
}
