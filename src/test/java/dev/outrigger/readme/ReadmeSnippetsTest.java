package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.outrigger.AdaptiveLimit;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Deadline;
import dev.outrigger.FanOut;
import dev.outrigger.HttpStatusException;
import dev.outrigger.JavaProcess;
import dev.outrigger.Jitter;
import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimiter;
import dev.outrigger.Result;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.WaitGroup;
import dev.outrigger.micrometer.OutriggerMetrics;
import dev.outrigger.readme.ReadmeServer.Reply;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every Java snippet of README.md, compiled as written (only the base URL points at a local
 * server instead of api.example.com) and run, with what the README says each line does checked.
 * The quick start, whose star import has no place in this file, is also compiled from README's
 * own text by the JDK's compiler. The Redis snippet is in {@link ReadmeSharedQuotaTest}, which
 * needs a redis-server.
 */
class ReadmeSnippetsTest {
  record Post(int id, String title) {}

  private static final Logger log = LoggerFactory.getLogger(ReadmeSnippetsTest.class);

  private ReadmeServer server;
  private ReadmeServer other;
  private String url;
  private final AtomicInteger failFirst = new AtomicInteger();

  @BeforeEach
  void start() throws Exception {
    server = new ReadmeServer((r, n) -> {
      if (failFirst.getAndDecrement() > 0) {
        return new Reply(503, "busy");
      }
      String t = r.target();
      if (t.matches("/v1/posts/\\d+") && r.method().equals("GET")) {
        int id = Integer.parseInt(t.substring("/v1/posts/".length()));
        return Reply.json("{\"id\":" + id + ",\"title\":\"post " + id + "\",\"added\":1}");
      }
      if (t.equals("/v1/posts?userId=1")) {
        return Reply.json("[{\"id\":1,\"title\":\"a\"},{\"id\":2,\"title\":\"b\"}]");
      }
      if (t.equals("/v1/health")) {
        return Reply.ok("healthy");
      }
      if (t.equals("/v1/logo")) {
        return Reply.ok("PNG");
      }
      if (t.equals("/v1/posts") && r.method().equals("POST")) {
        return new Reply(201, r.body(), "Content-Type", "application/json");
      }
      if (t.matches("/v1/posts/\\d+") && r.method().equals("DELETE")) {
        return new Reply(204, null);
      }
      return Reply.ok("ok " + t);
    });
    other = new ReadmeServer((r, n) -> Reply.ok("other " + r.target()));
    url = server.url() + "/v1";
  }

  @AfterEach
  void stop() {
    server.close();
    other.close();
  }

  private ApiClient quiet() {
    return ApiClient.builder().baseUrl(url).build();
  }

  // ## Quick start
  @Test
  void quickStart() {
    Post p;
    try (ApiClient client = ApiClient.builder()
        .baseUrl(url)
        .rateLimit(RateLimit.perSecond(100).burst(20))
        .build()) {
      p = client.get("/posts/{id}", 42).execute(Post.class);
      assertTrue(client.rateLimiter().isPresent());
    }
    assertEquals(new Post(42, "post 42"), p);
    assertEquals("/v1/posts/42", server.seen.get(0).target());
  }

