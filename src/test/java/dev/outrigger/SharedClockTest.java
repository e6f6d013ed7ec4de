package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.NanoClock;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The policies of one attempt share one clock reading where nothing slow runs between them,
 * and read the clock afresh after anything that may take time (a user's interceptor, a wait).
 */
class SharedClockTest {
  private final FakeClock time = new FakeClock();
  private final AtomicInteger reads = new AtomicInteger();
  private final NanoClock counting = new NanoClock() {
    @Override
    public long nanoTime() {
      reads.incrementAndGet();
      return time.nanoTime();
    }

    @Override
    public void sleepNanos(long nanos) throws InterruptedException {
      time.sleepNanos(nanos);
    }
  };
  private final List<String> deadlineHeaders = new CopyOnWriteArrayList<>();
  private final AtomicInteger requests = new AtomicInteger();
  private HttpServer server;

  @BeforeEach
  void start() throws IOException {
    server = ClientTestSupport.jdkServer(exchange -> {
      int n = ClientTestSupport.count(exchange, requests, deadlineHeaders);
      String path = exchange.getRequestURI().getPath();
      if (path.equals("/fail")) {
        ClientTestSupport.bare(exchange, 503, null);
        return;
      }
      if (path.equals("/fourSeconds")) {
        time.advanceMillis(4_000);
      }
      if (path.equals("/flaky") && n == 1) {
        ClientTestSupport.bare(exchange, 503, "1");
        return;
      }
      ClientTestSupport.reply(exchange, 200, "ok");
    });
  }

  @AfterEach
  void stop() {
    attemptLog.setLevel(attemptLogLevel);
    server.stop(0);
  }

  /**
   * The attempt log line at debug level has the attempt's length in it, so the transport reads
   * the clock for it. Tests log at debug (logback-test.xml); these count readings without.
   */
  private final ch.qos.logback.classic.Logger attemptLog =
      (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("dev.outrigger.ApiClient");
  private final ch.qos.logback.classic.Level attemptLogLevel = attemptLog.getLevel();

  @BeforeEach
  void quietAttemptLog() {
    attemptLog.setLevel(ch.qos.logback.classic.Level.INFO);
  }

  private ApiClient.Builder everyPolicy() {
    return ApiClient.builder()
        .baseUrl(ClientTestSupport.url(server))
        .clock(counting)
        .deadline(Duration.ofSeconds(10))
        .rateLimit(RateLimit.perSecond(1000).burst(100))
        .retry(Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(1)).maxAttempts(3))
        .circuitBreaker(CircuitBreaker.defaults());
  }

  @Test
  void aSuccessfulCallWithEveryPolicyReadsTheClockTwiceWhileTheBreakerIsCold() {
    try (ApiClient client = everyPolicy().build()) {
      client.get("/a").execute(String.class); // creates the per-host state
      reads.set(0);

      assertEquals("ok", client.get("/a").execute(String.class));

      // The call's start (shared by the deadline, the breaker, the rate limiter and, with no
      // user code in the chain, the transport) and the attempt's end, for the breaker: below
      // its minimum number of calls a success may bring it to a decision, which is dated.
      // execute() returns the body alone: no elapsed time to read.
      assertEquals(2, reads.get(), "clock readings for one call");
    }
  }

  @Test
  void onceTheBreakerIsWarmASuccessfulCallReadsTheClockOnce() {
    try (ApiClient client = everyPolicy().build()) {
      for (int i = 0; i < 20; i++) {
        client.get("/a").execute(String.class); // the default minimum number of calls
      }
      reads.set(0);

      assertEquals("ok", client.get("/a").execute(String.class));

      // The call's start alone. The 10 s deadline ends any attempt long before the default
      // 60 s slow-call duration, so no attempt can be slow, and a warm count window adds a
      // success without a date: nothing needs the attempt's end.
      assertEquals(1, reads.get(), "clock readings for one call");
    }
  }

  @Test
  void theAttemptLogAtDebugLevelKeepsTheEndReading() {
    try (ApiClient client = everyPolicy().build()) {
      for (int i = 0; i < 20; i++) {
        client.get("/a").execute(String.class);
      }
      attemptLog.setLevel(ch.qos.logback.classic.Level.DEBUG);
      reads.set(0);

      assertEquals("ok", client.get("/a").execute(String.class));

      assertEquals(2, reads.get(), "clock readings for one call");
    }
  }

  @Test
  void aSlowCallDurationWithinTheDeadlineKeepsTheEndReading() {
    try (ApiClient client = everyPolicy()
        .circuitBreaker(CircuitBreaker.builder().slowCallDuration(Duration.ofSeconds(2)).build())
        .build()) {
      for (int i = 0; i < 20; i++) {
        client.get("/a").execute(String.class);
      }
      reads.set(0);

      assertEquals("ok", client.get("/a").execute(String.class));

      // A 2 s attempt would be slow: the breaker times this one.
      assertEquals(2, reads.get(), "clock readings for one call");
    }
  }

  @Test
  void timeAnInterceptorOfTheUsersSpendsAfterTheSendIsTimedWhateverTheDeadline() {
    // A 1 s deadline would end a bare attempt long before the 3 s slow-call duration, but an
    // attempt interceptor of the user's may spend any time after the response arrived.
    try (ApiClient client = everyPolicy().deadline(Duration.ofSeconds(1)).retry(Retry.none())
        .circuitBreaker(CircuitBreaker.builder().slowCallDuration(Duration.ofSeconds(3)).build())
        .addAttemptInterceptor(chain -> {
          okhttp3.Response r = chain.proceed(chain.request());
          time.advanceMillis(4_000);
          return r;
        })
        .build()) {
      assertEquals("ok", client.get("/a").execute(String.class));

      assertEquals(1, client.breakers().get(0).slowCalls(), "the 4 s attempt is slow");
    }
  }

  @Test
  void aBreakerOpenedByASuccessIsDatedFromTheAttemptsEnd() {
    try (ApiClient client = everyPolicy().retry(Retry.none())
        .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2)
            .waitInOpenState(Duration.ofSeconds(5)).build())
        .build()) {
      assertThrows(HttpStatusException.class, () -> client.get("/fail").execute(String.class));
      // 4 s pass while the server answers: this success brings the window to its minimum with
      // half the calls failed, and the breaker opens when the attempt ends, not when it began.
      assertEquals("ok", client.get("/fourSeconds").execute(String.class));

      CircuitBreaker.Snapshot open = client.breakers().get(0);
      assertEquals(CircuitBreaker.State.OPEN, open.state());
      assertEquals(Duration.ofSeconds(5), open.retryAfter());
    }
  }

  @Test
  void sendReadsTheClockOnceMoreForTheResponsesElapsedTime() {
    try (ApiClient client = everyPolicy().build()) {
      client.get("/a").execute(String.class);
      reads.set(0);
      time.advanceMillis(5);

      ApiResponse<String> r = client.get("/a").send(String.class);

      assertEquals(3, reads.get(), "clock readings for one call");
      assertEquals(Duration.ZERO, r.elapsed(), "no fake time passed during the call");
    }
  }

  @Test
  void aUserListenerMakesTheTransportReadTheClockItself() {
    // A listener is user code the transport cannot see past: its own reading, one more after
    // callStart, one after attemptStart (the attempt is timed from there), and the call's end
    // for the listener's elapsed time.
    try (ApiClient client = everyPolicy().addListener(new CallListener() {}).build()) {
      client.get("/a").execute(String.class);
      reads.set(0);

      client.get("/a").execute(String.class);

      assertEquals(6, reads.get(), "clock readings for one call");
    }
  }

  @Test
  void aSlowBreakerKeyFunctionIsNotHiddenFromTheDeadline() {
    // The key function spends 2 s of a 1 s deadline: the attempt must see it and not be sent.
    try (ApiClient client = everyPolicy().deadline(Duration.ofSeconds(1))
        .circuitBreaker(CircuitBreaker.builder().keyedBy(call -> {
          time.advanceMillis(2_000);
          return call.host();
        }).build()).build()) {
      assertThrows(DeadlineExceededException.class,
          () -> client.get("/late").execute(String.class));
      assertEquals(0, requests.get(), "nothing may reach the server");
    }
  }

  @Test
  void aSlowRateLimitKeyFunctionIsNotHiddenFromTheDeadline() {
    try (ApiClient client = everyPolicy().deadline(Duration.ofSeconds(1))
        .rateLimit(RateLimit.perSecond(1000).burst(100).keyedBy(call -> {
          time.advanceMillis(2_000);
          return "tenant";
        })).build()) {
      assertThrows(DeadlineExceededException.class,
          () -> client.get("/late").execute(String.class));
      assertEquals(0, requests.get(), "nothing may reach the server");
    }
  }

  @Test
  void aUserInterceptorThatTakesTimeIsNotHiddenFromTheDeadline() {
    // The interceptor spends 2 s of a 1 s deadline: a reading taken before it must not stand
    // for "now" after it, or the transport would send a call already past its deadline.
    try (ApiClient client = everyPolicy().deadline(Duration.ofSeconds(1))
        .addAttemptInterceptor(chain -> {
          time.advanceMillis(2_000);
          return chain.proceed(chain.request());
        }).build()) {
      assertThrows(DeadlineExceededException.class,
          () -> client.get("/late").execute(String.class));
      assertEquals(0, requests.get(), "nothing may reach the server");
    }
  }

  @Test
  void timeSpentBetweenTwoProceedsOfAnInterceptorCountsAgainstTheSecond() {
    // An attempt interceptor that sees a 401-like answer, spends 2 s (say, refreshing a token)
    // and sends again: the second send must see the time spent, not a reading from the first.
    try (ApiClient client = everyPolicy().deadline(Duration.ofSeconds(3))
        .propagateDeadline("X-Deadline-Ms")
        .addAttemptInterceptor(chain -> {
          okhttp3.Response first = chain.proceed(chain.request());
          first.close();
          time.advanceMillis(2_000);
          return chain.proceed(chain.request());
        }).build()) {
      assertEquals("ok", client.get("/twice").execute(String.class));
    }
    assertEquals(List.of("3000", "1000"), deadlineHeaders);
  }

  @Test
  void aRetryAfterItsBackoffSendsTheBudgetLeftAfterTheBackoff() {
    // 503 with Retry-After: 1, then 200: the retry sleeps 1 s (on the fake clock) of 3 s. No
    // rate limit here: its pause on the 503 would wait, and read the clock, on its own.
    try (ApiClient client = ApiClient.builder().baseUrl(ClientTestSupport.url(server))
        .clock(counting).deadline(Duration.ofSeconds(3))
        .retry(Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(1)).maxAttempts(3))
        .propagateDeadline("X-Deadline-Ms").build()) {
      assertEquals("ok", client.get("/flaky").execute(String.class));
    }
    assertEquals(List.of("3000", "2000"), deadlineHeaders);
  }

  @Test
  void aWaitForARatePermitIsCountedInTheBudgetSentOn() {
    // One permit a second: the second call waits 1 s (on the fake clock) of its 3 s deadline,
    // so the budget it propagates is what is left after the wait, not before it.
    try (ApiClient client = everyPolicy().deadline(Duration.ofSeconds(3))
        .rateLimit(RateLimit.perSecond(1).burst(1))
        .propagateDeadline("X-Deadline-Ms").build()) {
      client.get("/first").execute(String.class);
      client.get("/second").execute(String.class);
    }
    assertEquals(2, deadlineHeaders.size());
    assertEquals(3_000, Long.parseLong(deadlineHeaders.get(0)));
    long second = Long.parseLong(deadlineHeaders.get(1));
    assertTrue(second <= 2_000 && second > 1_900, "budget sent after the wait: " + second + " ms");
  }
}
