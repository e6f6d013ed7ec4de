package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.DeserializationException;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Every attempt shows once in each account, whatever ends it: the client's logger has one DEBUG
 * line for it, and the listener an {@code attemptEnd} for its {@code attemptStart}.
 */
class AttemptLogLinesTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private final Logger clientLog = (Logger) LoggerFactory.getLogger("dev.outrigger.ApiClient");
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final CallListener recorder = new CallListener() {
    @Override
    public void attemptStart(CallContext ctx) {
      events.add("attemptStart " + ctx.attempt());
    }

    @Override
    public void attemptEnd(CallContext ctx, int status, Throwable error, Duration elapsed) {
      events.add("attemptEnd " + ctx.attempt() + " " + status + " "
          + (error == null ? "-" : error.getClass().getSimpleName()));
    }
  };

  AttemptLogLinesTest() {
    lines.start();
    clientLog.addAppender(lines);
  }

  @AfterEach
  void detach() {
    clientLog.detachAppender(lines);
    IdleConnectionCheck.afterNanos = IdleConnectionCheck.AFTER_NANOS;
  }

  private List<String> attemptLines() {
    return lines.list.stream().map(ILoggingEvent::getFormattedMessage)
        .filter(m -> m.contains("(attempt ")).collect(Collectors.toList());
  }

  @Test
  void anExceptionFromAnOkHttpInterceptorEndsTheAttemptItStarted() {
    server.enqueue(new MockResponse.Builder().body("ok").build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .addListener(recorder)
        .addOkHttpInterceptor(chain -> {
          throw new IllegalStateException("signing key unavailable");
        })
        .build()) {
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals("signing key unavailable", e.getMessage());
    }
    assertEquals(List.of("attemptStart 1", "attemptEnd 1 -1 IllegalStateException"), events);
    assertEquals(1, attemptLines().size(), attemptLines().toString());
    assertTrue(attemptLines().get(0).contains("signing key unavailable"), attemptLines().get(0));
  }

  @Test
  void aBodyRefusedAsTooLargeHasItsLine() {
    server.enqueue(new MockResponse.Builder().body("x".repeat(10_000)).build());
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .maxResponseBytes(1000).addListener(recorder).build()) {
      assertThrows(DeserializationException.class, () -> client.get("/x").execute(String.class));
    }
    assertEquals(List.of("attemptStart 1", "attemptEnd 1 200 DeserializationException"), events);
    assertEquals(1, attemptLines().size(), lines.list.toString());
    String line = attemptLines().get(0);
    assertTrue(line.matches(".*-> 200 in \\d+ ms \\(attempt 1\\), body refused: the response"
        + " body .*if this is expected"), line);
    // The call and its status once, not again from the refusal's own message.
    assertEquals(line.indexOf("-> 200"), line.lastIndexOf("-> 200"), line);
  }

  @Test
  void aStaleConnectionSetAsideInsideTheAttemptLeavesOneLineForIt() throws Exception {
    IdleConnectionCheck.afterNanos = 1;
    try (IdleClosingServer idle = new IdleClosingServer(100);
        ApiClient client = ApiClient.builder().baseUrl(idle.url()).addListener(recorder)
            .build()) {
      client.get("/warm").execute(String.class);
      idle.awaitIdleClosed(1);
      lines.list.clear();
      events.clear();
      ApiResponse<String> r = client.post("/orders").json(Map.of("i", 1)).send(String.class);
      assertEquals(1, r.attempts());
      assertEquals(List.of("GET /warm HTTP/1.1", "POST /orders HTTP/1.1"), idle.requests);
    }
    assertEquals(List.of("attemptStart 1", "attemptEnd 1 200 -"), events);
    assertEquals(1, attemptLines().size(), attemptLines().toString());
  }
}
