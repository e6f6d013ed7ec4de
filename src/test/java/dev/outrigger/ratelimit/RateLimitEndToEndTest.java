package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The rate limit through a real {@link ApiClient} against a real local server, on the real
 * clock: what the server sees, from many concurrent virtual threads.
 */
class RateLimitEndToEndTest {
  private static final double RATE = 50;
  private static final int BURST = 5;

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final ConcurrentLinkedQueue<Long> arrivals = new ConcurrentLinkedQueue<>();
  /**
   * Each request's time from its permit to reaching the server, at most (from the earliest its
   * permit can have been granted) and at least (from the latest).
   */
  private final ConcurrentLinkedQueue<Long> longestLatencies = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Long> shortestLatencies = new ConcurrentLinkedQueue<>();
  /** Each attempt's grant as {@link #grantOf} tells it, by a client of {@link #stampingGrants}. */
  private final ConcurrentLinkedQueue<long[]> grants = new ConcurrentLinkedQueue<>();
  private ApiClient client;

  @AfterEach
  void closeWithoutLeaks() throws InterruptedException {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }

  private void answer(java.util.function.IntFunction<MockResponse> byIndex) {
    AtomicInteger n = new AtomicInteger();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        long now = System.nanoTime();
        arrivals.add(now);
        String earliest = request.getHeaders().get("X-Granted-From");
        if (earliest != null) {
          longestLatencies.add(now - Long.parseLong(earliest));
          shortestLatencies.add(now - Long.parseLong(request.getHeaders().get("X-Granted-To")));
        }
        return byIndex.apply(n.getAndIncrement());
      }
    });
  }

  private static MockResponse ok() {
    return new MockResponse.Builder().code(200).body("ok").build();
  }

  /** Runs {@code calls} calls on {@code threads} virtual threads, all released at once. */
  private void hammer(int threads, int callsEach) throws InterruptedException {
    CountDownLatch go = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      ts.add(Thread.ofVirtual().start(() -> {
        try {
          go.await();
          for (int j = 0; j < callsEach; j++) {
            client.get("/x").execute(String.class);
          }
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      }));
    }
    go.countDown();
    for (Thread t : ts) {
      t.join();
    }
    if (failure.get() != null) {
      throw new AssertionError("a call failed", failure.get());
    }
  }

  /**
   * The client's clock: the system's, remembering on each thread its latest reading, how many
   * it made, and when the rate limiter's latest sleep was to end. The limiter sleeps for its
   * permit's time minus the reading it has just made, so that end is the permit's time exactly.
   */
  private static final class GrantClock implements NanoClock {
    static final long NONE = Long.MIN_VALUE;
    /** Per thread: the latest reading, the number of readings, the latest sleep's end. */
    private final ThreadLocal<long[]> state =
        ThreadLocal.withInitial(() -> new long[] {0, 0, NONE});

    @Override
    public long nanoTime() {
      long t = System.nanoTime();
      long[] s = state.get();
      s[0] = t;
      s[1]++;
      return t;
    }

    @Override
    public void sleepNanos(long nanos) throws InterruptedException {
      long[] s = state.get();
      s[2] = s[0] + nanos;
      NanoClock.SYSTEM.sleepNanos(nanos);
    }

    long latest() {
      return state.get()[0];
    }

    long readings() {
      return state.get()[1];
    }

    /** The end of this thread's latest sleep since the last call, or NONE; forgets it. */
    long takeSleepEnd() {
      long[] s = state.get();
      long end = s[2];
      s[2] = NONE;
      return end;
    }
  }

  /**
   * When the rate limiter granted this thread's attempt its permit, as the earliest and latest
   * it can have been ({@code [0]} and {@code [1]}), read on the limiter's own clock: no stamp
   * taken after the grant, which an OS deschedule between the two would make late.
   *
   * <ul>
   *   <li>A permit granted at once is granted at the reading the limiter took it with: the
   *       call's latest reading, which the limiter keeps (it waited for nothing) and nothing
   *       further in reads again before the attempt interceptor runs.
   *   <li>A permit waited for is granted at its wake time, which the limiter's sleep ends at.
   *   <li>One waited for without sleeping (the thread was descheduled for longer than the whole
   *       wait before it looked at the clock) is granted between the limiter's reading and that
   *       look: the listener hears how long it waited, right after the look.
   * </ul>
   */
  private static long[] grantOf(GrantClock clock, long[] waited, CallContext ctx) {
    long sleepEnd = clock.takeSleepEnd();
    if (sleepEnd != GrantClock.NONE) {
      return new long[] {sleepEnd, sleepEnd};
    }
    if (waited[1] != GrantClock.NONE) {
      return new long[] {waited[0], waited[1]};
    }
    long readings = clock.readings();
    long granted = ((RealCallContext) ctx).recentNanos();
    // The limiter's reading is the call's latest one only while nothing has read the clock
    // since: a fresh reading here would be a stamp after the grant.
    assertEquals(readings, clock.readings(), "the limiter's reading was not kept");
    return new long[] {granted, granted};
  }

  /**
   * A builder of a client on {@code clock} against the server whose attempts, right after the
   * rate limit (and the in-flight limit, which never waits here), record when their permit was
   * granted ({@link #grantOf}) in {@link #grants} and send it in {@code X-Granted-From} and
   * {@code X-Granted-To}.
   */
  private ApiClient.Builder stampingGrants(GrantClock clock) {
    // Per thread: the reading a waited-for permit was asked with, and the limiter's look at
    // the clock after the wait (NONE: no wait this attempt).
    ThreadLocal<long[]> waited =
        ThreadLocal.withInitial(() -> new long[] {GrantClock.NONE, GrantClock.NONE});
    return ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .addListener(new CallListener() {
          @Override
          public void rateLimitWaited(CallContext call, String key, Duration w) {
            // Right after the limiter's last look at the clock, which is w after its request.
            long look = clock.latest();
            waited.get()[0] = look - w.toNanos();
            waited.get()[1] = look;
          }
        })
        .addAttemptInterceptor(chain -> {
          long[] w = waited.get();
          long[] granted = grantOf(clock, w, chain.context());
          w[0] = GrantClock.NONE;
          w[1] = GrantClock.NONE;
          grants.add(granted);
          return chain.proceed(chain.request().newBuilder()
              .header("X-Granted-From", String.valueOf(granted[0]))
              .header("X-Granted-To", String.valueOf(granted[1])).build());
        });
  }

  @Test
  void theServerNeverSeesMoreThanBurstPlusRateTimesTimeInAnyWindow() throws Exception {
    answer(i -> ok());
    client = stampingGrants(new GrantClock())
        .rateLimit(RateLimit.perSecond(RATE).burst(BURST))
        .retry(Retry.none())
        .deadline(Duration.ofSeconds(30))
        .build();
    // Warm up (class loading, the first connections), then measure only what follows.
    hammer(BURST, 2);
    arrivals.clear();
    longestLatencies.clear();
    shortestLatencies.clear();
    hammer(40, 2);
    List<Long> t = new ArrayList<>(arrivals);
    t.sort(null);
    assertEquals(80, t.size());
    // The limiter grants at most BURST + RATE * T permits in any T of its clock, exactly. The
    // requests arriving within T were granted within T widened by the spread of their times
    // from permit to arrival (a new connection, scheduling, an OS deschedule anywhere after
    // the grant): the bound allows for that spread and for nothing else.
    long spread = longestLatencies.stream().mapToLong(Long::longValue).max().orElseThrow()
        - shortestLatencies.stream().mapToLong(Long::longValue).min().orElseThrow();
    for (int i = 0; i < t.size(); i++) {
      for (int j = i; j < t.size(); j++) {
        double seconds = (t.get(j) - t.get(i)) / 1e9;
        int seen = j - i + 1;
        double bound = BURST + RATE * (seconds + spread / 1e9);
        assertTrue(seen <= bound, seen + " requests within " + seconds + " s; at most "
            + bound + " allowed (spread from permit to arrival " + spread / 1e6 + " ms)");
      }
    }
    // And the limiter let them through at about the rate, not much slower: 80 take 1.6 s.
    double total = (t.get(t.size() - 1) - t.get(0)) / 1e9;
    assertTrue(total < 1.6 + 1.0, "took " + total + " s");
  }

  @Test
  void aCallWhoseWaitCannotFitItsDeadlineFailsAtOnceAndIsNeverSent() throws Exception {
    answer(i -> ok());
    client = ApiClient.builder().baseUrl(server.url("/").toString())
        .rateLimit(RateLimit.perSecond(1).burst(1))
        .build();
    assertEquals("ok", client.get("/x").execute(String.class));
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> client.get("/x").deadline(Duration.ofMillis(200)).execute(String.class));
    assertEquals(0, e.attempts());
    assertTrue(e.wouldWait().compareTo(Duration.ofMillis(200)) > 0, e.getMessage());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aRetryAfterFromTheServerStopsTheWholeClientUntilThen() throws Exception {
    // The third request is answered 429 Retry-After: 1; everything else 200.
    answer(i -> i == 2
        ? new MockResponse.Builder().code(429).addHeader("Retry-After", "1").build()
        : ok());
    GrantClock clock = new GrantClock();
    // The pause's end on the limiter's clock, and a reading taken once the pause was in place.
    AtomicReference<long[]> pause = new AtomicReference<>();
    client = stampingGrants(clock)
        .rateLimit(RateLimit.perSecond(RATE).burst(BURST))
        .retry(Retry.none())
        .deadline(Duration.ofSeconds(30))
        .addListener(new CallListener() {
          @Override
          public void rateLimitPaused(CallContext call, String key, Duration p) {
            // Right after the pause, made from this thread's latest reading of the clock.
            pause.set(new long[] {clock.latest() + p.toNanos(), System.nanoTime()});
          }
        })
        .build();
    AtomicInteger refused = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ts.add(Thread.ofVirtual().start(() -> {
        try {
          go.await();
          // Three answered each: the thread answered 429 calls again, once the pause is in place.
          for (int answered = 0; answered < 3; ) {
            try {
              client.get("/x").execute(String.class);
              answered++;
            } catch (dev.outrigger.HttpStatusException e) {
              refused.incrementAndGet();
            }
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    go.countDown();
    for (Thread t : ts) {
      t.join();
    }
    assertEquals(1, refused.get());
    assertEquals(61, server.getRequestCount());
    long[] p = pause.get();
    assertNotNull(p, "the 429 paused the client");
    // Judged on the limiter's clock, by when each permit was granted, not by when requests
    // reached the server: the 429's way back into the client, and the sending of requests
    // whose permits came before the pause, take times no test can bound (over a second on a
    // cold JVM on a loaded machine). Once the pause is in place, no permit comes before its end.
    int judged = 0;
    for (long[] g : grants) {
      if (g[0] - p[1] >= 0) {
        judged++;
        assertTrue(g[1] - p[0] >= 0, "a permit granted " + (p[0] - g[1]) / 1e6
            + " ms before the end of the server's pause, which was in place");
      }
    }
    assertTrue(judged >= 1, "no permit was asked for once the pause was in place");
  }
}
