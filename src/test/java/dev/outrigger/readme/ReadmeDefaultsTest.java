package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.DeserializationException;
import dev.outrigger.HoldingServer;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Result;
import dev.outrigger.FanOut;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okio.Buffer;
import org.junit.jupiter.api.Test;

/**
 * README "Defaults": what a client built with nothing but a base URL does, row by row, and the
 * checks {@code build()} makes. Rows already asserted elsewhere (breaker thresholds in
 * BreakerClientTest, the retry budget in RetryOverSocketsTest, JFR in JfrEventsTest, the
 * timeouts of a supplied OkHttpClient in ClientLifecycleTest) are not repeated here.
 */
class ReadmeDefaultsTest {

  /** Row "deadline: 10 s per call", and a per-call {@code ApiRequest.deadline} tightening it. */
  @Test
  void theDeadlineIsTenSecondsPerCallUnlessTheCallSetsItsOwn() throws Exception {
    List<Duration> left = new CopyOnWriteArrayList<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .addAttemptInterceptor(chain -> {
              left.add(chain.context().deadline().remaining());
              return chain.proceed(chain.request());
            }).build()) {
      client.get("/a").execute(String.class);
      client.get("/b").deadline(Duration.ofMillis(500)).execute(String.class);
    }
    assertTrue(left.get(0).compareTo(Duration.ofSeconds(10)) <= 0
        && left.get(0).compareTo(Duration.ofSeconds(9)) > 0, left.toString());
    assertTrue(left.get(1).compareTo(Duration.ofMillis(500)) <= 0, left.toString());
  }

  /**
   * Row "attempt timeout: none": an attempt may use what remains of the deadline, so the budget
   * a propagated deadline header announces for the first attempt is the call's whole deadline.
   */
  @Test
  void anAttemptMayUseWhatRemainsOfTheDeadline() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .propagateDeadline("X-Deadline-Ms").build()) {
      client.get("/a").execute(String.class);
      long ms = Long.parseLong(server.seen.get(0).header("X-Deadline-Ms"));
      assertTrue(ms > 9_000 && ms <= 10_000, "announced " + ms + " ms");
    }
  }

  /**
   * Row "retry: 3 attempts, exponential 100 ms -> 2 s, x2, full jitter": a GET against a server
   * that always answers 503 is sent three times, the waits before retries 1 and 2 at most 100
   * and 200 ms (full jitter: uniform in [0, exp]).
   */
  @Test
  void threeAttemptsWithExponentialFullJitterBackoff() throws Exception {
    List<Duration> delays = new CopyOnWriteArrayList<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(503, "down"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .addListener(new CallListener() {
              @Override
              public void retryScheduled(CallContext call, Duration delay, String reason) {
                delays.add(delay);
              }
            }).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/a").execute(String.class));
      assertEquals(3, server.requests());
      assertEquals(3, e.attempts());
      assertTrue(e.getMessage().contains("after 3 attempts"), e.getMessage());
    }
    assertEquals(2, delays.size(), delays.toString());
    assertTrue(delays.get(0).compareTo(Duration.ofMillis(100)) <= 0, delays.toString());
    assertTrue(delays.get(1).compareTo(Duration.ofMillis(200)) <= 0, delays.toString());
  }

  /**
   * Row "retried failures: ... 408, 429, 500, 502, 503, 504 ...; other 4xx never", over a real
   * socket with the default client: each listed status is sent a second time, the others once.
   */
  @Test
  void theTransientStatusesAreRetriedAndNoOther4xx() throws Exception {
    java.util.Map<String, AtomicInteger> counts = new java.util.concurrent.ConcurrentHashMap<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> {
          // The first request for a status answers it; a retry, if any, gets 200.
          int nth = counts.computeIfAbsent(r.target(), t -> new AtomicInteger()).incrementAndGet();
          return nth == 1 ? new Reply(Integer.parseInt(r.target().substring(1)), "x")
              : Reply.ok("ok");
        });
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      for (int code : new int[] {408, 429, 500, 502, 503, 504}) {
        assertEquals("ok", client.get("/" + code).execute(String.class), "status " + code);
        assertEquals(2, counts.get("/" + code).get(), "status " + code + " is retried");
      }
      for (int code : new int[] {400, 401, 403, 404, 405, 409, 410, 412, 422, 501, 505}) {
        HttpStatusException e = assertThrows(HttpStatusException.class,
            () -> client.get("/" + code).execute(String.class));
        assertEquals(code, e.status());
        assertEquals(1, counts.get("/" + code).get(), "status " + code + " is never retried");
      }
    }
  }

  /** Row "rate limit: none" and row "adaptive concurrency, client-side throttling: off". */
  @Test
  void noRateLimitNoAdaptiveLimitNoThrottle() {
    try (ApiClient client = ApiClient.builder().baseUrl("http://127.0.0.1:9").build()) {
      assertTrue(client.rateLimiter().isEmpty());
      assertFalse(client.describe().contains("RateLimiter"), client.describe());
      assertFalse(client.describe().contains("ClientThrottle"), client.describe());
      assertTrue(client.describe().contains("InFlightLimit[1024 per host]"), client.describe());
    }
  }

  /**
   * Row "in flight per host: 1024": 1,024 calls to one host are in flight at once, and the
   * 1,025th waits for a slot (and, its deadline spent, is refused without being sent).
   */
  @Test
  void atMost1024AttemptsAreInFlightToOneHost() throws Exception {
    try (HoldingServer server = new HoldingServer();
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      try (FanOut<String> fan = FanOut.<String>builder().build()) {
        for (int i = 0; i < 1024; i++) {
          fan.submit(() -> client.get("/held").execute(String.class));
        }
        HoldingServer.await("1024 requests held", () -> server.inFlight() == 1024);
        DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
            () -> client.get("/one-more").deadline(Duration.ofSeconds(1)).execute(String.class));
        assertTrue(e.getMessage().contains("no in-flight slot to"), e.getMessage());
        assertEquals(0, e.attempts());
        assertEquals(1024, server.requests(), "the 1,025th was never sent");
        server.release();
        List<Result<String>> results = fan.join();
        assertTrue(results.stream().allMatch(Result::isSuccess));
      }
      assertEquals(1024, server.maxInFlight());
    }
  }

  /**
   * Row "connection pool: 128 idle, kept 60 s": after 130 concurrent calls, 128 of their
   * connections stay pooled (OkHttp's own default would keep 5).
   */
  @Test
  void thePoolKeeps128IdleConnections() throws Exception {
    try (HoldingServer server = new HoldingServer();
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      try (FanOut<String> fan = FanOut.<String>builder().build()) {
        for (int i = 0; i < 130; i++) {
          fan.submit(() -> client.get("/held").execute(String.class));
        }
        HoldingServer.await("130 requests held", () -> server.inFlight() == 130);
        server.release();
        assertTrue(fan.join().stream().allMatch(Result::isSuccess));
      }
      var pool = client.okHttpClient().connectionPool();
      HoldingServer.await("idle connections cut to the pool's bound",
          () -> pool.connectionCount() == 128 && pool.idleConnectionCount() == 128);
      assertTrue(client.describe().contains("pool: 128 idle connections kept 60 s"),
          client.describe());
    }
  }

  /**
   * Rows "connect timeout: 2 s", "read / write timeout: 30 s", "OkHttp fastFallback: off",
   * "OkHttp retryOnConnectionFailure: off".
   */
  @Test
  void theTransportsTimeoutsAndOkHttpSwitches() {
    try (ApiClient client = ApiClient.builder().baseUrl("http://127.0.0.1:9").build()) {
      assertEquals(2_000, client.okHttpClient().connectTimeoutMillis());
      assertEquals(30_000, client.okHttpClient().readTimeoutMillis());
      assertEquals(30_000, client.okHttpClient().writeTimeoutMillis());
      assertFalse(client.okHttpClient().fastFallback(), "Happy Eyeballs off");
      assertFalse(client.okHttpClient().retryOnConnectionFailure());
    }
  }

  /**
   * Row "User-Agent: outrigger/0.1, on a request that sets none": a request's own header wins,
   * userAgent(...) changes it, userAgent(null) leaves OkHttp's own.
   */
  @Test
  void theUserAgentIsOutriggersUnlessSetOtherwise() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build();
        ApiClient named = client.newBuilder().userAgent("billing/2").build();
        ApiClient bare = client.newBuilder().userAgent(null).build()) {
      client.get("/a").execute(String.class);
      client.get("/b").header("User-Agent", "mine/1").execute(String.class);
      named.get("/c").execute(String.class);
      bare.get("/d").execute(String.class);
      List<String> agents = server.seen.stream().map(s -> s.header("User-Agent")).toList();
      assertEquals(List.of("outrigger/0.1", "mine/1", "billing/2"), agents.subList(0, 3));
      assertTrue(agents.get(3).startsWith("okhttp/"), agents.get(3));
    }
  }

  /** Row "max response body: 16 MiB": a body of exactly 16 MiB is read, one byte more refused. */
  @Test
  void theLargestBodyReadIs16MiB() throws Exception {
    int max = 16 * 1024 * 1024;
    byte[] body = new byte[max];
    body[max - 1] = 7;
    try (MockWebServer server = new MockWebServer()) {
      server.start();
      server.enqueue(new MockResponse.Builder().body(new Buffer().write(body)).build());
      server.enqueue(new MockResponse.Builder().body(new Buffer().write(new byte[max + 1]))
          .build());
      try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString()).build()) {
        assertArrayEquals(body, client.get("/exact").execute(byte[].class));
        DeserializationException e = assertThrows(DeserializationException.class,
            () -> client.get("/over").execute(byte[].class));
        assertTrue(e.getMessage().contains("maxResponseBytes"), e.getMessage());
        assertEquals(2, server.getRequestCount(), "a too-large body is not retried");
      }
    }
  }

  /** "build() rejects an attemptTimeout longer than the deadline (it could never fire)". */
  @Test
  void anAttemptTimeoutLongerThanTheDeadlineIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().deadline(Duration.ofSeconds(1))
            .attemptTimeout(Duration.ofSeconds(2)).build());
    assertTrue(e.getMessage().contains("attemptTimeout"), e.getMessage());
  }

  /**
   * "Any Duration setting takes ChronoUnit.FOREVER.getDuration() as 'no limit' ... except the
   * connect, read and write timeouts ... more than about 24 days is refused by the setter".
   */
  @Test
  void timeoutsOverAboutTwentyFourDaysAreRefusedByTheSetter() {
    Duration forever = java.time.temporal.ChronoUnit.FOREVER.getDuration();
    for (String name : List.of("connectTimeout", "readTimeout", "writeTimeout")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
        ApiClient.Builder b = ApiClient.builder();
        switch (name) {
          case "connectTimeout" -> b.connectTimeout(Duration.ofDays(25));
          case "readTimeout" -> b.readTimeout(forever);
          default -> b.writeTimeout(Duration.ofDays(25));
        }
      }, name);
      assertTrue(e.getMessage().contains(name), e.getMessage());
    }
    // About 24 days (Integer.MAX_VALUE ms) is still taken.
    ApiClient.builder().connectTimeout(Duration.ofDays(24)).readTimeout(Duration.ofDays(24))
        .writeTimeout(Duration.ofDays(24));
    try (ApiClient c = ApiClient.builder().baseUrl("http://127.0.0.1:9").deadline(forever)
        .build()) {
      assertTrue(c.describe().contains("Deadline"), c.describe());
    }
  }
}
