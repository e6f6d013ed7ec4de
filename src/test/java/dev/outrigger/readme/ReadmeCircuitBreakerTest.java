package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HoldingServer;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** README "Circuit breaker". */
class ReadmeCircuitBreakerTest {

  /**
   * "What counts as a failure. ... a DeadlineExceededException that cut a sent attempt": over a
   * real socket, two calls whose deadline cut the attempt the server held open the breaker.
   * "Each transition is logged at INFO on the dev.outrigger.CircuitBreaker logger with its reason
   * ... and reported to CallListener.breakerTransition".
   */
  @Test
  void attemptsCutByTheDeadlineAreFailuresAndTheTransitionIsLoggedAndReported() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger("dev.outrigger.CircuitBreaker");
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    List<String> transitions = new CopyOnWriteArrayList<>();
    try (HoldingServer server = new HoldingServer();
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.none()).deadline(Duration.ofMillis(500))
            .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2)
                .minimumNumberOfCalls(2).build())
            .addListener(new CallListener() {
              @Override
              public void breakerTransition(String key, CircuitBreaker.State from,
                  CircuitBreaker.State to) {
                transitions.add(key + " " + from + " -> " + to);
              }
            })
            .build()) {
      String host = server.url().substring("http://".length());
      for (int i = 0; i < 2; i++) {
        DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
            () -> client.get("/held").execute(String.class));
        assertEquals(1, e.attempts());
      }
      assertEquals(CircuitBreaker.State.OPEN, client.breaker(host).snapshot().state());
      assertEquals(0, assertThrows(CircuitOpenException.class,
          () -> client.get("/held").execute(String.class)).attempts());
      assertEquals(List.of(host + " CLOSED -> OPEN"), transitions);
      List<ILoggingEvent> lines = appender.list.stream()
          .filter(e -> e.getFormattedMessage().contains(host)).toList();
      assertEquals(1, lines.size(), lines.toString());
      assertEquals(Level.INFO, lines.get(0).getLevel());
      String line = lines.get(0).getFormattedMessage();
      assertTrue(line.startsWith("circuit breaker " + host + ": CLOSED -> OPEN (failure rate "
          + "100.0% >= 50.0% over 2 calls; next probe in "), line);
    } finally {
      logger.detachAppender(appender);
    }
  }

  /**
   * "What counts as a failure. A TransportException of kind CONNECT, TLS, TIMEOUT, IO or PROTOCOL
   * (a malformed answer, a redirect loop), a DeadlineExceededException that cut a sent attempt,
   * and any 5xx": malformed answers open the breaker as failures.
   */
  @Test
  void malformedAnswersAreFailures() throws Exception {
    try (MockWebServer server = new MockWebServer()) {
      server.start();
      for (int i = 0; i < 4; i++) {
        server.enqueue(new MockResponse.Builder().status("HTTP/1.1 abc Garbage").build());
      }
      try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
          .retry(Retry.none())
          .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2)
              .build())
          .build()) {
        for (int i = 0; i < 2; i++) {
          TransportException e = assertThrows(TransportException.class,
              () -> client.get("/x").execute(String.class));
          assertEquals(TransportException.Kind.PROTOCOL, e.kind(), e.getMessage());
        }
        String host = server.getHostName() + ":" + server.getPort();
        assertEquals(CircuitBreaker.State.OPEN, client.breaker(host).snapshot().state());
      }
    }
  }

  /** The same claim on the default breaker's own predicate: every kind listed, no other. */
  @Test
  void theDefaultPredicateCountsTheListedKinds() {
    CircuitBreaker d = CircuitBreaker.defaults();
    for (TransportException.Kind kind : TransportException.Kind.values()) {
      boolean listed = switch (kind) {
        case CONNECT, TLS, TIMEOUT, IO, PROTOCOL -> true;
        default -> false;
      };
      assertEquals(listed, d.failureException().test(new TransportException("x", null, 1, kind)),
          kind.name());
    }
  }
}
