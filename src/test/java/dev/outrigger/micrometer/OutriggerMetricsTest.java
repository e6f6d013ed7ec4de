package dev.outrigger.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitBreaker.State;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.internal.RealCallContext;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class OutriggerMetricsTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @StartStop
  private final MockWebServer other = new MockWebServer();

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private ApiClient client;

  @AfterEach
  void tearDown() throws InterruptedException {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }

  private ApiClient client(CallListener metrics, CallInterceptor... attemptInterceptors) {
    ApiClient.Builder b = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none()).addListener(metrics);
    for (CallInterceptor i : attemptInterceptors) {
      b.addAttemptInterceptor(i);
    }
    client = b.build();
    return client;
  }

  private String host(MockWebServer s) {
    return s.getHostName() + ":" + s.getPort();
  }

  private Timer timer(String name, String... tags) {
    Timer t = registry.find(name).tags(tags).timer();
    assertNotNull(t, () -> "no timer " + name + " " + List.of(tags) + " in " + meters());
    return t;
  }

  private double count(String name, String... tags) {
    Counter c = registry.find(name).tags(tags).counter();
    return c == null ? 0 : c.count();
  }

  private List<String> meters() {
    return registry.getMeters().stream().map(Meter::getId).map(Object::toString).toList();
  }

  /** Runs {@code event} with the real call context, inside a real call to the server. */
  private static CallInterceptor emitting(Consumer<RealCallContext> event) {
    return chain -> {
      RealCallContext ctx = (RealCallContext) chain.context();
      event.accept(ctx);
      return chain.proceed(chain.request());
    };
  }

  @Test
  void timesCallsAndAttemptsByHostMethodStatusAndOutcome() {
    client(OutriggerMetrics.of(registry));
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    server.enqueue(new MockResponse.Builder().code(503).body("busy").build());

    client.get("/a").execute(String.class);
    client.post("/b").execute(String.class);
    assertThrows(HttpStatusException.class, () -> client.get("/c").execute(String.class));

    String h = host(server);
    assertEquals(1, timer("outrigger.calls",
        "host", h, "method", "GET", "status", "200", "outcome", "SUCCESS").count());
    assertEquals(1, timer("outrigger.calls",
        "host", h, "method", "POST", "status", "200", "outcome", "SUCCESS").count());
    assertEquals(1, timer("outrigger.calls",
        "host", h, "method", "GET", "status", "503", "outcome", "SERVER_ERROR").count());
    assertEquals(1, timer("outrigger.attempts",
        "host", h, "method", "GET", "status", "503", "outcome", "SERVER_ERROR").count());
    assertEquals(3, registry.find("outrigger.attempts").timers().stream()
        .mapToLong(Timer::count).sum());
    assertTrue(timer("outrigger.calls", "outcome", "SUCCESS").totalTime(TimeUnit.NANOSECONDS) > 0);
    // No meter carries a path: the paths /a, /b, /c appear nowhere.
    assertTrue(meters().stream().noneMatch(m -> m.contains("/a") || m.contains("/v1")), meters()
        .toString());
  }

  @Test
  void countsTheRetryPolicysRetriesAndTimesEachAttempt() {
    client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(3))
        .addListener(OutriggerMetrics.of(registry))
        .build();
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "0").build());
    server.enqueue(new MockResponse.Builder().code(200).body("third time").build());

    assertEquals("third time", client.get("/flaky").execute(String.class));

    String h = host(server);
    assertEquals(2, count("outrigger.retries", "host", h, "reason", "http_503"));
    assertEquals(2, timer("outrigger.retry.backoff", "host", h).count());
    assertEquals(2, timer("outrigger.attempts", "host", h, "status", "503").count());
    assertEquals(1, timer("outrigger.attempts", "host", h, "status", "200").count());
    assertEquals(1, timer("outrigger.calls", "host", h, "status", "200", "outcome", "SUCCESS")
        .count());
    assertEquals(1, registry.find("outrigger.calls").timers().size());
  }

  @Test
  void aCallWhoseRetriesRanOutOnAStatusIsTaggedWithThatStatus() {
    client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(2))
        .addListener(OutriggerMetrics.of(registry))
        .build();
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().code(503).build());

    HttpStatusException e =
        assertThrows(HttpStatusException.class, () -> client.get("/down").execute(String.class));
    assertEquals(2, e.attempts());

    String h = host(server);
    assertEquals(1, timer("outrigger.calls",
        "host", h, "method", "GET", "status", "503", "outcome", "SERVER_ERROR").count());
    assertEquals(1, registry.find("outrigger.calls").timers().size(), meters().toString());
  }

  @Test
  void aRefusedConnectionIsAConnectOutcomeWithNoStatus() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    client(OutriggerMetrics.of(registry));

    assertThrows(TransportException.class,
        () -> client.get("http://127.0.0.1:" + port + "/x").execute(String.class));

    assertEquals(1, timer("outrigger.calls", "host", "127.0.0.1:" + port, "status", "NONE",
        "outcome", "CONNECT").count());
    assertEquals(1, timer("outrigger.attempts", "host", "127.0.0.1:" + port, "status", "NONE",
        "outcome", "CONNECT").count());
  }

  @Test
  void countsCallsInProgressUntilTheyEnd() throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        arrived.countDown();
        release.await();
        return new MockResponse.Builder().code(200).body("late").build();
      }
    });
    client(OutriggerMetrics.of(registry));

    Thread caller = Thread.ofVirtual().start(() -> client.get("/slow").execute(String.class));
    assertTrue(arrived.await(10, TimeUnit.SECONDS));
    assertEquals(1, registry.find("outrigger.calls.active").tag("host", host(server))
        .longTaskTimer().activeTasks());
    release.countDown();
    caller.join();

    assertEquals(0, registry.find("outrigger.calls.active").longTaskTimer().activeTasks());
    assertEquals(1, timer("outrigger.calls", "outcome", "SUCCESS").count());
  }

  @Test
  void twoInstancesOnOneClientEachEndTheCallsTheyCountInProgress() throws Exception {
    // One client reporting to two registries (say, Prometheus and a push registry): each
    // instance counts the call in progress and ends its own count when the call ends.
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    SimpleMeterRegistry second = new SimpleMeterRegistry();
    client = ApiClient.builder().baseUrl(server.url("/v1").toString()).retry(Retry.none())
        .addListener(OutriggerMetrics.of(registry)).addListener(OutriggerMetrics.of(second))
        .build();
    assertEquals("ok", client.get("/x").execute(String.class));

    assertEquals(0, registry.find("outrigger.calls.active").longTaskTimer().activeTasks(),
        "the first registry still counts the call in progress");
    assertEquals(0, second.find("outrigger.calls.active").longTaskTimer().activeTasks());
  }

  @Test
  void anInstanceAddedTwiceToOneClientStillEndsTheCallItCountsInProgress() throws Exception {
    // A derived client keeps its parent's listeners: adding the instance again lists it twice.
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    OutriggerMetrics metrics = OutriggerMetrics.of(registry);
    ApiClient parent = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .retry(Retry.none()).addListener(metrics).build();
    client = parent.newBuilder().addListener(metrics).build();
    parent.close();
    assertEquals("ok", client.get("/x").execute(String.class));

    assertEquals(0, registry.find("outrigger.calls.active").longTaskTimer().activeTasks());
  }

  @Test
  void countsRetriesByNormalisedReasonAndTimesTheirBackoff() {
    client(OutriggerMetrics.of(registry), emitting(ctx -> {
      ctx.listener().retryScheduled(ctx, Duration.ofMillis(40), "status 503");
      ctx.listener().retryScheduled(ctx, Duration.ofMillis(60), "status 503");
      ctx.listener().retryScheduled(ctx, Duration.ofMillis(10), "CONNECT");
      ctx.listener().retryBudgetExhausted(ctx);
    }));
    server.enqueue(new MockResponse.Builder().code(200).build());

    client.get("/r").execute(String.class);

    String h = host(server);
    assertEquals(2, count("outrigger.retries", "host", h, "reason", "status_503"));
    assertEquals(1, count("outrigger.retries", "host", h, "reason", "connect"));
    Timer backoff = timer("outrigger.retry.backoff", "host", h);
    assertEquals(3, backoff.count());
    assertEquals(110, backoff.totalTime(TimeUnit.MILLISECONDS), 0.001);
    assertEquals(1, count("outrigger.retry.budget.exhausted", "host", h));
  }

  @Test
  void timesRateLimitAndInFlightWaitsAndCountsRejectionsByHostNotByKey() {
    client(OutriggerMetrics.of(registry), emitting(ctx -> {
      ctx.listener().rateLimitWaited(ctx, "secret-api-key", Duration.ofMillis(25));
      ctx.listener().rateLimitRejected(ctx, "secret-api-key", Duration.ofSeconds(3));
      ctx.listener().inFlightWaited(ctx, Duration.ofMillis(7));
    }));
    server.enqueue(new MockResponse.Builder().code(200).build());

    client.get("/w").execute(String.class);

    String h = host(server);
    Timer waits = timer("outrigger.ratelimit.waits", "host", h);
    assertEquals(1, waits.count());
    assertEquals(25, waits.totalTime(TimeUnit.MILLISECONDS), 0.001);
    assertEquals(1, count("outrigger.ratelimit.rejections", "host", h));
    assertEquals(7, timer("outrigger.inflight.waits", "host", h)
        .totalTime(TimeUnit.MILLISECONDS), 0.001);
    assertTrue(meters().stream().noneMatch(m -> m.contains("secret-api-key")), meters()
        .toString());
  }

  @Test
  void theRejectionsMeterCountsAndDescribesTheClientSideThrottlesRefusals() {
    // The throttle's refusals are RateLimitedExceptions with no wait: the counter takes them,
    // and its description (Prometheus HELP, a dashboard's tooltip) must not say that only a
    // wait that could not fit is counted.
    client = ApiClient.builder().baseUrl(server.url("/v1").toString()).retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none()).clientThrottling(1)
        .addListener(OutriggerMetrics.of(registry)).build();
    for (int i = 0; i < 40; i++) {
      server.enqueue(new MockResponse.Builder().code(503).build());
    }
    int refused = 0;
    for (int i = 0; i < 40; i++) {
      try {
        client.get("/busy").execute(String.class);
      } catch (HttpStatusException e) {
        assertEquals(503, e.status());
      } catch (RateLimitedException e) {
        refused++;
      }
    }

    assertTrue(refused > 0, "the throttle refused nothing");
    String h = host(server);
    assertEquals(refused, count("outrigger.ratelimit.rejections", "host", h));
    String description = registry.find("outrigger.ratelimit.rejections").counter().getId()
        .getDescription();
    assertTrue(description.contains("client-side throttle"), description);
  }

  @Test
  void theRejectionsMeterCountsARetryTheRateLimitRefusedThoughTheCallEndsWithTheServersFailure() {
    // One permit a minute: the first attempt takes it and meets a 503; its retry would wait
    // about a minute for the next, which cannot fit the 2 s deadline. The call ends with the
    // 503 it was retrying, the refusal suppressed on it, and the meter counts the refusal: an
    // attempt refused, not a call that ended with RateLimitedException.
    client = ApiClient.builder().baseUrl(server.url("/v1").toString())
        .deadline(Duration.ofSeconds(2))
        .rateLimit(dev.outrigger.RateLimit.per(1, Duration.ofMinutes(1)).burst(1))
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1)).maxAttempts(3))
        .circuitBreaker(CircuitBreaker.none())
        .addListener(OutriggerMetrics.of(registry)).build();
    server.enqueue(new MockResponse.Builder().code(503).build());

    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> client.get("/once").execute(String.class));

    assertEquals(503, e.status());
    assertTrue(Stream.of(e.getSuppressed()).anyMatch(RateLimitedException.class::isInstance),
        List.of(e.getSuppressed()).toString());
    assertEquals(1, server.getRequestCount());
    assertEquals(1, count("outrigger.ratelimit.rejections", "host", host(server)));
    String description = registry.find("outrigger.ratelimit.rejections").counter().getId()
        .getDescription();
    assertTrue(description.startsWith("Attempts refused with RateLimitedException"),
        description);
  }

  @Test
  void aRetryTheThrottleRefusesEndsItsCallAsTheRefusalAndIsCounted() {
    // The throttle's refusal has no wait that could fit: unlike a rate limit's refusal with a
    // wait the deadline cannot hold, a retry it refuses ends the call as the RateLimitedException
    // itself, after the 503 that was sent. The description must not say every refused retry
    // ends with the failure it was retrying.
    // Each round starts a whole window later, the throttle's window empty: the first attempt
    // goes (probability 0) and meets a 503, and its retry is refused with probability 1/2
    // (one request, none accepted, K = 1). Sixty rounds all without a refused retry: 2^-60.
    dev.outrigger.internal.FakeClock time = new dev.outrigger.internal.FakeClock();
    client = ClientTestSupport.withClock(ApiClient.builder()
            .baseUrl(server.url("/v1").toString()).clientThrottling(1)
            .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1)).maxAttempts(2))
            .circuitBreaker(CircuitBreaker.none())
            .addListener(OutriggerMetrics.of(registry)), time).build();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(503).build();
      }
    });
    int refused = 0;
    int refusedRetries = 0;
    for (int i = 0; i < 60; i++) {
      time.advance(TimeUnit.MINUTES.toNanos(3));
      try {
        client.get("/busy").execute(String.class);
      } catch (HttpStatusException e) {
        assertEquals(503, e.status());
        assertEquals(2, e.attempts(), "a retry the throttle let through");
      } catch (RateLimitedException e) {
        refused++;
        assertEquals(1, e.attempts(), "the first attempt goes: nothing in the window yet");
        refusedRetries++;
      }
    }

    assertTrue(refusedRetries > 0, "the throttle refused no retry");
    assertEquals(refused, count("outrigger.ratelimit.rejections", "host", host(server)));
    String description = registry.find("outrigger.ratelimit.rejections").counter().getId()
        .getDescription();
    assertTrue(description.contains("a retry refused with a wait longer than its deadline"),
        description);
  }

  @Test
  void keepsOneStateGaugePerBreakerFromItsTransitions() {
    OutriggerMetrics metrics = OutriggerMetrics.of(registry);
    client(metrics, emitting(ctx -> ctx.listener().breakerRejected(ctx, ctx.host())));
    server.enqueue(new MockResponse.Builder().code(200).build());

    metrics.breakerTransition("a:443", State.CLOSED, State.OPEN);
    metrics.breakerTransition("b:443", State.CLOSED, State.OPEN);
    metrics.breakerTransition("a:443", State.OPEN, State.HALF_OPEN);
    client.get("/x").execute(String.class);

    assertEquals(1, registry.find("outrigger.breaker.state").tag("breaker", "a:443").gauges()
        .size());
    assertEquals(1, registry.find("outrigger.breaker.state").tag("breaker", "a:443").gauge()
        .value());
    assertEquals(2, registry.find("outrigger.breaker.state").tag("breaker", "b:443").gauge()
        .value());
    metrics.breakerTransition("a:443", State.HALF_OPEN, State.CLOSED);
    assertEquals(0, registry.find("outrigger.breaker.state").tag("breaker", "a:443").gauge()
        .value());
    assertEquals(1, count("outrigger.breaker.transitions",
        "breaker", "a:443", "from", "closed", "to", "open"));
    assertEquals(1, count("outrigger.breaker.transitions",
        "breaker", "a:443", "from", "half_open", "to", "closed"));
    assertEquals(1, count("outrigger.breaker.rejections", "breaker", host(server)));
  }

  @Test
  void closeRemovesTheGaugesAndKeepsTheHistory() {
    OutriggerMetrics metrics = OutriggerMetrics.of(registry);
    metrics.breakerTransition("a:443", State.CLOSED, State.FORCED_OPEN);
    metrics.adaptiveLimitChanged("a:443", 20, 10);
    metrics.throttleProbability("a:443", 0.5, 10, 2);
    assertEquals(3.0, registry.find("outrigger.breaker.state").gauge().value());
    assertEquals(3, registry.find("outrigger.breaker.state").gauges().size()
        + registry.find("outrigger.inflight.limit").gauges().size()
        + registry.find("outrigger.throttle.probability").gauges().size());

    metrics.close();
    metrics.close();

    // A closed client's last breaker state must not be read for ever as the host's.
    assertEquals(0, registry.find("outrigger.breaker.state").gauges().size(), meters().toString());
    assertEquals(0, registry.find("outrigger.inflight.limit").gauges().size());
    assertEquals(0, registry.find("outrigger.throttle.probability").gauges().size());
    assertEquals(1, count("outrigger.breaker.transitions", "breaker", "a:443"),
        "counters stay, as history");
    metrics.breakerTransition("b:443", State.CLOSED, State.OPEN);
    assertEquals(0, registry.find("outrigger.breaker.state").gauges().size(),
        "no gauge registered after close");
    // A new instance on the same registry registers its own gauges.
    OutriggerMetrics next = OutriggerMetrics.of(registry);
    next.breakerTransition("a:443", State.CLOSED, State.OPEN);
    assertEquals(2.0, registry.find("outrigger.breaker.state").gauge().value());
  }

  @Test
  void foldsHostsBeyondTheCapIntoOther() {
    client(OutriggerMetrics.builder(registry).maxHosts(1).build());
    server.enqueue(new MockResponse.Builder().code(200).build());
    other.enqueue(new MockResponse.Builder().code(200).build());
    other.enqueue(new MockResponse.Builder().code(200).build());

    client.get("/one").execute(String.class);
    client.get(other.url("/two").toString()).execute(String.class);
    client.get(other.url("/three").toString()).execute(String.class);

    assertEquals(1, timer("outrigger.calls", "host", host(server)).count());
    assertEquals(2, timer("outrigger.calls", "host", "other").count());
    assertNull(registry.find("outrigger.calls").tag("host", host(other)).timer());
  }

  @Test
  void foldedBreakerKeysAreCountedButGetNoGauge() {
    OutriggerMetrics metrics = OutriggerMetrics.builder(registry).maxHosts(1).build();

    metrics.breakerTransition("a:443", State.CLOSED, State.OPEN);
    metrics.breakerTransition("b:443", State.CLOSED, State.OPEN);
    metrics.breakerTransition("c:443", State.CLOSED, State.OPEN);

    assertEquals(1, registry.find("outrigger.breaker.state").gauges().size());
    assertEquals(2, count("outrigger.breaker.transitions", "breaker", "other"));
  }

  @Test
  void capsDistinctRetryReasons() {
    OutriggerMetrics metrics = OutriggerMetrics.of(registry);
    client(metrics, emitting(ctx -> {
      for (int i = 0; i < 100; i++) {
        ctx.listener().retryScheduled(ctx, Duration.ZERO, "reason " + i);
      }
    }));
    server.enqueue(new MockResponse.Builder().code(200).build());

    client.get("/many").execute(String.class);

    assertEquals(33, registry.find("outrigger.retries").counters().size());
    assertEquals(68, count("outrigger.retries", "reason", "other"));
    assertEquals("a_very_long_reason_with_spaces_and_much_", OutriggerMetrics.reason(
        "A very long reason with spaces and much more text than any tag needs"));
    assertEquals("http_503", OutriggerMetrics.reason("HTTP 503, Retry-After 1.5 s"));
    assertEquals("circuit_open", OutriggerMetrics.reason("circuit open (api.example.com:443)"));
    assertEquals("connect_failure", OutriggerMetrics.reason("connect failure"));
  }

  @Test
  void addsTheConfiguredTagsToEveryMeter() {
    client(OutriggerMetrics.builder(registry).tags("client", "billing").build());
    server.enqueue(new MockResponse.Builder().code(200).build());

    client.get("/t").execute(String.class);

    assertEquals(1, timer("outrigger.calls", "client", "billing").count());
    assertTrue(registry.getMeters().stream()
        .allMatch(m -> "billing".equals(m.getId().getTag("client"))), meters().toString());
  }

  @Test
  void rejectsBadSettingsNamingThem() {
    var b = OutriggerMetrics.builder(registry);
    assertEquals("maxHosts must be at least 1, but was 0",
        assertThrows(IllegalArgumentException.class, () -> b.maxHosts(0)).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.tags("client"))
        .getMessage().contains("key/value pairs"));
    assertThrows(IllegalArgumentException.class, () -> b.tags("client", " "));
  }

  @Test
  void aTagKeyTheMetersSetThemselvesIsRefusedNotSilentlyReplaced() {
    var b = OutriggerMetrics.builder(registry);
    for (String key : List.of("host", "method", "status", "outcome", "reason", "breaker", "from",
        "to")) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> b.tags("client", "billing", key, "x"));
      assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
    }
    // Nothing of a refused call was kept.
    client(b.build());
    server.enqueue(new MockResponse.Builder().code(200).build());
    client.get("/t").execute(String.class);
    assertEquals(1, timer("outrigger.calls", "host", host(server)).count());
    assertTrue(registry.getMeters().stream().allMatch(m -> m.getId().getTag("client") == null),
        meters().toString());
  }

  @Test
  void coreClassesNeverReferenceMicrometerOrThisPackage() throws IOException {
    Path classes = Path.of("target/classes/dev/outrigger");
    try (Stream<Path> files = Files.walk(classes)) {
      List<String> offenders = files
          .filter(p -> p.toString().endsWith(".class"))
          .filter(p -> !p.startsWith(classes.resolve("micrometer")))
          .filter(p -> {
            try {
              String bytes = new String(Files.readAllBytes(p), java.nio.charset.StandardCharsets
                  .ISO_8859_1);
              return bytes.contains("io/micrometer") || bytes.contains("dev/outrigger/micrometer");
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          })
          .map(Path::toString)
          .toList();
      assertTrue(offenders.isEmpty(), "core classes load Micrometer: " + offenders);
    }
  }
}
