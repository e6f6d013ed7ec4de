package dev.outrigger.internal.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.outrigger.ApiException;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.DeserializationException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Jitter;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.TransportException.Kind;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.NanoClock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class RetryInterceptorTest {
  private static final long MS = 1_000_000L;

  private final FakeClock clock = new FakeClock();
  private final RecordingListener listener = new RecordingListener();
  /** No jitter, so every wait is exact: 100 ms, 200 ms, 400 ms, ... up to 1 s. */
  private Retry retry = Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(1))
      .maxAttempts(4).jitter(Jitter.NONE);
  private Duration deadline = Duration.ofSeconds(30);
  private long wallMillis = 1_700_000_000_000L;

  private ScriptedChain get() {
    return chain(ScriptedChain.get(), true);
  }

  private ScriptedChain post(Request.Builder b) {
    return chain(b.url("http://api.test:8080/orders")
        .post(RequestBody.create("{}", MediaType.get("application/json"))).build(), false);
  }

  private ScriptedChain chain(Request request, boolean idempotent) {
    return new ScriptedChain(request, clock, deadline, idempotent, listener);
  }

  private RetryInterceptor interceptor() {
    return new RetryInterceptor(retry, clock, () -> wallMillis);
  }

  private Response run(ScriptedChain chain) {
    return interceptor().intercept(chain);
  }

  private ApiException fails(ScriptedChain chain) {
    return assertThrows(ApiException.class, () -> run(chain));
  }

  @Test
  void retryableStatusesAreRetriedUntilSuccess() {
    ScriptedChain chain = get().status(503).status(503).status(200);
    try (Response r = run(chain)) {
      assertEquals(200, r.code());
    }
    assertEquals(List.of(1, 2, 3), chain.attemptsSeen, "beginAttempt before each proceed");
    assertEquals(3, chain.ctx.attemptsSent());
    assertEquals(List.of(100 * MS, 200 * MS), clock.sleeps());
  }

  @Test
  void everyDroppedResponseIsClosedBeforeTheNextAttempt() {
    ScriptedChain chain = get().status(502).status(500);
    List<Boolean> closedAtThirdAttempt = new ArrayList<>();
    chain.then((c, r) -> {
      chain.bodies.forEach(b -> closedAtThirdAttempt.add(b.closed));
      c.markRequestWritten();
      return chain.response(r, 200);
    });
    run(chain).close();
    assertEquals(List.of(true, true), closedAtThirdAttempt);
  }

  @Test
  void eachDefaultRetryableStatusIsRetried() {
    for (int code : new int[] {408, 429, 500, 502, 503, 504}) {
      ScriptedChain chain = get().status(code).status(200);
      run(chain).close();
      assertEquals(2, chain.ctx.attemptsSent(), "status " + code);
    }
  }

  @Test
  void otherStatusesAreReturnedAsIsAfterOneAttempt() {
    for (int code : new int[] {200, 201, 204, 301, 304, 400, 401, 403, 404, 409, 422, 501, 505}) {
      ScriptedChain chain = get().status(code);
      try (Response r = run(chain)) {
        assertEquals(code, r.code());
        assertFalse(chain.bodies.get(0).closed, "the caller gets an open response");
      }
      assertEquals(1, chain.ctx.attemptsSent(), "status " + code);
    }
    assertTrue(clock.sleeps().isEmpty());
  }

  @Test
  void whenAttemptsRunOutTheLastFailureIsThrownWithTheEarlierOnesSuppressed() {
    ScriptedChain chain = get().status(503).fails(Kind.IO, true).status(502).status(503);
    HttpStatusException e = assertInstanceOf(HttpStatusException.class, fails(chain));
    assertEquals(503, e.status());
    assertEquals(4, e.attempts());
    assertTrue(e.getMessage().contains("after 4 attempts"), e.getMessage());
    List<Throwable> suppressed = Arrays.asList(e.getSuppressed());
    assertEquals(3, suppressed.size());
    assertEquals(503, ((HttpStatusException) suppressed.get(0)).status());
    assertEquals(Kind.IO, ((TransportException) suppressed.get(1)).kind());
    assertEquals(502, ((HttpStatusException) suppressed.get(2)).status());
    assertTrue(chain.bodies.stream().allMatch(b -> b.closed), "every response closed");
    assertEquals(List.of(100 * MS, 200 * MS, 400 * MS), clock.sleeps());
  }

  @Test
  void retryableTransportFailuresAreRetried() {
    for (Kind kind : new Kind[] {Kind.CONNECT, Kind.TIMEOUT, Kind.IO}) {
      ScriptedChain chain = get().fails(kind, true).status(200);
      run(chain).close();
      assertEquals(2, chain.ctx.attemptsSent(), kind.name());
    }
  }

  @Test
  void tlsAndCancellationAreNeverRetried() {
    for (Kind kind : new Kind[] {Kind.TLS, Kind.CANCELLED}) {
      ScriptedChain chain = get().fails(kind, false);
      TransportException e = assertInstanceOf(TransportException.class, fails(chain));
      assertEquals(kind, e.kind());
      assertEquals(1, e.attempts());
      assertEquals(0, chain.remainingSteps());
    }
  }

  @Test
  void rateLimitDeserializationAndDeadlineFailuresAreNeverRetried() {
    List<ApiException> failures = List.of(
        new RateLimitedException("limited", Duration.ofSeconds(1), 0),
        new DeserializationException("bad json", null, 1),
        new DeadlineExceededException("too late", null, 1));
    for (ApiException failure : failures) {
      ScriptedChain chain = get().then((c, r) -> {
        throw failure;
      });
      assertSame(failure, fails(chain));
    }
    assertTrue(clock.sleeps().isEmpty());
  }

  @Test
  void earlierFailuresAreAttachedToANonRetryableLastFailure() {
    ScriptedChain chain = get().status(503).fails(Kind.TLS, true);
    TransportException e = assertInstanceOf(TransportException.class, fails(chain));
    assertEquals(2, e.attempts());
    assertEquals(1, e.getSuppressed().length);
    assertTrue(e.getMessage().contains("after 2 attempts"), e.getMessage());
  }

  @Test
  void aPostWithoutKeyIsNotResentAfterAResponse() {
    ScriptedChain chain = post(new Request.Builder()).status(503);
    HttpStatusException e = assertInstanceOf(HttpStatusException.class, fails(chain));
    assertEquals(1, e.attempts());
    assertTrue(e.getMessage().contains("POST is not idempotent"), e.getMessage());
    assertTrue(chain.bodies.get(0).closed);
  }

  @Test
  void aPostWithoutKeyIsNotResentAfterAFailureOnceTheRequestWasWritten() {
    ScriptedChain chain = post(new Request.Builder()).fails(Kind.IO, true);
    TransportException e = assertInstanceOf(TransportException.class, fails(chain));
    assertEquals(1, e.attempts());
    assertTrue(e.getMessage().contains("may have reached the server"), e.getMessage());
  }

  @Test
  void aPostIsResentWhenTheRequestNeverLeft() {
    ScriptedChain chain = post(new Request.Builder())
        .fails(Kind.CONNECT, false).fails(Kind.TIMEOUT, false).status(201);
    run(chain).close();
    assertEquals(3, chain.ctx.attemptsSent());
  }

  @Test
  void anIdempotentPostIsRetriedWithTheSameRequest() {
    Request keyed = new Request.Builder().url("http://api.test:8080/orders")
        .header("Idempotency-Key", "k-1")
        .post(RequestBody.create("{}", MediaType.get("application/json"))).build();
    List<Request> sent = new ArrayList<>();
    ScriptedChain chain = chain(keyed, true);
    for (int i = 0; i < 3; i++) {
      int code = i < 2 ? 503 : 201;
      chain.then((c, r) -> {
        sent.add(r);
        c.markRequestWritten();
        return chain.response(r, code);
      });
    }
    run(chain).close();
    assertEquals(3, sent.size());
    assertTrue(sent.stream().allMatch(r -> "k-1".equals(r.header("Idempotency-Key"))));
  }

  @Test
  void aOneShotBodyOnceWrittenIsNeverSentAgain() {
    RequestBody oneShot = new RequestBody() {
      @Override
      public MediaType contentType() {
        return MediaType.get("application/octet-stream");
      }

      @Override
      public void writeTo(BufferedSink sink) {}

      @Override
      public boolean isOneShot() {
        return true;
      }
    };
    Request put = new Request.Builder().url("http://api.test:8080/blob").put(oneShot).build();
    // (Not written, as after a refused connection, it is retried: OneShotBodyRetryTest.)
    ScriptedChain chain = chain(put, true).fails(Kind.IO, true);
    ApiException e = fails(chain);
    assertEquals(1, chain.ctx.attemptsSent());
    assertTrue(e.getMessage().contains("one-shot"), e.getMessage());
  }

  @Test
  void retryAfterInSecondsSetsTheNextDelay() {
    ScriptedChain chain = get().status(503, "Retry-After", "3").status(429, "Retry-After", "0")
        .status(200);
    run(chain).close();
    assertEquals(List.of(3000 * MS), clock.sleeps(), "0 s is no wait at all");
  }

  @Test
  void retryAfterAsAnHttpDateIsReadAgainstTheWallClock() {
    String in5s = DateTimeFormatter.RFC_1123_DATE_TIME.format(
        ZonedDateTime.ofInstant(java.time.Instant.ofEpochMilli(wallMillis + 5000), ZoneOffset.UTC));
    String past = DateTimeFormatter.RFC_1123_DATE_TIME.format(
        ZonedDateTime.ofInstant(java.time.Instant.ofEpochMilli(wallMillis - 5000), ZoneOffset.UTC));
    ScriptedChain chain = get().status(503, "Retry-After", in5s).status(503, "Retry-After", past)
        .status(200);
    run(chain).close();
    assertEquals(List.of(5000 * MS), clock.sleeps(), "a date in the past means now");
  }

  @Test
  void retryAfterIsIgnoredOnOtherStatusesAndWhenGarbage() {
    ScriptedChain chain = get().status(500, "Retry-After", "7").status(503, "Retry-After", "soon")
        .status(200);
    run(chain).close();
    assertEquals(List.of(100 * MS, 200 * MS), clock.sleeps(), "the backoff applies");
  }

  @Test
  void retryAfterIsCappedByItsOwnMaximumNotTheBackoffMaximum() {
    deadline = Duration.ofMinutes(2);
    ScriptedChain chain = get().status(503, "Retry-After", "3600").status(200);
    run(chain).close();
    assertEquals(List.of(60_000 * MS), clock.sleeps(), "default cap 60 s, backoff max is 1 s");

    retry = retry.maxRetryAfter(Duration.ofSeconds(5));
    ScriptedChain capped = get().status(429, "Retry-After", "10").status(200);
    run(capped).close();
    assertEquals(5000 * MS, clock.sleeps().get(1));
  }

  @Test
  void aRetryAfterBeyondTheDeadlineFailsAtOnceWithTheServersHint() {
    deadline = Duration.ofSeconds(2);
    ScriptedChain chain = get().status(503, "Retry-After", "30");
    HttpStatusException e = assertInstanceOf(HttpStatusException.class, fails(chain));
    assertTrue(clock.sleeps().isEmpty(), "no sleep into a certain failure");
    assertEquals(1, e.attempts());
    assertTrue(e.getMessage().contains("Retry-After: 30"), e.getMessage());
    assertTrue(e.getMessage().contains("only 2s of the deadline remain"), e.getMessage());
    assertTrue(listener.scheduled.isEmpty());
  }

  @Test
  void aBackoffBeyondTheDeadlineFailsAtOnce() {
    deadline = Duration.ofMillis(250);
    ScriptedChain chain = get().status(503).status(503).status(200);
    HttpStatusException e = assertInstanceOf(HttpStatusException.class, fails(chain));
    // 100 ms fits in 250 ms; the next 200 ms does not fit in the 150 ms left.
    assertEquals(List.of(100 * MS), clock.sleeps());
    assertEquals(2, e.attempts());
    assertTrue(e.getMessage().contains("after 2 attempts"), e.getMessage());
    assertTrue(e.getMessage().contains("next wait (200ms) does not fit in the 150ms left"),
        e.getMessage());
    assertEquals(1, chain.remainingSteps());
  }

  @Test
  void theBudgetEndsRetriesAndTellsTheListener() {
    retry = retry.maxAttempts(3);
    RetryInterceptor shared = new RetryInterceptor(retry, new FrozenClock(), () -> wallMillis);
    int sent = 0;
    int cutShort = 0;
    ApiException last = null;
    // 100 calls against a total outage, with time standing still: 100 calls + the floor of
    // 10/s * 10 s + 20% of 100 calls = 220 attempts, not 300.
    for (int i = 0; i < 100; i++) {
      ScriptedChain chain = get().status(503).status(503).status(503);
      last = assertThrows(ApiException.class, () -> shared.intercept(chain));
      sent += chain.ctx.attemptsSent();
      cutShort += chain.ctx.attemptsSent() < 3 ? 1 : 0;
    }
    assertEquals(220, sent);
    assertEquals(cutShort, listener.budgetExhausted, "once per call the budget cut short");
    assertTrue(cutShort > 0);
    assertTrue(last.getMessage().contains("retry budget for api.test:8080 is exhausted"),
        last.getMessage());
  }

  @Test
  void aRetryInterruptedInItsBackoffGivesItsBudgetBack() {
    retry = retry.maxAttempts(3);
    RetryInterceptor shared = new RetryInterceptor(retry, clock, () -> wallMillis);
    // 150 calls each interrupted in their first backoff: 150 retries taken from a budget of
    // 10/s x 10 s + 20% of the calls (130), none sent. Each must come back.
    for (int i = 0; i < 150; i++) {
      ScriptedChain chain = get().then((c, r) -> {
        Thread.currentThread().interrupt();
        throw new TransportException("reset", null, c.attemptsSent(), Kind.IO);
      });
      try {
        TransportException e = assertInstanceOf(TransportException.class,
            assertThrows(ApiException.class, () -> shared.intercept(chain)));
        assertEquals(Kind.CANCELLED, e.kind());
      } finally {
        Thread.interrupted();
      }
    }
    ScriptedChain chain = get().status(503).status(503).status(200);
    shared.intercept(chain).close();
    assertEquals(3, chain.ctx.attemptsSent(), "the budget still has the retries nobody sent");
    assertEquals(0, listener.budgetExhausted);
  }

  @Test
  void aLightlyUsedClientAlwaysMakesItsAttempts() {
    retry = retry.maxAttempts(4);
    RetryInterceptor shared = new RetryInterceptor(retry, clock, () -> wallMillis);
    // One call a second, each failing three times: 3 retries/s is under the 10/s floor.
    for (int i = 0; i < 120; i++) {
      ScriptedChain chain = get().status(503).status(503).status(503).status(200);
      shared.intercept(chain).close();
      assertEquals(4, chain.ctx.attemptsSent(), "call " + i);
      clock.advance(1000 * MS);
    }
    assertEquals(0, listener.budgetExhausted);
  }

  @Test
  void noBudgetLetsEveryCallMakeAllItsAttempts() {
    retry = retry.maxAttempts(3).noBudget();
    RetryInterceptor shared = new RetryInterceptor(retry, clock, () -> wallMillis);
    int sent = 0;
    for (int i = 0; i < 100; i++) {
      ScriptedChain chain = get().status(503).status(503).status(503);
      assertThrows(ApiException.class, () -> shared.intercept(chain));
      sent += chain.ctx.attemptsSent();
    }
    assertEquals(300, sent);
  }

  @Test
  void circuitOpenIsNotRetriedByDefault() {
    CircuitOpenException open =
        new CircuitOpenException("open", "api.test:8080", Duration.ofMillis(500), 0);
    ScriptedChain chain = get().refused(open);
    assertSame(open, fails(chain));
    assertEquals(0, open.attempts());
  }

  @Test
  void circuitOpenIsRetriedAfterTheBreakersWaitWhenEnabledAndItFits() {
    retry = retry.retryWhenCircuitOpen(true);
    ScriptedChain chain = get().status(503)
        .refused(new CircuitOpenException("open", "api.test:8080", Duration.ofMillis(700), 1))
        .status(200);
    run(chain).close();
    // The backoff would be 200 ms; the breaker asks for 700 ms.
    assertEquals(List.of(100 * MS, 700 * MS), clock.sleeps());
  }

  @Test
  void circuitOpenIsNotRetriedWhenTheBreakersWaitExceedsTheDeadline() {
    retry = retry.retryWhenCircuitOpen(true);
    deadline = Duration.ofSeconds(1);
    ScriptedChain chain = get()
        .refused(new CircuitOpenException("open", "api.test:8080", Duration.ofSeconds(5), 0));
    CircuitOpenException e = assertInstanceOf(CircuitOpenException.class, fails(chain));
    assertEquals(0, e.attempts(), "never sent");
    assertTrue(clock.sleeps().isEmpty());
    assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
  }

  @Test
  void aBreakersWaitThatDoesNotFitIsNamedAsTheBreakersNotAsTheNextWait() {
    // The message read "the next wait (5s) does not fit", 5 s being no backoff of the caller's.
    retry = retry.retryWhenCircuitOpen(true);
    deadline = Duration.ofSeconds(1);
    ScriptedChain chain = get().status(503)
        .refused(new CircuitOpenException("open", "api.test:8080", Duration.ofSeconds(5), 1));
    CircuitOpenException e = assertInstanceOf(CircuitOpenException.class, fails(chain));
    assertTrue(e.getMessage().endsWith("stopped: the wait for circuit breaker api.test:8080 to "
        + "admit a probe (5s) does not fit in the 900ms left of the deadline)"), e.getMessage());
  }

  @Test
  void circuitOpenIsRetriedWhenEnabledBesideAnExceptionRuleThatSaysNothingOfIt() {
    // retryWhenCircuitOpen(true) was silently ignored once retryOnException was set, while
    // toString() said "retries open circuits".
    retry = retry.retryOnException(e -> e instanceof TransportException).retryWhenCircuitOpen(true);
    assertTrue(retry.toString().contains("retries open circuits"), retry.toString());
    ScriptedChain chain = get()
        .refused(new CircuitOpenException("open", "api.test:8080", Duration.ofMillis(700), 0))
        .status(200);
    run(chain).close();
    assertEquals(1, chain.ctx.attemptsSent());
    assertEquals(List.of(700 * MS), clock.sleeps());
  }

  @Test
  void statusPredicateReplacesTheDefaultStatuses() {
    retry = retry.retryOnStatus(code -> code == 404);
    ScriptedChain notFound = get().status(404).status(200);
    run(notFound).close();
    assertEquals(2, notFound.ctx.attemptsSent());

    ScriptedChain unavailable = get().status(503);
    try (Response r = run(unavailable)) {
      assertEquals(503, r.code(), "503 is no longer retried");
    }
  }

  @Test
  void responsePredicateCanRetryASuccessAndReturnsItWhenAttemptsRunOut() {
    retry = retry.maxAttempts(2).retryOnResponse(r -> r.header("X-Pending") != null);
    ScriptedChain chain = get().status(200, "X-Pending", "1").status(200, "X-Pending", "1");
    try (Response r = run(chain)) {
      assertEquals(200, r.code());
    }
    assertEquals(2, chain.ctx.attemptsSent());
    assertTrue(chain.bodies.get(0).closed);
  }

  @Test
  void aThrowingResponsePredicatePropagatesAndClosesTheResponse() {
    retry = retry.retryOnResponse(r -> {
      throw new IllegalStateException("predicate bug");
    });
    ScriptedChain chain = get().status(200);
    assertThrows(IllegalStateException.class, () -> run(chain));
    assertTrue(chain.bodies.get(0).closed);
  }

  @Test
  void exceptionPredicateReplacesTheDefaultRulesButNeverRetriesCancellation() {
    retry = retry.retryOnException(e -> e instanceof DeserializationException);
    ScriptedChain chain = get().then((c, r) -> {
      throw new DeserializationException("truncated", null, 1);
    }).status(200);
    run(chain).close();
    assertEquals(2, chain.ctx.attemptsSent());

    ScriptedChain io = get().fails(Kind.IO, true);
    assertEquals(Kind.IO, ((TransportException) fails(io)).kind(), "IO no longer retried");

    retry = retry.retryOnException(e -> true);
    ScriptedChain cancelled = get().fails(Kind.CANCELLED, true);
    assertEquals(Kind.CANCELLED, ((TransportException) fails(cancelled)).kind());
  }

  @Test
  void listenerAndDebugLogSeeEveryRetryWithAttemptDelayAndReason() {
    Logger logger = (Logger) LoggerFactory.getLogger(RetryInterceptor.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    Level before = logger.getLevel();
    logger.setLevel(Level.DEBUG);
    try {
      ScriptedChain chain = get().status(503, "Retry-After", "2").fails(Kind.CONNECT, false)
          .status(200);
      run(chain).close();
    } finally {
      logger.detachAppender(appender);
      logger.setLevel(before);
    }
    assertEquals(List.of("2s HTTP 503, Retry-After 2s", "200ms connect failure"),
        listener.scheduled);
    List<String> lines = appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    assertEquals(2, lines.size(), lines.toString());
    assertEquals("GET http://api.test:8080/things/1: attempt 1 of 4 failed"
        + " (HTTP 503, Retry-After 2s); retrying in 2s", lines.get(0));
    assertEquals("GET http://api.test:8080/things/1: attempt 2 of 4 failed"
        + " (connect failure); retrying in 200ms", lines.get(1));
    assertTrue(appender.list.stream().allMatch(e -> e.getLevel() == Level.DEBUG));
  }

  @Test
  void aListenerThatThrowsDoesNotBreakTheCall() {
    ScriptedChain chain = new ScriptedChain(ScriptedChain.get(), clock, deadline, true,
        new CallListener() {
          @Override
          public void retryScheduled(CallContext call, Duration delay, String reason) {
            throw new IllegalStateException("listener bug");
          }
        }).status(503).status(200);
    run(chain).close();
    assertEquals(2, chain.ctx.attemptsSent());
  }

  @Test
  void anInterruptDuringBackoffCancelsTheCall() {
    ScriptedChain interrupted = get().then((c, r) -> {
      Thread.currentThread().interrupt();
      throw new TransportException("reset", null, c.attemptsSent(), Kind.IO);
    });
    try {
      TransportException e = assertInstanceOf(TransportException.class, fails(interrupted));
      assertEquals(Kind.CANCELLED, e.kind());
      assertEquals(1, e.attempts());
      assertEquals(1, e.getSuppressed().length, "the failure before the interrupt");
      assertTrue(Thread.currentThread().isInterrupted(), "interrupt status kept");
    } finally {
      Thread.interrupted();
    }
  }

  @Test
  void noneSendsOnceAndReturnsTheResponseForTheBoundary() {
    retry = Retry.none();
    ScriptedChain chain = get().status(503);
    try (Response r = run(chain)) {
      assertEquals(503, r.code());
    }
    assertEquals(List.of(1), chain.attemptsSeen);
  }

  @Test
  void seededJitterGivesReproducibleWaits() {
    retry = retry.jitter(Jitter.FULL).random(new Random(42));
    ScriptedChain a = get().status(503).status(503).status(503).status(200);
    run(a).close();
    List<Long> first = clock.sleeps();
    retry = retry.random(new Random(42));
    ScriptedChain b = get().status(503).status(503).status(503).status(200);
    run(b).close();
    assertEquals(first, clock.sleeps().subList(3, 6));
    for (int i = 0; i < 3; i++) {
      assertTrue(first.get(i) <= (100L << i) * MS, "full jitter within exp: " + first);
    }
  }

  @Test
  void toStringDescribesTheEffectiveSettings() {
    assertEquals("Retry[4 attempts, PT0.1S..PT1S x2.0, jitter NONE, Retry-After up to PT1M,"
        + " budget 0.2 of calls per PT10S + 10/s per host]", interceptor().toString());
    assertEquals("Retry[none]", new RetryInterceptor(Retry.none(), clock).toString());
  }

  /** Time stands still: sleeps return at once and move nothing, so no budget slot expires. */
  private static final class FrozenClock implements NanoClock {
    @Override
    public long nanoTime() {
      return 42;
    }

    @Override
    public void sleepNanos(long nanos) {}
  }

  /** Records what the policy told the listener. */
  private static final class RecordingListener implements CallListener {
    final List<String> scheduled = new CopyOnWriteArrayList<>();
    volatile int budgetExhausted;

    @Override
    public void retryScheduled(CallContext call, Duration delay, String reason) {
      scheduled.add(RetryInterceptor.format(delay.toNanos()) + " " + reason);
    }

    @Override
    public void retryBudgetExhausted(CallContext call) {
      budgetExhausted++;
    }
  }
}
