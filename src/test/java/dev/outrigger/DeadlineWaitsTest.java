package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.outrigger.internal.FakeClock;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Waits against the deadline (permit waits, backoffs, the header sent), on a fake clock. */
class DeadlineWaitsTest {
  private final FakeClock time = new FakeClock();
  private final AtomicInteger requests = new AtomicInteger();
  private final List<String> deadlineHeaders = new CopyOnWriteArrayList<>();
  private HttpServer server;

  @BeforeEach
  void start() throws IOException {
    server = ClientTestSupport.jdkServer(exchange -> {
      int n = ClientTestSupport.count(exchange, requests, deadlineHeaders);
      String path = exchange.getRequestURI().getPath();
      if (path.equals("/busy120")) {
        ClientTestSupport.bare(exchange, 503, "120");
      } else if (path.equals("/flaky") && n == 1) {
        ClientTestSupport.bare(exchange, 503, null);
      } else {
        ClientTestSupport.reply(exchange, 200, "ok");
      }
    });
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private String url(String path) {
    return ClientTestSupport.url(server) + path;
  }

  /**
   * The retry policy stops at once when the next wait is >= what is left ("sleeping into a
   * certain deadline failure only wastes the caller's time"), and the rate limiter is documented
   * to refuse a permit wait that cannot fit. A permit wait that takes exactly the time left
   * leaves nothing for the attempt: it is refused at once, not waited out (it used to be).
   */
  @Test
  void aPermitWaitThatTakesAllTheTimeLeftIsRefusedAtOnceNotWaitedOut() {
    try (ApiClient client = ApiClient.builder()
        .clock(time)
        .deadline(Duration.ofSeconds(1))
        .retry(Retry.none())
        .rateLimit(RateLimit.perSecond(1).burst(1))
        .build()) {
      assertEquals("ok", client.get(url("/ok")).execute(String.class)); // takes the one permit
      long before = time.nanoTime();

      ApiException e = assertThrows(ApiException.class,
          () -> client.get(url("/ok")).execute(String.class));

      assertEquals(List.of(), time.sleeps(),
          "waited " + (time.nanoTime() - before) / 1_000_000 + " ms for a permit that left no "
              + "time for the attempt, then failed with: " + e);
      assertInstanceOf(RateLimitedException.class, e, e.toString());
      assertEquals(1, requests.get());
    }
  }

  /**
   * A call with a 1 ms deadline is refused a permit whose wait cannot fit, and the deadline runs
   * out before the refusal reaches the caller (here: while the listener hears of it): the
   * DeadlineExceededException says the call was waiting for a permit, not only "after 4 ms of
   * its 1 ms deadline" with the RateLimitedException left in its cause.
   */
  @Test
  void aDeadlineThatRanOutAsAPermitWasRefusedSaysTheCallWaitedForOne() {
    try (ApiClient client = ApiClient.builder()
        .clock(time)
        .retry(Retry.none())
        .rateLimit(RateLimit.perSecond(10).burst(1))
        .addListener(new CallListener() {
          @Override
          public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
            time.advanceMillis(4);
          }
        })
        .build()) {
      assertEquals("ok", client.get(url("/ok")).execute(String.class)); // takes the one permit

      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> client.get(url("/ok")).deadline(Duration.ofMillis(1)).execute(String.class));

      assertInstanceOf(RateLimitedException.class, e.getCause());
      assertEquals("GET " + url("/ok") + ": deadline exceeded while waiting for a rate-limit "
          + "permit, whose wait could not fit (RateLimitedException, the cause), after 4 ms of "
          + "its 1 ms deadline (0 attempts sent)", e.getMessage());
      assertEquals(1, requests.get());
    }
  }

  /**
   * README: "No wait runs past the call's deadline." The fit check runs before the
   * retryScheduled listener (user code), whose time is part of the wait: a listener that took
   * more than the backoff has the retry sent at once, still within the deadline (the wait once
   * slept past the deadline and ended with a DeadlineExceededException, then dropped the retry
   * the listener had been told of).
   */
  @Test
  void aBackoffNeverSleepsPastTheDeadlineEvenAfterASlowListener() {
    try (ApiClient client = ApiClient.builder()
        .clock(time)
        .deadline(Duration.ofSeconds(1))
        .retry(Retry.exponential(Duration.ofMillis(500), Duration.ofMillis(500)).maxAttempts(2)
            .jitter(Jitter.NONE).noBudget())
        .addListener(new CallListener() {
          @Override
          public void retryScheduled(CallContext call, Duration delay, String reason) {
            time.advanceMillis(600); // e.g. a metrics exporter that blocked
          }
        })
        .build()) {
      long start = time.nanoTime();
      assertEquals("ok", client.get(url("/flaky")).execute(String.class));
      long elapsedMs = (time.nanoTime() - start) / 1_000_000;
      assertTrue(elapsedMs <= 1_000, "the call ended " + elapsedMs
          + " ms after it began, past its 1000 ms deadline; sleeps " + time.sleeps());
      assertEquals(List.of(), time.sleeps(), "the listener took the whole backoff");
      assertEquals(2, requests.get());
    }
  }

  /**
   * With attemptTimeout set, the client abandons each attempt after that long: the propagated
   * header announces that, not the whole call's remaining budget (a server honouring it with
   * Deadline.fromHeader worked on for seconds after the client had hung up).
   */
  @Test
  void thePropagatedBudgetIsNoLongerThanTheAttemptIsAllowed() {
    try (ApiClient client = ApiClient.builder()
        .clock(time)
        .deadline(Duration.ofSeconds(10))
        .attemptTimeout(Duration.ofMillis(200))
        .retry(Retry.none())
        .propagateDeadline("X-Deadline-Ms")
        .build()) {
      assertEquals("ok", client.get(url("/ok")).execute(String.class));
      assertEquals(1, deadlineHeaders.size());
      long sent = Long.parseLong(deadlineHeaders.get(0));
      assertTrue(sent <= 200, "the server was told it has " + sent
          + " ms, but the client cancels this attempt after 200 ms");
    }
  }

  /** README's "Retry-After and the deadline" shows the message as "... only 1.8s of ...". */
  @Test
  void theStoppedMessageReadsAsTheReadmeShowsIt() {
    try (ApiClient client = ApiClient.builder()
        .clock(time)
        .deadline(Duration.ofMillis(1_800))
        .retry(Retry.exponential(Duration.ofMillis(10), Duration.ofMillis(10)).maxAttempts(3))
        .build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get(url("/busy120")).execute(String.class));
      assertEquals(1, requests.get());
      assertTrue(e.getMessage().contains("(stopped: the server asked to retry after 120s "
          + "(Retry-After: 120), capped to 60s, but only 1.8s of the deadline remain)"),
          e.getMessage());
    }
  }

  /**
   * CONTRACT: "When the call gives up early because the next wait ... cannot fit in what remains
   * of the deadline, it throws that last failure, its message saying why it stopped." After a
   * 503 and a backoff, the permit wait for the retry cannot fit: the call throws the 503, saying
   * why it stopped, the refusal suppressed (it threw the RateLimitedException, "after 2
   * attempts, 1 sent", the server's 503 only suppressed).
   */
  @Test
  void aRetryWhosePermitWaitCannotFitEndsWithTheServersFailure() {
    try (ApiClient client = ApiClient.builder()
        .clock(time)
        .deadline(Duration.ofMillis(900))
        .rateLimit(RateLimit.perSecond(1).burst(1))
        .retry(Retry.exponential(Duration.ofMillis(300), Duration.ofMillis(300)).maxAttempts(3)
            .jitter(Jitter.NONE).noBudget())
        .build()) {
      ApiException e = assertThrows(ApiException.class,
          () -> client.get(url("/flaky")).execute(String.class));
      assertEquals(1, requests.get());
      HttpStatusException last = assertInstanceOf(HttpStatusException.class, e, e.toString());
      assertEquals(503, last.status());
    }
  }

  @Test
  void aRefusalThatIsNotAboutTheDeadlineStaysTheCallsFailure() {
    // An attempt interceptor's own quota refuses the retry with a wait that fits: that is the
    // call's failure as it is, not "a permit wait that does not fit the deadline".
    AtomicInteger attempts = new AtomicInteger();
    try (ApiClient client = ApiClient.builder()
        .clock(time)
        .retry(Retry.exponential(Duration.ofMillis(300), Duration.ofMillis(300)).maxAttempts(3)
            .jitter(Jitter.NONE).noBudget())
        .addAttemptInterceptor(chain -> {
          if (attempts.incrementAndGet() > 1) {
            throw new RateLimitedException("our own quota", Duration.ofSeconds(1), 0);
          }
          return chain.proceed(chain.request());
        })
        .build()) {
      RateLimitedException e = assertThrows(RateLimitedException.class,
          () -> client.get(url("/flaky")).execute(String.class));
      assertTrue(e.getMessage().startsWith("our own quota"), e.getMessage());
      assertEquals(1, requests.get());
    }
  }
}
