package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.CloseCountingBody;
import dev.outrigger.HttpStatusException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A listener of the adaptive limit that throws an {@link Error} (what {@code Listeners} passes
 * on, such as an {@link OutOfMemoryError}) now throws it after the attempt gave its slot back:
 * the error reaches the caller, the slot is free for the host's next call, and the answer the
 * attempt had in hand, which goes nowhere, has its body closed. An attempt that failed keeps
 * its own failure, suppressed in the error.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class LimitListenerErrorTest extends LimiterOverServerTest {
  // A drop cuts the limit from 2 to 1: a leaked slot would leave the host none.
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(1).initial(2).max(2).backoffRatio(0.5), clock);
  private final AtomicInteger opened = new AtomicInteger();
  private final AtomicInteger closed = new AtomicInteger();
  private final AtomicInteger reports = new AtomicInteger();
  private final CallListener dying = new CallListener() {
    @Override
    public void adaptiveLimitChanged(String host, int from, int to) {
      if (reports.getAndIncrement() == 0) {
        throw new OutOfMemoryError("the JVM's, in a listener");
      }
    }
  };
  /**
   * Hands each answer on with a body that counts its close(); for the host {@code thrown.test},
   * throws its status as an {@link HttpStatusException} instead, as an attempt interceptor may.
   */
  private final CallInterceptor counting = chain -> {
    Response r = chain.proceed(chain.request());
    if (chain.request().url().host().equals("thrown.test")) {
      r.close();
      throw new HttpStatusException(r.code(), "GET", chain.request().url().toString(), "", 1);
    }
    opened.incrementAndGet();
    return CloseCountingBody.wrap(r, closed);
  };

  @Override
  List<CallInterceptor> policies() {
    return List.of(limiter, counting);
  }

  @Override
  CallListener listener() {
    return dying;
  }

  private Response call(String host, String path, Duration deadline) {
    clock.advanceMillis(1);
    return call(url(host, path), deadline);
  }

  @Test
  void anErrorFromTheReportClosesTheAnswerAndKeepsNoSlot() {
    String key = "api.test:" + server.getPort();
    assertThrows(OutOfMemoryError.class,
        () -> call("api.test", "/drop", Duration.ofMinutes(1)).close());
    assertEquals(1, limiter.limit(key), "the drop cut the limit to 1");
    assertEquals(1, opened.get());
    assertEquals(1, closed.get(), "the 503's body must be closed");
    assertEquals(0, limiter.inFlight(key));
    // The one slot is free: the next call gets it at once (a leaked slot would leave it
    // waiting out its deadline).
    try (Response r = call("api.test", "/", Duration.ofSeconds(5))) {
      assertEquals(200, r.code());
    }
  }

  @Test
  void anErrorFromTheReportOfAFailedAttemptKeepsItsFailure() {
    String key = "thrown.test:" + server.getPort();
    OutOfMemoryError e = assertThrows(OutOfMemoryError.class,
        () -> call("thrown.test", "/drop", Duration.ofMinutes(1)).close());
    assertEquals(1, e.getSuppressed().length);
    assertSame(HttpStatusException.class, e.getSuppressed()[0].getClass());
    assertEquals(1, limiter.limit(key), "the thrown 503 cut the limit to 1");
    assertEquals(0, limiter.inFlight(key));
    // Its slot is free too: the next call gets it at once (and the stub throws its 200).
    HttpStatusException next = assertThrows(HttpStatusException.class,
        () -> call("thrown.test", "/", Duration.ofSeconds(5)));
    assertEquals(200, next.status());
  }
}
