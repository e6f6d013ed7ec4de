package dev.outrigger.internal.throttle;

import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.RateLimitedException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import java.time.Duration;
import java.util.Set;
import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.Response;

/** One GET of {@code url} through a throttle's chain, as the client makes it (tests only). */
final class ThrottleCalls {
  private ThrottleCalls() {}

  /** The attempt's answer, with a 10 s deadline on {@code clock}, reported to {@code listener}. */
  static Response call(PolicyChain chain, HttpUrl url, FakeClock clock, CallListener listener) {
    RealCallContext ctx = new RealCallContext("GET", url,
        Deadline.after(Duration.ofSeconds(10), clock::nanoTime), true, clock, listener,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    return chain.proceed(ctx, new Request.Builder().url(url).build());
  }

  /** {@link #call}, its answer closed; a call the throttle refused counts all the same. */
  static void callAndClose(
      PolicyChain chain, HttpUrl url, FakeClock clock, CallListener listener) {
    try {
      call(chain, url, clock, listener).close();
    } catch (RateLimitedException refusedLocally) {
      // Counted as a rejection all the same.
    }
  }
}
