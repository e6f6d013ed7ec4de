package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Deadline;
import dev.outrigger.HttpStatusException;
import dev.outrigger.JavaProcess;
import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class RedisRateLimitStoreTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  private static final Duration PATIENT = Duration.ofMillis(500);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final Arrivals arrivals = new Arrivals();
  private final List<ApiClient> clients = new ArrayList<>();

  @BeforeEach
  void setUp() {
    server.setDispatcher(arrivals);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (ApiClient c : clients) {
      ClientTestSupport.assertNoLeaks(c);
      c.close();
    }
  }

  /**
   * A store with a timeout generous enough for a busy 2-core machine running three JVMs: the
   * sharing tests are about sharing; the outage tests set their own timeouts.
   */
  private RedisRateLimitStore store() {
    return stores.build(patient());
  }

  /** A builder with {@link #PATIENT} and a connectTimeout for a loaded machine. */
  private static RedisRateLimitStore.Builder patient() {
    return RedisRateLimitStore.builder(redis.uri()).timeout(PATIENT)
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT);
  }

  private ApiClient client(RateLimit limit, RateLimitStore store, String name) {
    ApiClient c = SharedQuota.client(server.url("/").toString(), limit, store, name);
    clients.add(c);
    return c;
  }

  /** Calls from {@code threads} virtual threads until {@code millis} have passed. */
  private static void hammer(ApiClient client, int threads, long millis) {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      ts.add(Thread.ofVirtual().start(() -> {
        while (System.nanoTime() - end < 0) {
          client.get("/q").execute(String.class);
        }
      }));
    }
    for (Thread t : ts) {
      try {
        t.join();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }

  @Test
  void clientsInTwoJvmsNeverTogetherExceedTheSharedBurstPlusRateTimesTime() throws Exception {
    double rate = 25;
    int burst = 6;
    long millis = 2500;
    RateLimit limit = RateLimit.perSecond(rate).burst(burst);
    ApiClient a = client(limit, store(), "a");
    ApiClient b = client(limit, store(), "b");
    Process child = JavaProcess.builder(QuotaWorker.class, s -> false, List.of(),
        redis.uri(), server.url("/").toString(), Double.toString(rate), Integer.toString(burst),
        "4", Long.toString(millis), "1", "jvm2", Long.toString(PATIENT.toMillis())).start();
    stores.closeLast(() -> JavaProcess.kill(child));
    CountDownLatch ready = new CountDownLatch(1);
    AtomicReference<String> sent = new AtomicReference<>();
    Thread.ofVirtual().start(() -> {
      try (BufferedReader out = new BufferedReader(
          new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = out.readLine(); line != null; line = out.readLine()) {
          if (line.equals("READY")) {
            ready.countDown();
          } else if (line.startsWith("SENT ")) {
            sent.set(line);
          }
        }
      } catch (java.io.IOException e) {
        // The child died; the assertions below say so.
      }
    });
    assertTrue(ready.await(60, TimeUnit.SECONDS), "the second JVM never got ready");
    // Every client has made one call (the second JVM before READY): none starts cold.
    a.get("/warm").execute(String.class);
    b.get("/warm").execute(String.class);
    arrivals.clear();

    OutputStream go = child.getOutputStream();
    go.write("GO\n".getBytes(StandardCharsets.UTF_8));
    go.flush();
    Thread ta = Thread.ofVirtual().start(() -> hammer(a, 4, millis));
    Thread tb = Thread.ofVirtual().start(() -> hammer(b, 4, millis));
    ta.join();
    tb.join();
    assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the second JVM did not finish");
    assertEquals(0, child.exitValue());

    List<Arrivals.Arrival> seen = arrivals.sorted();
    // The bucket bounds the times the stores released the permits (Redis's answer plus the
    // wait, stamped by each JVM on the shared monotonic clock), not the arrivals: a loaded
    // machine can hold a released call back for hundreds of ms (a descheduled carrier, a GC)
    // and then deliver it together with later ones, which no limiter can prevent.
    double worst = Arrivals.worstReleaseWindow(seen, rate);
    System.out.printf("shared quota: %d requests, worst window %.2f beyond rate x time at "
        + "release (%.2f at arrival), burst %d; second JVM: %s%n", seen.size(), worst,
        Arrivals.worstWindow(seen, rate), burst, sent.get());
    // One permit (40 ms) of slack: the time between Redis's grant and its answer reaching the
    // client varies with scheduling on a busy machine, on top of the bucket's own bound.
    assertTrue(worst <= burst + 1, "a window held " + worst + " requests beyond rate x time; "
        + "the shared burst is " + burst + " (" + seen.size() + " requests; second JVM: "
        + sent.get() + ")");
    assertTrue(arrivals.count("a") > 0 && arrivals.count("b") > 0 && arrivals.count("jvm2") > 0,
        "every client got permits: a=" + arrivals.count("a") + " b=" + arrivals.count("b")
            + " jvm2=" + arrivals.count("jvm2"));
    assertTrue(sent.get().startsWith("SENT " + arrivals.count("jvm2") + " "), sent.get());
    // Three unshared buckets would have let through about 3 x (burst + rate x T).
    double seconds = (seen.get(seen.size() - 1).nanos() - seen.get(0).nanos()) / 1e9;
    assertTrue(seen.size() <= burst + rate * seconds + 1, seen.size() + " in " + seconds + " s");
  }

  @Test
  void preFetchingStaysWithinItsDocumentedOvershoot() throws Exception {
    double rate = 50;
    int burst = 5;
    int prefetch = 4;
    RateLimit limit = RateLimit.perSecond(rate).burst(burst);
    ApiClient a = client(limit, stores.build(patient().prefetch(prefetch)), "a");
    ApiClient b = client(limit, stores.build(patient().prefetch(prefetch)), "b");

    Thread ta = Thread.ofVirtual().start(() -> hammer(a, 3, 1500));
    Thread tb = Thread.ofVirtual().start(() -> hammer(b, 3, 1500));
    ta.join();
    tb.join();

    double worst = Arrivals.worstWindow(arrivals.sorted(), rate);
    int bound = burst + 2 * (prefetch - 1);
    System.out.printf("pre-fetch: %d requests, worst window %.2f, bound %d%n",
        arrivals.size(), worst, bound);
    assertTrue(worst <= bound + 1, "a window held " + worst + " beyond rate x time; the bound "
        + "with 2 stores pre-fetching " + prefetch + " is " + bound);
  }

  @Test
  void preFetchingTakesSeveralPermitsPerRoundTripWhenTheyAreAvailable() throws Exception {
    AtomicLong frozen = new AtomicLong(System.nanoTime());
    RedisRateLimitStore store = stores.build(patient().prefetch(4).nanos(frozen::get));
    RateLimit limit = RateLimit.perSecond(1000).burst(100);
    redis.command("CONFIG RESETSTAT");

    for (int i = 0; i < 40; i++) {
      assertEquals(0, store.reserve("many", limit, 1, 0));
    }

    assertEquals(10, evalCalls());
    // 40 permits taken from Redis's bucket of 100: 60 left (give or take the refill).
    assertTrue(store.reserve("many", limit, 60, 0) >= 0);
  }

  private long evalCalls() throws Exception {
    long calls = 0;
    for (String line : redis.command("INFO commandstats").split("\r?\n")) {
      if (line.startsWith("cmdstat_evalsha:") || line.startsWith("cmdstat_eval:")) {
        calls += Long.parseLong(line.replaceAll("^[^:]*:calls=(\\d+),.*", "$1"));
      }
    }
    return calls;
  }

  @Test
  void aRedisThatStopsFallsBackToALocalShareWithOneWarnAndRecoversWhenItReturns()
      throws Exception {
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT)
        .probeInterval(Duration.ofMillis(100)));
    ApiClient client = client(RateLimit.perSecond(200).burst(20), store, "a");
    client.get("/before").execute(String.class);
    assertEquals(":1", redis.command("EXISTS " + store.redisKey(server.getHostName() + ":"
        + server.getPort())));

    try (LogCapture logs = new LogCapture()) {
      redis.stop();
      for (int i = 0; i < 20; i++) {
        long start = System.nanoTime();
        client.get("/during").execute(String.class);
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5),
            "a call must not hang on a dead Redis");
      }
      assertTrue(store.degraded());
      assertEquals(1, logs.lines().stream().filter(l -> l.startsWith("WARN")
          && l.contains("unavailable")).count(), logs.all());
      assertTrue(logs.all().contains("falling back to local buckets"), logs.all());

      redis.start();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (store.degraded() && System.nanoTime() - end < 0) {
        client.get("/after").execute(String.class);
        TimeUnit.MILLISECONDS.sleep(20);
      }
      assertFalse(store.degraded(), "the store never noticed Redis came back");
      client.get("/after").execute(String.class);
      assertEquals(":1", redis.command("EXISTS " + store.redisKey(server.getHostName() + ":"
          + server.getPort())), "calls use Redis again");
      assertEquals(1, logs.lines().stream().filter(l -> l.startsWith("WARN")).count(),
          logs.all());
      assertTrue(logs.all().contains("answering again"), logs.all());
    }
  }

  @Test
  void theFallbackHoldsOnlyItsShareOfTheQuotaAndStartsEmpty() throws Exception {
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT)
        .fallback(RedisRateLimitStore.Fallback.localShare(0.25))
        .probeInterval(Duration.ofMinutes(1)));
    ApiClient client = client(RateLimit.perSecond(20).burst(8), store, "a");
    client.get("/warm").execute(String.class);
    redis.stop();
    int before = arrivals.size();

    hammer(client, 4, 1000);

    assertTrue(store.degraded());
    List<Arrivals.Arrival> during = arrivals.sorted().subList(before, arrivals.size());
    // A quarter of 20/s and of burst 8: 5/s and 2 stored, but the bucket starts empty.
    double worst = Arrivals.worstWindow(during, 5);
    assertTrue(worst <= 1 + 1, "a window held " + worst + " beyond 5/s (" + during.size() + ")");
    assertTrue(during.size() >= 2, during.size() + " calls got through the fallback");
  }

  @Test
  void theDefaultFallbackShareIsOneOverTheStoresSeenUsingTheKey() throws Exception {
    AtomicLong now = new AtomicLong(System.nanoTime());
    RateLimit limit = RateLimit.perSecond(10).burst(10);
    RedisRateLimitStore a = stores.build(patient().nanos(now::get));
    RedisRateLimitStore b = stores.build(patient().nanos(now::get));
    a.reserve("shared", limit, 1, 0);
    b.reserve("shared", limit, 1, 0);
    // Stores register at most once a second: a learns about b the next time.
    now.addAndGet(TimeUnit.SECONDS.toNanos(2));
    a.reserve("shared", limit, 1, 0);

    redis.stop();
    long wait = a.reserve("shared", limit, 1, TimeUnit.SECONDS.toNanos(1));

    assertTrue(a.degraded());
    // Half of 10/s is one permit every 200 ms, and the fallback starts empty.
    assertEquals(TimeUnit.MILLISECONDS.toNanos(200), wait);
  }

  @Test
  void aSlowRedisTimesOutWithinTheStoreTimeoutAndFallsBack() throws Exception {
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .timeout(Duration.ofMillis(20)).probeInterval(Duration.ofMillis(100)));
    ApiClient client = client(RateLimit.perSecond(100).burst(10), store, "a");
    client.get("/warm").execute(String.class);

    try (LogCapture logs = new LogCapture()) {
      redis.command("CLIENT PAUSE 1500 ALL");
      long start = System.nanoTime();
      client.get("/slow").execute(String.class);
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(1),
          "a call must not wait for a paused Redis");
      // One slow answer is a hiccup; three in a row are an outage.
      assertFalse(store.degraded());
      client.get("/slow").execute(String.class);
      client.get("/slow").execute(String.class);

      assertTrue(store.degraded());
      assertTrue(logs.all().contains("no answer within 20000 µs"), logs.all());
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (store.degraded() && System.nanoTime() - end < 0) {
        client.get("/after").execute(String.class);
        TimeUnit.MILLISECONDS.sleep(20);
      }
      assertFalse(store.degraded(), "the store never noticed Redis answering again");
    }
  }

  @Test
  void failFastRefusesCallsWhileRedisIsDown() throws Exception {
    RedisRateLimitStore store = stores.build(
        patient().fallback(RedisRateLimitStore.Fallback.failFast()));
    ApiClient client = client(RateLimit.perSecond(100), store, "a");
    client.get("/ok").execute(String.class);
    redis.stop();

    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> client.get("/refused").execute(String.class));

    assertTrue(e.getMessage().contains("Redis at 127.0.0.1:" + redis.port()), e.getMessage());
    assertTrue(e.getMessage().contains("fail fast"), e.getMessage());
    assertEquals(0, e.attempts());
    assertEquals(1, arrivals.size());
  }

  @Test
  void aWaitThatCannotFitTheDeadlineIsRefusedAndTakesNothing() throws Exception {
    // A permit a minute: the second call comes well within it, however slow the first.
    RateLimit limit = RateLimit.per(1, Duration.ofMinutes(1)).burst(1);
    RedisRateLimitStore store = store();
    ApiClient client = client(limit, store, "a");
    client.get("/first").execute(String.class);

    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> client.get("/second").deadline(Duration.ofSeconds(10)).execute(String.class));

    assertTrue(e.wouldWait().compareTo(Duration.ofSeconds(30)) > 0, e.getMessage());
    assertTrue(e.getMessage().contains("shared rate limit"), e.getMessage());
    assertEquals(0, e.attempts());
    assertEquals(1, arrivals.size());
    // Nothing was consumed: a caller ready to wait gets the next permit, not the one after.
    long r = store.reserve(server.getHostName() + ":" + server.getPort(), limit, 1,
        TimeUnit.MINUTES.toNanos(2));
    assertTrue(r > 0 && r <= TimeUnit.MINUTES.toNanos(1), "waited " + r + " ns");
  }

  @Test
  void aWaitInLineIsReportedToListeners() throws Exception {
    List<Duration> waits = new CopyOnWriteArrayList<>();
    // One per 2 s, not faster: a second call sent a second after the first (a cold JVM's first
    // call, a loaded machine) must still wait.
    RateLimit limit = RateLimit.per(1, Duration.ofSeconds(2)).burst(1);
    RedisRateLimitStore store = store();
    ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .rateLimit(limit.store(store))
        .addListener(new CallListener() {
          @Override
          public void rateLimitWaited(CallContext call, String key, Duration waited) {
            waits.add(waited);
          }
        })
        .build();
    clients.add(client);

    client.get("/1").execute(String.class);
    client.get("/2").execute(String.class);

    assertEquals(1, waits.size(), waits::toString);
    assertTrue(waits.get(0).compareTo(Duration.ofSeconds(2)) <= 0, waits::toString);
  }

  @Test
  void aServerPauseSeenByOneClientHoldsBackEveryClientOfTheKey() throws Exception {
    RateLimit limit = RateLimit.perSecond(100).burst(10);
    ApiClient a = client(limit, store(), "a");
    ApiClient b = client(limit, store(), "b");
    // A minute's pause: the other client's call comes well within it, however slow the first.
    arrivals.respondWith(new MockResponse.Builder().code(429).addHeader("Retry-After", "60")
        .body("slow down").build());
    assertThrows(HttpStatusException.class, () -> a.get("/limited").execute(String.class));
    arrivals.respondWith(new MockResponse.Builder().code(200).build());

    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> b.get("/other-client").deadline(Duration.ofSeconds(10)).execute(String.class));

    assertTrue(e.wouldWait().compareTo(Duration.ofSeconds(30)) > 0, e.getMessage());
    assertEquals(1, arrivals.size());
  }

  @Test
  void followsEveryBandwidthOfACombinedLimit() throws Exception {
    // 100/s with burst 10, and 3 per 10 s: the slow bandwidth decides after 3 permits.
    RateLimit limit = RateLimit.perSecond(100).burst(10)
        .and(RateLimit.per(3, Duration.ofSeconds(10)));
    RedisRateLimitStore store = store();

    for (int i = 0; i < 3; i++) {
      assertEquals(0, store.reserve("k", limit, 1, 0));
    }
    long refused = store.reserve("k", limit, 1, 0);

    assertTrue(refused < -TimeUnit.SECONDS.toNanos(2), "would wait " + -refused + " ns");
    assertEquals(RateLimitStore.NEVER, store.reserve("k", limit, 4, Long.MAX_VALUE));
  }

  @Test
  void neverWritesTheKeyItselfToRedis() throws Exception {
    RedisRateLimitStore store = store();
    RateLimit limit = RateLimit.perSecond(5).keyedBy(call -> "sk_live_token_123");
    ApiClient client = client(limit, store, "a");

    client.get("/x").execute(String.class);

    String keys = redis.command("KEYS *");
    assertTrue(keys.contains(store.redisKey("sk_live_token_123")), keys);
    assertFalse(keys.contains("sk_live"), keys);
  }

  @Test
  void aBucketKeyExpiresOnceItHasRefilled() throws Exception {
    RedisRateLimitStore store = store();
    RateLimit limit = RateLimit.perSecond(10).burst(5);

    store.reserve("e", limit, 2, 0);

    long ttl = Long.parseLong(redis.command("PTTL " + store.redisKey("e")).substring(1));
    // 2 permits at 10/s refill in 200 ms; the key lives that long plus a second of margin.
    assertTrue(ttl > 0 && ttl <= 1200, "ttl " + ttl);
  }

  @Test
  void startsInFallbackWhenRedisIsDownAtStart() throws Exception {
    redis.stop();
    try (LogCapture logs = new LogCapture()) {
      RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
          .connectTimeout(Duration.ofMillis(300)));

      assertTrue(store.degraded());
      // The fallback starts empty: the first permit comes after one interval of 5/s.
      long wait = store.reserve("k", RateLimit.perSecond(5), 1, TimeUnit.SECONDS.toNanos(1));
      assertTrue(wait > 0 && wait <= TimeUnit.MILLISECONDS.toNanos(200), "wait " + wait);
      assertEquals(1, logs.lines().stream().filter(l -> l.startsWith("WARN")).count(),
          logs.all());
    }
  }

  @Test
  void rejectsBadSettingsNamingThem() {
    RedisRateLimitStore.Builder b = RedisRateLimitStore.builder("redis://127.0.0.1:1");
    assertEquals("prefetch must be between 1 and 1000, but was 0",
        assertThrows(IllegalArgumentException.class, () -> b.prefetch(0)).getMessage());
    assertEquals("timeout must be positive and at most PT10S, but was PT0S",
        assertThrows(IllegalArgumentException.class, () -> b.timeout(Duration.ZERO))
            .getMessage());
    assertEquals("localShare must be greater than 0 and at most 1 (a fraction: 0.25 for 25%), "
        + "but was 1.5",
        assertThrows(IllegalArgumentException.class,
            () -> RedisRateLimitStore.Fallback.localShare(1.5)).getMessage());
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> RedisRateLimitStore.builder("http://user:pw@nowhere"));
    assertFalse(bad.getMessage().contains("pw"), bad.getMessage());
  }
}
