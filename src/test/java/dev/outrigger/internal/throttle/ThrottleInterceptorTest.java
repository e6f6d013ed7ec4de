package dev.outrigger.internal.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.RateLimitedException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The SRE book's client-side throttle: its window and formula on a clock moved by hand, and the
 * interceptor in a small real chain (throttle, then the client's transport) against
 * MockWebServer, with a seeded random source.
 */
class ThrottleInterceptorTest {
  private static final long SECOND = 1_000_000_000L;

  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder()
      .build();
  private final List<Double> reported = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void throttleProbability(String host, double p, long requests, long accepts) {
      reported.add(p);
    }
  };

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  private Response call(PolicyChain chain) {
    return ThrottleCalls.call(chain, server.url("/x"), clock, listener);
  }

  private PolicyChain chain(ThrottleInterceptor throttle) {
    return new PolicyChain(
        List.of(throttle, new Transport(okhttp, null, 1 << 20, null, false, false)));
  }

  private void enqueue(int status, int times) {
    for (int i = 0; i < times; i++) {
      server.enqueue(new MockResponse.Builder().code(status).body("b").build());
    }
  }

  @Test
  void probabilityFollowsTheSreFormula() {
    assertEquals(0, ThrottleInterceptor.probability(0, 0, 2));
    assertEquals(0, ThrottleInterceptor.probability(100, 50, 2));
    assertEquals(80.0 / 101, ThrottleInterceptor.probability(100, 10, 2), 1e-12);
    assertEquals(90.0 / 101, ThrottleInterceptor.probability(100, 10, 1), 1e-12);
    assertEquals(100.0 / 101, ThrottleInterceptor.probability(100, 0, 2), 1e-12);
  }

  @Test
  void windowSlidesOneBucketAtATimeAndEmptiesAfterItsLength() {
    AtomicLong now = new AtomicLong(5 * SECOND);
    AcceptWindow w = new AcceptWindow(120 * SECOND, 12, now::get);
    w.record(true);
    w.record(false);
    now.addAndGet(10 * SECOND);
    w.record(false);
    assertEquals(new AcceptWindow.Counts(3, 1), w.counts());
    now.addAndGet(110 * SECOND); // the first bucket is now 120 s old: out
    assertEquals(new AcceptWindow.Counts(1, 0), w.counts());
    now.addAndGet(10 * SECOND);
    assertEquals(new AcceptWindow.Counts(0, 0), w.counts());
    assertTrue(w.idle());
    // A reused slot starts from zero.
    w.record(true);
    assertEquals(new AcceptWindow.Counts(1, 1), w.counts());
  }

  @Test
  void refusesNothingWhileTheBackendAccepts() {
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), clock,
        new Random(1));
    PolicyChain chain = chain(t);
    // 500 is an answer the backend chose to give, not a rejection.
    enqueue(200, 30);
    enqueue(500, 30);
    for (int i = 0; i < 60; i++) {
      call(chain).close();
    }
    assertEquals(60, server.getRequestCount());
    assertEquals(0, t.probability(server.url("/").host() + ":" + server.getPort()));
    assertTrue(reported.isEmpty(), "probability never left 0: " + reported);
  }

  @Test
  void rejectionsMakeItRefuseLocallyInProportionAndItRecoversWhenTheWindowPasses() {
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), clock,
        new Random(42));
    PolicyChain chain = chain(t);
    String host = server.url("/").host() + ":" + server.getPort();
    enqueue(200, 10);
    for (int i = 0; i < 10; i++) {
      call(chain).close();
    }
    // The backend now rejects everything: after 20 rejections, requests = 30 and accepts = 10:
    // (30 - 20) / 31 = 0.32.
    enqueue(503, 200);
    int refused = 0;
    int sent = 0;
    for (int i = 0; i < 100; i++) {
      try {
        call(chain).close();
        sent++;
      } catch (RateLimitedException e) {
        refused++;
        assertTrue(e.getMessage().contains("refused by the client-side throttle for " + host),
            e.getMessage());
        assertNull(e.wouldWait());
        assertEquals(0, e.attempts());
      }
    }
    assertEquals(10 + sent, server.getRequestCount());
    // The n-th rejected attempt is refused with (n - 10) / (n + 11): nothing for the first ten,
    // then more and more; the expected count over these 100 is 54.6.
    assertTrue(refused > 40 && refused < 67, "refused " + refused + " of 100");
    assertTrue(sent >= 20, "a fraction still reaches the backend: " + sent);
    double p = t.probability(host);
    assertEquals((110 - 20) / 111.0, p, 1e-9);
    assertTrue(reported.size() >= 5, "reported as it rose: " + reported);
    assertEquals(p, reported.get(reported.size() - 1), 0.011);

    clock.advance(121 * SECOND);
    assertEquals(0, t.probability(host));
  }

  @Test
  void attemptsNeverSentAreNotCounted() {
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), clock,
        new Random(3));
    // Refused further in (as a rate limit would), before the transport marks it sent.
    PolicyChain chain = new PolicyChain(List.of(t, c -> {
      throw new RateLimitedException("no permit", Duration.ofSeconds(1), 0);
    }));
    for (int i = 0; i < 50; i++) {
      assertThrows(RateLimitedException.class, () -> call(chain));
    }
    String host = server.url("/").host() + ":" + server.getPort();
    assertEquals(0, t.probability(host));
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void concurrentRecordsAreAllCountedWithinABucket() throws InterruptedException {
    AtomicLong now = new AtomicLong();
    AcceptWindow w = new AcceptWindow(120 * SECOND, 12, now::get);
    Thread[] threads = new Thread[4];
    for (int i = 0; i < threads.length; i++) {
      boolean accept = i % 2 == 0;
      threads[i] = Thread.ofPlatform().start(() -> {
        for (int j = 0; j < 10_000; j++) {
          w.record(accept);
        }
      });
    }
    for (Thread th : threads) {
      th.join();
    }
    assertEquals(new AcceptWindow.Counts(40_000, 20_000), w.counts());
  }

  @Test
  void kBelowOneIsRefusedNamingTheSetting() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new ThrottleInterceptor(0.5, clock));
    assertEquals("client throttling K must be a finite number of at least 1, but was 0.5",
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ThrottleInterceptor.checkK(Double.NaN));
  }

  /**
   * A chain whose backend answers in 100 ms of the fake clock, and whose calls marked "cut" are
   * cut by their deadline once sent (as the watchdog would cut them).
   */
  private PolicyChain slowBackendChain(ThrottleInterceptor throttle) {
    return new PolicyChain(List.of(throttle, c -> {
      Response r = c.proceed(c.request());
      if (r.code() == 200) {
        clock.advance(SECOND / 10); // the backend's latency; its refusals come at once
      }
      if (c.request().header("X-Cut") != null) {
        r.close();
        throw dev.outrigger.internal.deadline.DeadlineInterceptor.cut(
            (RealCallContext) c.context(), new java.io.InterruptedIOException("deadline"));
      }
      return r;
    }, new Transport(okhttp, null, 1 << 20, null, false, false)));
  }

  private void callWithin(PolicyChain chain, Duration deadline, boolean cut) {
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(deadline, clock::nanoTime), true, clock, listener,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    Request.Builder req = new Request.Builder().url(server.url("/x"));
    if (cut) {
      req.header("X-Cut", "1");
    }
    try (Response r = chain.proceed(ctx, req.build())) {
      assertEquals(200, r.code());
    } catch (dev.outrigger.DeadlineExceededException expected) {
      assertTrue(cut, expected.getMessage());
    }
  }

  @Test
  void aCallersShortDeadlineDoesNotCountAgainstABackendOfKnownLatency() {
    ThrottleInterceptor throttle =
        new ThrottleInterceptor(1, Duration.ofMinutes(2), clock, () -> -1L);
    PolicyChain chain = slowBackendChain(throttle);
    enqueue(200, 44);
    for (int i = 0; i < ThrottleInterceptor.MIN_ANSWERS; i++) {
      callWithin(chain, Duration.ofSeconds(10), false); // the backend answers in 100 ms
    }
    // Forty calls whose 150 ms deadline is under twice that: their cuts are theirs.
    for (int i = 0; i < 40; i++) {
      callWithin(chain, Duration.ofMillis(150), true);
    }
    AcceptWindow.Counts counts = throttle.counts(server.getHostName() + ":" + server.getPort());
    assertEquals(4, counts.requests(), "hurried cuts counted: " + counts);
    assertEquals(4, counts.accepts());
  }

  @Test
  void instantRefusalsTeachNoLatency() {
    ThrottleInterceptor throttle =
        new ThrottleInterceptor(1, Duration.ofMinutes(2), clock, () -> -1L);
    PolicyChain chain = slowBackendChain(throttle);
    enqueue(503, 5);
    for (int i = 0; i < 5; i++) {
      try (Response r = call(chain)) {
        assertEquals(503, r.code()); // at once: taken as the fastest answer, every cut counts
      }
    }
    enqueue(200, 5);
    for (int i = 0; i < ThrottleInterceptor.MIN_ANSWERS; i++) {
      callWithin(chain, Duration.ofSeconds(10), false); // 100 ms each
    }
    callWithin(chain, Duration.ofMillis(150), true); // hurried: not counted
    AcceptWindow.Counts counts = throttle.counts(server.getHostName() + ":" + server.getPort());
    assertEquals(9, counts.requests(), String.valueOf(counts));
    assertEquals(4, counts.accepts(), String.valueOf(counts));
  }

  @Test
  void aCallersOwnFastErrorsTeachNoLatency() {
    ThrottleInterceptor throttle =
        new ThrottleInterceptor(1, Duration.ofMinutes(2), clock, () -> -1L);
    PolicyChain chain = slowBackendChain(throttle);
    enqueue(404, 5);
    for (int i = 0; i < 5; i++) {
      try (Response r = call(chain)) {
        assertEquals(404, r.code()); // at once: accepted, but no answer's latency
      }
    }
    enqueue(200, 5);
    for (int i = 0; i < ThrottleInterceptor.MIN_ANSWERS; i++) {
      callWithin(chain, Duration.ofSeconds(10), false); // 100 ms each
    }
    // Forty calls whose 150 ms deadline is under twice the backend's 100 ms: their cuts are
    // theirs, however fast the backend says "not found".
    for (int i = 0; i < 40; i++) {
      callWithin(chain, Duration.ofMillis(150), true);
    }
    AcceptWindow.Counts counts = throttle.counts(server.getHostName() + ":" + server.getPort());
    assertEquals(9, counts.requests(), "hurried cuts counted: " + counts);
    assertEquals(9, counts.accepts(), String.valueOf(counts));
  }

  @Test
  void oneColdAnswerAloneIsNotTrusted() {
    ThrottleInterceptor throttle =
        new ThrottleInterceptor(1, Duration.ofMinutes(2), clock, () -> -1L);
    PolicyChain chain = slowBackendChain(throttle);
    enqueue(200, 2);
    callWithin(chain, Duration.ofSeconds(10), false);
    // A hurried cut after one answer still counts: the backend may hang from here on.
    callWithin(chain, Duration.ofMillis(150), true);
    AcceptWindow.Counts counts = throttle.counts(server.getHostName() + ":" + server.getPort());
    assertEquals(2, counts.requests(), String.valueOf(counts));
    assertEquals(1, counts.accepts(), String.valueOf(counts));
  }

  @Test
  void aCutWithTimeToSpareStillCountsAndSoDoesOneBeforeAnyAnswer() {
    ThrottleInterceptor throttle =
        new ThrottleInterceptor(1, Duration.ofMinutes(2), clock, () -> -1L);
    PolicyChain chain = slowBackendChain(throttle);
    enqueue(200, 3);
    // Before any answer: a backend that hangs from the start must still be noticed.
    callWithin(chain, Duration.ofMillis(150), true);
    callWithin(chain, Duration.ofSeconds(10), false);
    // Sent with 10 s left, twenty times the fastest answer: the backend was slow.
    callWithin(chain, Duration.ofSeconds(10), true);
    AcceptWindow.Counts counts = throttle.counts(server.getHostName() + ":" + server.getPort());
    assertEquals(3, counts.requests(), String.valueOf(counts));
    assertEquals(1, counts.accepts(), String.valueOf(counts));
  }
}
