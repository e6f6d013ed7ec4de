package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A server pause that comes in while a call waits for a permit, and pushes the wait past the
 * call's deadline, refuses the call; the time it had already waited is a wait all the same, and
 * is reported as one, as a wait cut short by an interrupt is.
 */
class PushedBackWaitTest {
  private static final long MS = 1_000_000L;

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock fake = new FakeClock();
  /** Runs once, in place of the first sleep: the test's say on what happens meanwhile. */
  private Runnable duringFirstSleep;
  private final NanoClock clock = new NanoClock() {
    @Override
    public long nanoTime() {
      return fake.nanoTime();
    }

    @Override
    public void sleepNanos(long nanos) throws InterruptedException {
      Runnable r = duringFirstSleep;
      duringFirstSleep = null;
      if (r != null) {
        r.run();
      } else {
        fake.sleepNanos(nanos);
      }
    }
  };
  private final OkHttpClient client = new OkHttpClient.Builder().build();
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void rateLimitWaited(CallContext call, String key, Duration waited) {
      events.add("waited " + waited);
    }

    @Override
    public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
      events.add("rejected " + wouldWait);
    }
  };

  @AfterEach
  void noConnectionLeaked() {
    client.connectionPool().evictAll();
    assertEquals(0, client.connectionPool().connectionCount());
    client.dispatcher().executorService().shutdown();
  }

  private Response call(RateLimitInterceptor rl, Duration deadline) {
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(deadline, clock::nanoTime), true, clock, listener,
        new Redactor(Set.of(), Set.of()));
    return MiniChain.run(client, List.of(MiniChain.retry(1), rl), ctx,
        new Request.Builder().url(server.url("/x")).build());
  }

  @Test
  void theTimeWaitedBeforeAPausePushedTheWaitPastTheDeadlineIsReported() {
    RateLimitInterceptor rl = new RateLimitInterceptor(RateLimit.perSecond(1).burst(1), clock);
    String host = server.getHostName() + ":" + server.getPort();
    server.enqueue(new MockResponse.Builder().code(200).build());
    call(rl, Duration.ofSeconds(2)).close();
    // The next call waits 1 s for its permit; 400 ms into it, the server pauses the host for
    // 5 s, which pushes the wait to 6 s: past the 2 s deadline.
    duringFirstSleep = () -> {
      fake.advance(400 * MS);
      rl.limiter().pause(host, Duration.ofSeconds(5));
    };
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> call(rl, Duration.ofSeconds(2)));
    assertEquals(Duration.ofSeconds(6), e.wouldWait());
    assertEquals(List.of("waited PT0.4S", "rejected PT6S"), events);
    assertEquals(1, server.getRequestCount());
  }
}