  /**
   * The quick start as README writes it, its import and record lines included: compiled with
   * the JDK's compiler as a class of its own (a star import has no place in this file), the
   * lines after the record as the body of a method, the base URL this server's. The server
   * answers with a field the record lacks ("unknown JSON fields are ignored").
   */
  @Test
  void quickStartCompilesAndRunsAsWritten(@TempDir Path dir) throws Exception {
    String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
    int start = readme.indexOf("```java\nimport dev.outrigger.*;");
    assertTrue(start >= 0, "README's quick start begins with its import");
    String snippet = readme.substring(start + "```java\n".length(),
        readme.indexOf("```", start + 3));
    StringBuilder imports = new StringBuilder();
    StringBuilder members = new StringBuilder();
    StringBuilder body = new StringBuilder();
    for (String line : snippet.split("\n")) {
      StringBuilder to = line.startsWith("import ") ? imports
          : line.startsWith("record ") ? members : body;
      to.append(line).append('\n');
    }
    assertTrue(members.toString().startsWith("record Post("), snippet);
    String source = imports + "public class QuickStart {\n" + members
        + "public static void run(String url) throws Exception {\n"
        + body.toString().replace("\"https://api.example.com/v1\"", "url") + "}\n}\n";
    Files.writeString(dir.resolve("QuickStart.java"), source);
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertEquals(0, javac.run(null, null, null, "-d", dir.toString(), "-cp",
        String.join(File.pathSeparator, JavaProcess.testClassPath()), "--release", "21",
        "-proc:none", dir.resolve("QuickStart.java").toString()), source);
    try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()},
        ReadmeSnippetsTest.class.getClassLoader())) {
      loader.loadClass("QuickStart").getMethod("run", String.class).invoke(null, url);
    }
    assertEquals("/v1/posts/42", server.seen.get(0).target());   // GET .../v1/posts/42
  }

  // ### Your own interceptors
  @Test
  void yourOwnInterceptors() {
    AtomicInteger calls = new AtomicInteger();
    List<Object> tenants = new CopyOnWriteArrayList<>();
    failFirst.set(1); // one 503, so that the call makes two attempts
    ApiClient client = ApiClient.builder()
        .baseUrl(url)
        .addCallInterceptor(chain -> {            // once per logical call
          calls.incrementAndGet();
          chain.context().attribute("tenant", "acme");
          return chain.proceed(chain.request());
        })
        .addAttemptInterceptor(chain -> chain.proceed(   // once per attempt, retries included
            chain.request().newBuilder().header("X-Attempt", "" + chain.context().attempt()).build()))
        .addListener(new CallListener() {
          @Override
          public void attemptStart(CallContext call) {
            tenants.add(call.attribute("tenant"));
          }
        })
        .build();
    try (client) {
      assertEquals("ok /v1/x", client.get("/x").execute(String.class));
    }
    assertEquals(1, calls.get(), "the call interceptor runs once per logical call");
    assertEquals(List.of("1", "2"),
        server.seen.stream().map(s -> s.header("X-Attempt")).toList(),
        "the attempt interceptor runs once per attempt, retries included");
    assertEquals(List.of("acme", "acme"), tenants, "the attribute reaches later steps");
  }

  // ## Requests and responses
  @Test
  void requestsAndResponses() {
    Post newPost = new Post(7, "new");
    try (ApiClient client = quiet()) {
      Post p = client.get("/posts/{id}", 42).execute(Post.class);          // path args percent-encoded
      List<Post> all = client.get("/posts").query("userId", 1)
          .execute(new TypeReference<List<Post>>() {});
      String raw = client.get("/health").execute(String.class);            // the body as text
      byte[] bytes = client.get("/logo").execute(byte[].class);
      ApiResponse<Post> r = client.get("/posts/{id}", 42).header("X-Trace", "t1")
          .deadline(Duration.ofMillis(500)).send(Post.class);              // status, headers, body, attempts, elapsed
      Post created = client.post("/posts").json(newPost).idempotencyKey("k-123").execute(Post.class);
      client.delete("/posts/{id}", 1).execute();
      String abs = client.get(other.url() + "/x").execute(String.class);     // absolute URL: used as is

      assertEquals(new Post(42, "post 42"), p);
      assertEquals(List.of(new Post(1, "a"), new Post(2, "b")), all);
      assertEquals("healthy", raw);
      assertArrayEquals("PNG".getBytes(), bytes);
      assertEquals(200, r.status());
      assertEquals("application/json", r.header("Content-Type"));
      assertEquals(new Post(42, "post 42"), r.body());
      assertEquals(1, r.attempts());
      assertNotNull(r.elapsed());
      assertEquals(newPost, created);
      assertEquals("other /x", abs);
    }
    List<ReadmeServer.Seen> seen = server.seen;
    assertEquals("t1", seen.get(4).header("X-Trace"));
    assertEquals("POST", seen.get(5).method());
    assertEquals("k-123", seen.get(5).header("Idempotency-Key"));
    assertEquals("{\"id\":7,\"title\":\"new\"}", seen.get(5).body());
    assertEquals("DELETE /v1/posts/1", seen.get(6).method() + " " + seen.get(6).target());
    assertEquals(7, seen.size(), "the absolute URL went to the other server");
    assertEquals(1, other.requests());
  }

  // ## Rate limiting
  @Test
  void rateLimiting() {
    ApiClient client = ApiClient.builder()
        .baseUrl(url)
        .rateLimit(RateLimit.perSecond(10).burst(10)                 // 10/s, bursts of 10
            .and(RateLimit.per(500, Duration.ofMinutes(1))))          // and 500 a minute
        .build();
    try (client) {
      RateLimit live = client.rateLimiter().orElseThrow().limit();
      assertEquals(2, live.bandwidths().size());
      assertEquals(10, live.bandwidths().get(0).burst());
      assertEquals(500, live.bandwidths().get(1).burst(), "default burst: one period's worth");
      assertEquals(Duration.ofMinutes(1), live.bandwidths().get(1).period());
    }
  }

  @Test
  void keysPerTenant() {
    RateLimit limit =
        RateLimit.perSecond(5).keyedBy(call -> (String) call.attribute("tenant"));
    try (ApiClient client = ApiClient.builder().baseUrl(url).rateLimit(limit).build()) {
      for (int i = 0; i < 5; i++) {
        client.get("/orders").attribute("tenant", "acme").execute(String.class);
      }
      RateLimiter l = client.rateLimiter().orElseThrow();
      // acme's bucket (burst 5) was drawn on (5 permits refill in a second); the others are full.
      assertTrue(l.availablePermits("acme") < 5, "acme: " + l.availablePermits("acme"));
      assertEquals(5, l.availablePermits("globex"));
      assertEquals(5, l.availablePermits(server.host()));
    }
  }

  @Test
  void changingLimitsWhileRunning() {
    try (ApiClient client = ApiClient.builder().baseUrl(url)
        .rateLimit(RateLimit.perSecond(5)).build()) {
      client.rateLimiter().ifPresent(l -> l.reconfigure(server.host(),
          RateLimit.perSecond(50).burst(10)));
      RateLimiter l = client.rateLimiter().orElseThrow();
      assertEquals(50.0, l.limit(server.host()).permitsPerSecond());
      assertEquals(10, l.limit(server.host()).burst());
      assertEquals(5.0, l.limit().permitsPerSecond(), "other keys keep the shared limit");
    }
  }

  // ### The standalone RateLimiter
  @Test
  void standaloneRateLimiter() {
    RateLimit limit = RateLimit.perSecond(1);
    AtomicLong fakeNanos = new AtomicLong();
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(3));
    boolean got = false;
    if (limiter.tryAcquire()) { got = true; }             // now or never; never jumps ahead of waiters
    assertTrue(got);
    assertTrue(limiter.tryAcquire(2));                        // 2 permits or none; more than the burst: always false
    assertFalse(limiter.tryAcquire(4));
    Duration waited = limiter.acquire(2, Duration.ofMillis(500));   // waits in line at most 500 ms, else RateLimitedException
                                                                    // at once, nothing consumed
    assertTrue(waited.compareTo(Duration.ofMillis(500)) <= 0, waited.toString());
    assertTrue(limiter.tryAcquire("tenant-42", 1));           // keyed buckets, same rules
    limiter.pause("tenant-42", Duration.ofSeconds(30));      // the server said "later"
    assertFalse(limiter.tryAcquire("tenant-42", 1));
    limiter.reconfigure(RateLimit.perSecond(20).burst(5));   // state kept
    assertEquals(5, limiter.limit().burst());
    RateLimiter testable = RateLimiter.of(limit, fakeNanos::get);   // a LongSupplier of nanoseconds
    assertTrue(testable.tryAcquire());
    assertFalse(testable.tryAcquire());
    fakeNanos.addAndGet(Duration.ofSeconds(1).toNanos());
    assertTrue(testable.tryAcquire());
  }

  // ## Retries
  @Test
  void retries() {
    failFirst.set(3);
    ApiClient client = ApiClient.builder()
        .baseUrl(url)
        .retry(Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(2))
            .maxAttempts(4).jitter(Jitter.FULL))
        .build();
    try (client) {
      assertEquals("ok /v1/things", client.get("/things").execute(String.class));
    }
    assertEquals(4, server.requests());
  }

  /** "to change one setting only, start from it": the client's defaults, five attempts. */
  @Test
  void retryDefaults() {
    failFirst.set(4);
    ApiClient client = ApiClient.builder().baseUrl(url)
        .retry(Retry.defaults().maxAttempts(5))      // still 100 ms to 2 s, full jitter, the budget
        .build();
    try (client) {
      assertEquals("ok /v1/things", client.get("/things").execute(String.class));
    }
    assertEquals(5, server.requests());
    assertEquals(Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(2)).maxAttempts(5),
        Retry.defaults().maxAttempts(5));
  }

  @Test
  void retryRules() {
    Retry byStatus = Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(2))
        .retryOnStatus(status -> status == 503 || status == 409)       // statuses only
        .retryOnException(e -> e instanceof TransportException);       // failures

    Retry byResponse = Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(2))
        .retryOnResponse(r -> r.code() == 503 || r.header("X-Pending") != null);  // the response

    assertTrue(byStatus.retryOnStatus().test(409));
    assertFalse(byStatus.retryOnStatus().test(500));
    assertNotNull(byResponse.retryOnResponse());
    // setting both is refused
    assertThrows(IllegalArgumentException.class,
        () -> byStatus.retryOnResponse((Response r) -> true));
  }

  @Test
  void retryBudget() {
    Retry retry = Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(2));
    Retry a = retry.budget(0.5, Duration.ofSeconds(30), 20);   // ratio, window (1-60 s), floor (>= 10/s)
    Retry b = retry.noBudget();                                // every call may make all its attempts
    assertEquals(0.5, a.budgetRatio());
    assertEquals(Duration.ofSeconds(30), a.budgetWindow());
    assertEquals(20, a.budgetMinRetriesPerSecond());
    assertFalse(b.budgetEnabled());
    assertThrows(IllegalArgumentException.class,
        () -> retry.budget(0.5, Duration.ofSeconds(61), 20), "window over 60 s");
    assertThrows(IllegalArgumentException.class,
        () -> retry.budget(0.5, Duration.ofMillis(999), 20), "window under 1 s");
    assertThrows(IllegalArgumentException.class,
        () -> retry.budget(0.5, Duration.ofSeconds(30), 9), "floor under 10/s");
  }

  // ## Deadlines
  @Test
  void deadlines() throws Exception {
    try (ApiClient client = quiet()) {
      List<Duration> seen = new CopyOnWriteArrayList<>();
      try (ApiClient watched = client.newBuilder().addAttemptInterceptor(chain -> {
        seen.add(chain.context().deadline().remaining());
        return chain.proceed(chain.request());
      }).build()) {
        String s = Deadline.within(Duration.ofMillis(300), () -> watched.get("/x").execute(String.class));
        assertEquals("ok /v1/x", s);
      }
      assertTrue(seen.get(0).compareTo(Duration.ofMillis(300)) <= 0, seen.toString());
    }
  }

  /**
   * The receiving side, "In an HttpHandler": the snippet as written, as the body of an
   * HttpHandler's handle(exchange). A call with propagateDeadline("grpc-timeout") and a 2 s
   * deadline is served within that budget; a call without the header within the server's own
   * 30 s.
   */
  @Test
  void deadlinesOnTheReceivingSide() throws Exception {
    class Handler implements HttpHandler {
      @Override
      public void handle(HttpExchange exchange) throws IOException {
        // In an HttpHandler: the caller's budget, or this server's own 30 s when it sent none.
        Deadline d = Deadline.fromHeader("grpc-timeout",
                exchange.getRequestHeaders().getFirst("grpc-timeout"))
            .orElse(Deadline.after(Duration.ofSeconds(30)));
        Deadline.within(d, () -> {
          serve(exchange);           // your void method that may throw IOException: within rethrows it
          return null;
        });
      }

      /** The work: answers with what is left of the scope's deadline, in milliseconds. */
      void serve(HttpExchange exchange) throws IOException {
        byte[] left = String.valueOf(Deadline.current().orElseThrow().remaining().toMillis())
            .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, left.length);
        try (exchange; OutputStream out = exchange.getResponseBody()) {
          out.write(left);
        }
      }
    }
    HttpServer receiver = ClientTestSupport.jdkServer(new Handler());
    try (ApiClient client = ApiClient.builder().baseUrl(ClientTestSupport.url(receiver))
        .propagateDeadline("grpc-timeout").retry(Retry.none()).build();
        ApiClient plain = ApiClient.builder().baseUrl(ClientTestSupport.url(receiver))
            .retry(Retry.none()).build()) {
      long budget = Long.parseLong(
          client.get("/work").deadline(Duration.ofSeconds(2)).execute(String.class));
      assertTrue(budget > 0 && budget <= 2_000, budget + " ms");
      long own = Long.parseLong(plain.get("/work").execute(String.class));
      assertTrue(own > 2_000 && own <= 30_000, own + " ms");
    } finally {
      receiver.stop(0);
    }
  }

  // ## Circuit breaker
  @Test
  void circuitBreaker() {
    ApiClient client = ApiClient.builder()
        .baseUrl(url)
        .circuitBreaker(CircuitBreaker.builder()
            .slidingWindowSize(20)                       // the last 20 calls...
            .minimumNumberOfCalls(10)                    // ...once there are at least 10 of them
            .failureRateThreshold(0.5)                   // opens at >= 50% failures
            .slowCallDuration(Duration.ofSeconds(2))     // or at >= 80% calls slower than 2 s
            .slowCallRateThreshold(0.8)
            .waitInOpenState(Duration.ofSeconds(5))      // refuses for 5 s...
            .waitInOpenStateGrowth(2.0, Duration.ofMinutes(1)) // ...10 s, 20 s... while probes fail
            .permittedCallsInHalfOpen(2)                 // then lets exactly 2 probes through
            .build())
        .retry(Retry.none())
        .build();
    try (client) {
      failFirst.set(10);
      for (int i = 0; i < 10; i++) {
        assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
      }
      // Ten failures out of ten: open.
      assertEquals(CircuitBreaker.State.OPEN, client.breaker(server.host()).snapshot().state());

      CircuitBreaker.Handle api = client.breaker(server.host());
      CircuitBreaker.Snapshot s = api.snapshot();   // s.state(), s.failureRate(), s.calls(), s.retryAfter()
      assertEquals(1.0, s.failureRate());
      assertEquals(10, s.calls());
      assertTrue(s.retryAfter().compareTo(Duration.ofSeconds(5)) <= 0, s.toString());
      api.reset();                                   // back to CLOSED with an empty window
      assertEquals(CircuitBreaker.State.CLOSED, api.snapshot().state());
      assertEquals(0, api.snapshot().calls());
      api.forceOpen();                               // maintenance window: refuse everything
      int before = server.requests();
      assertThrows(dev.outrigger.CircuitOpenException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(before, server.requests());
      api.reset();
      assertEquals("ok /v1/x", client.get("/x").execute(String.class));
    }
  }

  // ## Fan-out on virtual threads
  @Test
  void fanOutMap() {
    List<Integer> ids = List.of(1, 2, 3);
    List<String> shown = new ArrayList<>();
    try (ApiClient client = quiet()) {
      List<Result<Post>> posts =
          FanOut.map(ids, id -> client.get("/posts/{id}", id).execute(Post.class));

      for (Result<Post> r : posts) {
        switch (r) {
          case Result.Success<Post> s -> shown.add(s.value().title());
          case Result.Failure<Post> f -> log.warn("failed", f.error());
        }
      }
    }
    assertEquals(List.of("post 1", "post 2", "post 3"), shown);
  }

  @Test
  void aBatchWithABoundFailFastAndADeadline() throws Exception {
    List<Integer> ids = List.of(1, 2, 3, 4);
    List<int[]> progress = new CopyOnWriteArrayList<>();
    List<Result<Post>> results;
    List<Integer> rendered = new CopyOnWriteArrayList<>();
    try (ApiClient client = quiet()) {
      try (FanOut<Post> fan = FanOut.<Post>builder()
          .maxConcurrency(64)                // at most 64 tasks run at once (default: no bound)
          .failFast(true)                    // the first failure cancels the rest (default: false)
          .deadline(Duration.ofSeconds(5))   // for the whole batch, counted from build()
          .progress((completed, failed, total) -> progress.add(new int[] {completed, total}))
          .build()) {
        for (int id : ids) {
          fan.submit(() -> client.get("/posts/{id}", id).execute(Post.class));
        }
        results = fan.join();   // in submission order
        fan.completions().forEach(c -> rendered.add(c.index()));
      }
    }
    assertEquals(List.of(1, 2, 3, 4), results.stream().map(r -> r.value().id()).toList());
    // One report per task, each with the count after it; from several threads at once they
    // may arrive out of order (the listener's javadoc: keep the largest).
    assertEquals(List.of(1, 2, 3, 4), progress.stream().map(p -> p[0]).sorted().toList());
    assertEquals(List.of(0, 1, 2, 3), rendered.stream().sorted().toList());
  }

  @Test
  void deadlinesReachEveryTask() throws Exception {
    List<Integer> ids = List.of(1, 2);
    List<Result<Duration>> rs = Deadline.within(Duration.ofMillis(800),
        () -> FanOut.map(ids, id -> Deadline.current().orElseThrow().remaining()));
    for (Result<Duration> r : rs) {
      assertTrue(r.value().compareTo(Duration.ofMillis(800)) <= 0, r.toString());
    }
  }

  // ### WaitGroup
  @Test
  void waitGroup() throws Exception {
    Map<String, Post> cache = new ConcurrentHashMap<>();
    List<String> ids = List.of("1", "2", "3");
    try (ApiClient client = quiet()) {
      WaitGroup wg = new WaitGroup();
      for (String id : ids) {
        wg.go(() -> cache.put(id, client.get("/posts/{id}", id).execute(Post.class)));
      }
      wg.await();                                          // or wg.await(Duration.ofSeconds(1)) -> boolean
      assertTrue(wg.await(Duration.ofSeconds(1)));
    }
    assertEquals(3, cache.size());
    assertEquals(new Post(2, "post 2"), cache.get("2"));
  }

  // ### The per-host in-flight limit
  @Test
  void inFlightLimit() {
    try (ApiClient c = ApiClient.builder().baseUrl(url).maxInFlightPerHost(200).build()) {
      assertTrue(c.describe().contains("InFlightLimit[200 per host]"), c.describe());
    }
  }

  // ## Adaptive limits
  @Test
  void adaptiveLimits() {
    ApiClient client = ApiClient.builder()
        .baseUrl(url)
        .adaptiveConcurrency(AdaptiveLimit.vegas().min(4).max(256))   // learnt in-flight limit
        .clientThrottling(2)                                           // SRE-book throttle, K = 2
        .build();
    try (client; ApiClient plain = client.newBuilder().noClientThrottling().build()) {
      assertEquals("ok /v1/x", client.get("/x").execute(String.class));
      assertTrue(client.describe().contains("ClientThrottle[K=2.0, window 120 s per host]"),
          client.describe());
      assertTrue(client.describe().contains("InFlightLimit[adaptive per host: AdaptiveLimit.vegas["),
          client.describe());
      assertFalse(plain.describe().contains("ClientThrottle"), plain.describe());
    }
  }

  @Test
  void adaptiveRate() {
    try (ApiClient client = ApiClient.builder().baseUrl(url)
        .rateLimit(RateLimit.perSecond(100).burst(20).adaptive())
        .build()) {
      assertTrue(client.rateLimiter().orElseThrow().limit().isAdaptive());
      assertEquals("ok /v1/x", client.get("/x").execute(String.class));
    }
  }

  // ### Logging: a CallListener of your own
  @Test
  void aCallListenerOfYourOwn() {
    LogCapture logged = new LogCapture(ReadmeSnippetsTest.class.getName());
    ApiClient client = // README's line, as written
    ApiClient.builder().baseUrl(url).addListener(new CallListener() {
      @Override
      public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
        // status: the one the call ended with, -1 when none (a refused connect, an open breaker);
        // error: null on success, else what the caller gets
        log.info("{} {} -> {} in {} ({} attempts)", call.method(), call.host(), status, elapsed,
            call.attemptsSent());                 // call.url() may hold a secret query parameter
      }
    }).build();
    try (logged; client) {
      assertEquals("ok /v1/x", client.get("/x").execute(String.class));
      assertThrows(TransportException.class,
          () -> client.get("http://127.0.0.1:1/x").execute(String.class));   // a refused connect
      client.breaker(server.host()).forceOpen();
      assertThrows(dev.outrigger.CircuitOpenException.class,
          () -> client.get("/x").execute(String.class));                       // an open breaker
      List<String> lines = logged.lines();
      assertEquals(3, lines.size(), lines.toString());
      assertTrue(lines.get(0).matches("INFO GET " + Pattern.quote(server.host())
          + " -> 200 in PT.*S \\(1 attempts\\)"), lines.get(0));
      assertTrue(lines.get(1).matches(
          "INFO GET 127\\.0\\.0\\.1:1 -> -1 in PT.*S \\(\\d attempts\\)"), lines.get(1));
      assertTrue(lines.get(2).matches("INFO GET " + Pattern.quote(server.host())
          + " -> -1 in PT.*S \\(0 attempts\\)"), lines.get(2));
    }
  }

  // ### Micrometer metrics
  @Test
  void micrometerMetrics() {
    MeterRegistry registry = new SimpleMeterRegistry();                       // Prometheus, OTLP, Simple...
    ApiClient client = ApiClient.builder()
        .baseUrl(url)
        .addListener(OutriggerMetrics.of(registry))     // dev.outrigger.micrometer
        .build();
    try (client) {
      client.get("/x").execute(String.class);
    }
    assertEquals(1, registry.get("outrigger.calls").timer().count());
  }

  // ### Errors: what a snippet of the Errors section says a failure is
  @Test
  void aResultOfAFailedTaskHoldsWhatTheTaskThrew() {
    IllegalStateException boom = new IllegalStateException("boom");
    List<Result<Object>> rs = FanOut.map(List.of(1), i -> {
      throw boom;
    });
    assertFalse(rs.get(0).isSuccess());
    assertEquals(boom, rs.get(0).error());
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> rs.get(0).value());
    assertEquals(boom, e.getCause());
    assertNull(Result.success(1).error());
    assertInstanceOf(Result.Failure.class, rs.get(0));
  }
}
