package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import dev.outrigger.internal.throttle.ThrottleInterceptor;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A listener of the client-side throttle runs before the attempt, and however long it takes,
 * the adaptive limit's latency sample starts after it. The throttle, the adaptive limiter and
 * the client's transport against MockWebServer, on a clock that moves only when the listener
 * moves it: the server's own latency reads as nothing.
 */
class ListenerTimeNotLatencyTest {
  private static final long SECOND = 1_000_000_000L;

  @StartStop private final MockWebServer server = new MockWebServer();
  @StartStop private final MockWebServer other = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final OkHttpClient okhttp = ClientOkHttp.builder()
      .build();
  private int reports;
  /** A slow listener: each report of a throttle probability takes 10 s. */
  private final CallListener listener = new CallListener() {
    @Override
    public void throttleProbability(String host, double p, long requests, long accepts) {
      reports++;
      clock.advance(10 * SECOND);
    }
  };
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);
  // K = 1, and a random source that never refuses (it always draws just under 1).
  private final PolicyChain chain = new PolicyChain(List.of(
      new ThrottleInterceptor(1, Duration.ofMinutes(2), clock, () -> -1L),
      limiter,
      new Transport(okhttp, null, 1 << 20, null, false, false)));

  @AfterEach
  void releaseConnections() {
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  private int call() {
    RealCallContext ctx = new RealCallContext("GET", server.url("/x"),
        Deadline.after(Duration.ofMinutes(1), clock::nanoTime), true, clock, listener,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    try (Response r = chain.proceed(ctx, new Request.Builder().url(server.url("/x")).build())) {
      return r.code();
    }
  }

  @Test
  void aSlowThrottleListenerIsNotTimedAsTheAttemptsLatency() {
    String host = RealCallContext.hostKey(server.url("/x"));
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().code(200).build());
    // A drop: the throttle's probability leaves 0, and Vegas learns no latency from it.
    assertEquals(503, call());
    assertEquals(-1, limiter.noLoadRttNanos(host));
    // The probability (now 1/2) is reported before this attempt, for 10 s of the clock.
    assertEquals(200, call());
    assertEquals(1, reports);
    long noLoad = limiter.noLoadRttNanos(host);
    assertTrue(noLoad >= 0 && noLoad < SECOND / 1000,
        "the host answered at once, yet its no-load latency is " + noLoad + " ns");
  }

  @Test
  void aSlowBreakerListenerAtTheHalfOpenStepIsNotTimedAsTheProbesLatency() {
    slowHalfOpenListener(false);
  }

  @Test
  void aSlowBreakerListenerThatResetsTheBreakerIsNotTimedAsTheCallsLatency() {
    // The listener closes the breaker by hand: the call goes on with a closed breaker's token,
    // after this thread ran the listener.
    slowHalfOpenListener(true);
  }

  private void slowHalfOpenListener(boolean reset) {
    java.util.concurrent.atomic.AtomicInteger halfOpens =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicReference<dev.outrigger.internal.breaker.BreakerInterceptor>
        breakers = new java.util.concurrent.atomic.AtomicReference<>();
    CallListener breakerListener = new CallListener() {
      @Override
      public void breakerTransition(String key, dev.outrigger.CircuitBreaker.State from,
          dev.outrigger.CircuitBreaker.State to) {
        if (to == dev.outrigger.CircuitBreaker.State.HALF_OPEN) {
          halfOpens.incrementAndGet();
          clock.advance(10 * SECOND); // a slow listener, run as the probe is let through
          if (reset) {
            breakers.get().breaker(key).reset();
          }
        }
      }
    };
    breakers.set(new dev.outrigger.internal.breaker.BreakerInterceptor(
        dev.outrigger.CircuitBreaker.builder()
            .slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(0.5)
            .waitInOpenState(Duration.ofSeconds(5)).permittedCallsInHalfOpen(1).build(),
        clock, breakerListener));
    PolicyChain breakerChain = new PolicyChain(List.of(
        breakers.get(),
        limiter,
        new Transport(okhttp, null, 1 << 20, null, false, false)));
    String host = RealCallContext.hostKey(server.url("/x"));
    for (int i = 0; i < 2; i++) {
      server.enqueue(new MockResponse.Builder().code(503).build());
    }
    server.enqueue(new MockResponse.Builder().code(200).build());
    for (int i = 0; i < 2; i++) {
      RealCallContext ctx = context();
      try (Response r = breakerChain.proceed(ctx, new Request.Builder().url(server.url("/x"))
          .build())) {
        assertEquals(503, r.code());
      }
    }
    clock.advance(6 * SECOND); // past the open wait: the next call is the probe
    try (Response r = breakerChain.proceed(context(),
        new Request.Builder().url(server.url("/x")).build())) {
      assertEquals(200, r.code());
    }
    assertEquals(1, halfOpens.get());
    long noLoad = limiter.noLoadRttNanos(host);
    assertTrue(noLoad >= 0 && noLoad < SECOND / 1000,
        "the probe was answered at once, yet the host's no-load latency is " + noLoad + " ns");
  }

  @Test
  void aSlowListenerOfABreakerDroppedToMakeRoomIsNotTimedAsTheCallsLatency() {
    java.util.concurrent.atomic.AtomicInteger drops =
        new java.util.concurrent.atomic.AtomicInteger();
    CallListener slow = new CallListener() {
      @Override
      public void breakerTransition(String key, dev.outrigger.CircuitBreaker.State from,
          dev.outrigger.CircuitBreaker.State to) {
        if (to == dev.outrigger.CircuitBreaker.State.CLOSED) {
          drops.incrementAndGet();
          clock.advance(10 * SECOND); // run on the thread of the call that made room
        }
      }
    };
    PolicyChain chain = new PolicyChain(List.of(
        new dev.outrigger.internal.breaker.BreakerInterceptor(dev.outrigger.CircuitBreaker
            .builder().slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(0.5)
            .waitInOpenState(Duration.ofSeconds(5)).maxBreakers(1).build(), clock, slow),
        limiter,
        new Transport(okhttp, null, 1 << 20, null, false, false)));
    for (int i = 0; i < 2; i++) {
      other.enqueue(new MockResponse.Builder().code(503).build());
      try (Response r = chain.proceed(context(other),
          new Request.Builder().url(other.url("/x")).build())) {
        assertEquals(503, r.code());
      }
    }
    clock.advance(120 * SECOND); // the other host's open breaker unused past any open wait
    server.enqueue(new MockResponse.Builder().code(200).build());
    try (Response r = chain.proceed(context(server),
        new Request.Builder().url(server.url("/x")).build())) {
      assertEquals(200, r.code());
    }
    assertEquals(1, drops.get(), "the other host's breaker was not dropped");
    long noLoad = limiter.noLoadRttNanos(RealCallContext.hostKey(server.url("/x")));
    assertTrue(noLoad >= 0 && noLoad < SECOND / 1000,
        "the host answered at once, yet its no-load latency is " + noLoad + " ns");
  }

  private RealCallContext context(MockWebServer s) {
    RealCallContext ctx = new RealCallContext("GET", s.url("/x"),
        Deadline.after(Duration.ofMinutes(5), clock::nanoTime), true, clock, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    return ctx;
  }

  private RealCallContext context() {
    return context(server);
  }
}
