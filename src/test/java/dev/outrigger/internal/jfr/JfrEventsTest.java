package dev.outrigger.internal.jfr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CircuitBreaker.State;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.internal.RealCallContext;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import jdk.jfr.consumer.RecordingStream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JfrEventsTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @TempDir
  Path tmp;

  private ApiClient client;

  @AfterEach
  void tearDown() throws InterruptedException {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }

  private ApiClient client(CallInterceptor... attemptInterceptors) {
    ApiClient.Builder b = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none());
    for (CallInterceptor i : attemptInterceptors) {
      b.addAttemptInterceptor(i);
    }
    client = b.build();
    return client;
  }

  private String host() {
    return server.getHostName() + ":" + server.getPort();
  }

  /** Events of this test's server (other tests' clients may have left some in the JVM). */
  private List<RecordedEvent> read(Recording r, String name) throws Exception {
    if (r.getState() == jdk.jfr.RecordingState.RUNNING) {
      r.stop();
    }
    Path file = tmp.resolve("outrigger.jfr");
    r.dump(file);
    return RecordingFile.readAllEvents(file).stream()
        .filter(e -> e.getEventType().getName().equals(name))
        .filter(e -> !e.hasField("host") || host().equals(e.getString("host")))
        .toList();
  }

  private static CallInterceptor emitting(Consumer<RealCallContext> event) {
    return chain -> {
      event.accept((RealCallContext) chain.context());
      return chain.proceed(chain.request());
    };
  }

  @Test
  void recordsEachCallAndAttemptWithHostMethodStatusAndElapsedTime() throws Exception {
    client();
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    server.enqueue(new MockResponse.Builder().code(503).body("busy").build());
    try (Recording r = new Recording()) {
      r.enable("dev.outrigger.Call").withThreshold(Duration.ZERO);
      r.enable("dev.outrigger.Attempt").withThreshold(Duration.ZERO);
      r.start();

      client.get("/posts").query("api_key", "s3cr3t").execute(String.class);
      assertThrows(HttpStatusException.class,
          () -> client.delete("/posts/1").execute(String.class));

      List<RecordedEvent> calls = read(r, "dev.outrigger.Call");
      assertEquals(2, calls.size(), calls::toString);
      RecordedEvent ok = calls.get(0);
      assertEquals("GET", ok.getString("method"));
      assertEquals(200, ok.getInt("status"));
      assertEquals(1, ok.getInt("attempts"));
      assertEquals("SUCCESS", ok.getString("outcome"));
      assertTrue(ok.getDuration().toNanos() > 0);
      assertTrue(ok.getString("url").startsWith(server.url("/v1/posts").toString()));
      assertFalse(ok.getString("url").contains("s3cr3t"), ok.getString("url"));
      assertFalse(ok.getStackTrace().getFrames().isEmpty(), "call events carry the caller");
      RecordedEvent failed = calls.get(1);
      assertEquals("DELETE", failed.getString("method"));
      assertEquals(503, failed.getInt("status"));
      assertEquals("SERVER_ERROR", failed.getString("outcome"));
      assertTrue(failed.getString("error").contains("503"), failed.getString("error"));

      List<RecordedEvent> attempts = read(r, "dev.outrigger.Attempt");
      assertEquals(2, attempts.size(), attempts::toString);
      assertEquals(1, attempts.get(0).getInt("attempt"));
      assertEquals(200, attempts.get(0).getInt("status"));
      assertEquals(503, attempts.get(1).getInt("status"));
      assertTrue(ok.getDuration().compareTo(attempts.get(0).getDuration()) >= 0,
          "the call spans its attempt");
    }
  }

  @Test
  void recordsRetryBackoffsRateLimitWaitsInFlightWaitsAndBreakerTransitions() throws Exception {
    client(emitting(ctx -> {
      ctx.listener().retryScheduled(ctx, Duration.ofMillis(150), "status 503");
      ctx.listener().rateLimitWaited(ctx, "api-key-1", Duration.ofMillis(30));
      ctx.listener().rateLimitRejected(ctx, "api-key-1", Duration.ofSeconds(2));
      ctx.listener().inFlightWaited(ctx, Duration.ofMillis(4));
      ctx.listener().breakerTransition(ctx.host(), State.CLOSED, State.OPEN);
    }));
    server.enqueue(new MockResponse.Builder().code(200).build());
    try (Recording r = new Recording()) {
      r.enable("dev.outrigger.RetryBackoff");
      r.enable("dev.outrigger.RateLimit");
      r.enable("dev.outrigger.InFlightWait");
      r.enable("dev.outrigger.BreakerTransition");
      r.start();

      client.get("/x").execute(String.class);

      List<RecordedEvent> retries = read(r, "dev.outrigger.RetryBackoff");
      assertEquals(1, retries.size());
      assertEquals(Duration.ofMillis(150), retries.get(0).getDuration("delay"));
      assertEquals("status 503", retries.get(0).getString("reason"));
      assertEquals(1, retries.get(0).getInt("attempt"));
      List<RecordedEvent> limits = read(r, "dev.outrigger.RateLimit");
      assertEquals(2, limits.size());
      assertEquals(Duration.ofMillis(30), limits.get(0).getDuration("wait"));
      assertFalse(limits.get(0).getBoolean("rejected"));
      assertEquals(Duration.ofSeconds(2), limits.get(1).getDuration("wait"));
      assertTrue(limits.get(1).getBoolean("rejected"));
      assertEquals(Duration.ofMillis(4),
          read(r, "dev.outrigger.InFlightWait").get(0).getDuration("wait"));
      List<RecordedEvent> transitions = read(r, "dev.outrigger.BreakerTransition").stream()
          .filter(e -> e.getString("breaker").equals(host())).toList();
      assertEquals(1, transitions.size());
      assertEquals("CLOSED", transitions.get(0).getString("from"));
      assertEquals("OPEN", transitions.get(0).getString("to"));
    }
  }

  @Test
  void aRefusalWithNoKnownWaitRecordsItsWaitAsNotAvailable() throws Exception {
    client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none())
        .circuitBreaker(dev.outrigger.CircuitBreaker.none())
        .clientThrottling(1)
        .build();
    server.setDispatcher(new mockwebserver3.Dispatcher() {
      @Override
      public MockResponse dispatch(mockwebserver3.RecordedRequest request) {
        return new MockResponse.Builder().code(503).build();
      }
    });
    try (Recording r = new Recording()) {
      r.enable("dev.outrigger.RateLimit");
      r.start();

      // Every answer a 503: with K = 1 the client-side throttle soon refuses, with no wait.
      boolean refused = false;
      for (int i = 0; i < 200 && !refused; i++) {
        try {
          client.get("/busy").execute(String.class);
        } catch (HttpStatusException e) {
          assertEquals(503, e.status());
        } catch (dev.outrigger.RateLimitedException e) {
          refused = true;
        }
      }
      assertTrue(refused, "the throttle never refused");

      List<RecordedEvent> limits = read(r, "dev.outrigger.RateLimit");
      assertEquals(1, limits.size(), limits::toString);
      assertTrue(limits.get(0).getBoolean("rejected"));
      // JFR's "no value" for a timespan (the jfr tool prints N/A), not a wait of -1 ns.
      assertEquals(Long.MIN_VALUE, limits.get(0).getLong("wait"));
      assertTrue(limits.get(0).toString().contains("wait = N/A"), limits.get(0).toString());
    }
  }

  @Test
  void recordsTheRetryPolicysBackoffsBetweenAttempts() throws Exception {
    client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(2))
        .build();
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().code(200).build());
    try (Recording r = new Recording()) {
      r.enable("dev.outrigger.RetryBackoff");
      r.enable("dev.outrigger.Attempt").withThreshold(Duration.ZERO);
      r.start();

      client.get("/again").execute(String.class);

      List<RecordedEvent> backoffs = read(r, "dev.outrigger.RetryBackoff");
      assertEquals(1, backoffs.size());
      assertEquals(1, backoffs.get(0).getInt("attempt"));
      assertTrue(backoffs.get(0).getString("reason").startsWith("HTTP 503"));
      assertTrue(backoffs.get(0).getDuration("delay").compareTo(Duration.ofMillis(2)) <= 0);
      List<RecordedEvent> attempts = read(r, "dev.outrigger.Attempt");
      assertEquals(List.of(1, 2), attempts.stream().map(e -> e.getInt("attempt")).toList());
      assertEquals(List.of(503, 200), attempts.stream().map(e -> e.getInt("status")).toList());
    }
  }

  @Test
  void byDefaultRecordsCallsSlowerThanTheThreshold() throws Exception {
    client();
    server.enqueue(new MockResponse.Builder().code(200)
        .headersDelay(100, TimeUnit.MILLISECONDS).build());
    try (Recording r = new Recording()) {
      // No settings: the events' own defaults apply (enabled, 20 ms threshold).
      r.start();

      client.get("/slow").execute(String.class);

      List<RecordedEvent> calls = read(r, "dev.outrigger.Call");
      assertEquals(1, calls.size());
      assertTrue(calls.get(0).getDuration().compareTo(Duration.ofMillis(100)) >= 0);
    }
  }

  @Test
  void recordsNothingForADisabledEvent() throws Exception {
    client();
    server.enqueue(new MockResponse.Builder().code(200)
        .headersDelay(50, TimeUnit.MILLISECONDS).build());
    try (Recording r = new Recording()) {
      r.disable("dev.outrigger.Call");
      r.enable("dev.outrigger.Attempt").withThreshold(Duration.ZERO);
      r.start();

      client.get("/quiet").execute(String.class);

      assertEquals(List.of(), read(r, "dev.outrigger.Call"));
      assertEquals(1, read(r, "dev.outrigger.Attempt").size());
    }
  }

  @Test
  void streamsCallEventsWhileTheyHappen() throws Exception {
    client();
    server.enqueue(new MockResponse.Builder().code(204).build());
    List<RecordedEvent> seen = new CopyOnWriteArrayList<>();
    CountDownLatch got = new CountDownLatch(1);
    try (RecordingStream rs = new RecordingStream()) {
      rs.enable("dev.outrigger.Call").withThreshold(Duration.ZERO);
      rs.onEvent("dev.outrigger.Call", e -> {
        if (host().equals(e.getString("host"))) {
          seen.add(e);
          got.countDown();
        }
      });
      rs.startAsync();

      client.put("/stream").execute(String.class);

      assertTrue(got.await(30, TimeUnit.SECONDS), "no call event streamed");
      assertEquals("PUT", seen.get(0).getString("method"));
      assertEquals(204, seen.get(0).getInt("status"));
    }
  }

  @Test
  void keepsNoStateInTheCallWhenNoRecordingRuns() {
    client(emitting(ctx -> {
      assertEquals(null, ctx.jfrCall());
      assertEquals(null, ctx.jfrAttempt());
    }));
    server.enqueue(new MockResponse.Builder().code(200).build());

    client.get("/off").execute(String.class);
  }

  @Test
  void theCallEventsAreSkippedExactlyWhileNoRecordingRuns() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        jdk.jfr.FlightRecorder.getFlightRecorder().getRecordings().stream()
            .noneMatch(r -> r.getState() == jdk.jfr.RecordingState.RUNNING),
        "a recording of the JVM's own runs (-XX:StartFlightRecording)");
    assertEquals(false, JfrListener.recording(), "no recording runs at first");
    try (Recording r = new Recording()) {
      r.enable("dev.outrigger.Call").withThreshold(Duration.ZERO);
      r.start();
      assertEquals(true, JfrListener.recording(), "a recording started");
      r.stop();
      assertEquals(false, JfrListener.recording(), "the recording stopped");
    }
  }
}
