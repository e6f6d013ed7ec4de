package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A retry's backoff is one of the client's own waits, as a wait for a rate-limit permit is: a
 * retry that the backoff left a sliver of the deadline (995 ms of a 1 s deadline waited, 5 ms
 * left for a host that answers in 300 ms) and that the deadline then cut is let off on a pass a
 * success of the host's gave, as {@link LocalWaitCutTest}'s cuts are. Before, the backoff sat
 * outside the breaker's reckoning: the cut counted as the host's failure, and a host that
 * answered a 429 and then was given 5 ms had its breaker opened. A host that never answers still
 * opens its breaker through its retries: it gave no pass.
 *
 * <p>The client's clock is a fake one, so the backoff takes no time while the retry's remaining
 * deadline is what the backoff left it, on the real clock the watchdog cuts by.
 */
class BackoffCutTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  private final FakeClock clock = new FakeClock();
  private final List<String> transitions = new CopyOnWriteArrayList<>();
  private ApiClient client;
  private ServerSocket blackhole;

  @AfterEach
  void tearDown() throws Exception {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
    if (blackhole != null) {
      blackhole.close();
    }
  }

  /**
   * A client of {@code baseUrl} on the fake clock, with a 1 s deadline, retries after a fixed
   * {@code backoffMillis} ({@code attempts} in all) and a breaker of the last {@code calls} calls.
   */
  private ApiClient client(String baseUrl, long backoffMillis, int attempts, int calls,
      Duration attemptTimeout) {
    Duration backoff = Duration.ofMillis(backoffMillis);
    return ClientTestSupport.withClock(ApiClient.builder().baseUrl(baseUrl)
        .deadline(Duration.ofSeconds(1)).attemptTimeout(attemptTimeout)
        .retry(Retry.exponential(backoff, backoff).jitter(Jitter.NONE).maxAttempts(attempts))
        .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(calls)
            .minimumNumberOfCalls(calls).failureRateThreshold(0.5)
            .waitInOpenState(Duration.ofSeconds(5)).build())
        .addListener(new CallListener() {
          @Override
          public void breakerTransition(String key, CircuitBreaker.State from,
              CircuitBreaker.State to) {
            transitions.add(from + "->" + to);
          }
        }), clock).build();
  }

  @Test
  void aRetryTheDeadlineCutAfterALongBackoffIsLetOffOnThePassOfTheHostsAnswer() {
    // Answers at once with a 429 (the server is up: a success for the breaker, and a pass),
    // then in 300 ms.
    AtomicInteger seen = new AtomicInteger();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (seen.getAndIncrement() == 0) {
          return new MockResponse.Builder().code(429).build();
        }
        return new MockResponse.Builder().body("ok")
            .headersDelay(300, TimeUnit.MILLISECONDS).build();
      }
    });
    client = client(server.url("/").toString(), 995, 2, 2, null);
    String key = server.getHostName() + ":" + server.getPort();

    // The 429, 995 ms of backoff, and the retry sent with 5 ms of its 1 s left: cut.
    DeadlineExceededException cut = assertThrows(DeadlineExceededException.class,
        () -> client.get("/x").execute(String.class));
    assertEquals(2, cut.attempts(), cut.getMessage());
    assertInstanceOf(HttpStatusException.class, cut.getCause());
    assertEquals(List.of(995_000_000L), clock.sleeps());
    CircuitBreaker.Snapshot s = client.breaker(key).snapshot();
    assertEquals(CircuitBreaker.State.CLOSED, s.state(), s.toString());
    assertEquals(1, s.calls(), "the 429 alone: " + s);
    assertEquals(0, s.failedCalls(), "the cut neither a failure nor a success: " + s);
    assertEquals(List.of(), transitions);
  }

  @Test
  void aRetryTheBackoffLeftMostOfItsDeadlineCountsItsCut() {
    // A 429 at once, then an answer too slow for any deadline here.
    AtomicInteger seen = new AtomicInteger();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (seen.getAndIncrement() == 0) {
          return new MockResponse.Builder().code(429).build();
        }
        return new MockResponse.Builder().body("late")
            .headersDelay(30, TimeUnit.SECONDS).build();
      }
    });
    client = client(server.url("/").toString(), 100, 2, 2, null);
    String key = server.getHostName() + ":" + server.getPort();

    // 100 ms of backoff, then 900 ms on the network, cut: the host's failure.
    assertThrows(DeadlineExceededException.class, () -> client.get("/x").execute(String.class));
    CircuitBreaker.Snapshot s = client.breaker(key).snapshot();
    assertEquals(List.of("CLOSED->OPEN"), transitions, s.toString());
  }

  @Test
  void aHostThatNeverAnswersOpensItsBreakerThroughItsRetriesAndBackoffs() throws Exception {
    // Accepts connections (the kernel's backlog) and never answers.
    blackhole = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    client = client("http://127.0.0.1:" + blackhole.getLocalPort() + "/", 495, 3, 3,
        Duration.ofMillis(200));
    String key = "127.0.0.1:" + blackhole.getLocalPort();

    // Attempts 1 and 2 time out after 200 ms each, with 495 ms of backoff after each; the third
    // is sent with 10 ms of the deadline left and cut. The backoff took more of its time than
    // it left, but the host gave no pass: all three count, and open the breaker.
    DeadlineExceededException cut = assertThrows(DeadlineExceededException.class,
        () -> client.get("/x").execute(String.class));
    assertEquals(3, cut.attempts(), cut.getMessage());
    assertInstanceOf(TransportException.class, cut.getCause());
    assertEquals(List.of(495_000_000L, 495_000_000L), clock.sleeps());
    assertEquals(List.of("CLOSED->OPEN"), transitions);
    assertEquals(3, client.breaker(key).snapshot().failedCalls());
    CircuitOpenException refused = assertThrows(CircuitOpenException.class,
        () -> client.get("/x").execute(String.class));
    assertEquals(0, refused.attempts());
  }
}
