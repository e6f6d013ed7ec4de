package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.HoldingServer;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** README "The policy chain". */
class ReadmePolicyChainTest {

  /**
   * "Deadline -> call interceptors -> [AuthRefreshOn401] -> Retry -> CircuitBreaker ->
   * [ClientThrottle] -> RateLimiter -> InFlightLimit (static or adaptive) -> [Auth] -> attempt
   * interceptors -> OkHttp", as describe() prints it with every step present; describe() is
   * also toString().
   */
  @Test
  void describePrintsTheWholeChainInTheReadmesOrder() {
    try (ApiClient c = ApiClient.builder().baseUrl("http://127.0.0.1:9")
        .addCallInterceptor(new Named("MyCallInterceptor"))
        .addAttemptInterceptor(new Named("MyAttemptInterceptor"))
        .clientThrottling(2)
        .rateLimit(RateLimit.perSecond(5))
        .auth(dev.outrigger.Auth.bearer(() -> "t"))
        .build()) {
      String d = c.describe();
      String[] steps = {"Deadline[", "MyCallInterceptor", "AuthRefreshOn401", "Retry[",
          "CircuitBreaker[", "ClientThrottle[", "RateLimiter[", "InFlightLimit[", "-> Auth\n",
          "MyAttemptInterceptor", "OkHttp["};
      int at = -1;
      for (String step : steps) {
        int next = d.indexOf(step);
        assertTrue(next > at, step + " out of order in\n" + d);
        at = next;
      }
      assertEquals(d, c.toString());
    }
  }

  private record Named(String name) implements dev.outrigger.CallInterceptor {
    @Override
    public okhttp3.Response intercept(Chain chain) {
      return chain.proceed(chain.request());
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /**
   * "Retry runs everything inside it once per attempt. So every attempt is checked by the
   * breaker, takes a rate-limit permit and an in-flight slot, and is counted in attempts()":
   * three attempts take three permits and meet the attempt interceptor three times.
   */
  @Test
  void everyAttemptTakesAPermitAndPassesTheAttemptInterceptors() throws Exception {
    AtomicInteger attemptSteps = new AtomicInteger();
    AtomicInteger callSteps = new AtomicInteger();
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(503, "busy"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .rateLimit(RateLimit.perSecond(0.01).burst(3)) // no refill while the test runs
            .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1)))
            .addCallInterceptor(chain -> {
              callSteps.incrementAndGet();
              return chain.proceed(chain.request());
            })
            .addAttemptInterceptor(chain -> {
              attemptSteps.incrementAndGet();
              return chain.proceed(chain.request());
            })
            .build()) {
      var e = assertThrows(dev.outrigger.HttpStatusException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(3, e.attempts());
      assertEquals(3, server.requests());
      assertEquals(3, attemptSteps.get());
      assertEquals(1, callSteps.get());
      assertEquals(0, client.rateLimiter().orElseThrow().availablePermits(server.host()),
          "three attempts took the bucket's three permits");
    }
  }

  /**
   * "CircuitBreaker sits before the rate limiter: a call refused by an open breaker takes no
   * permit and sends nothing."
   */
  @Test
  void aCallRefusedByAnOpenBreakerTakesNoPermitAndSendsNothing() throws Exception {
    List<String> events = new CopyOnWriteArrayList<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .rateLimit(RateLimit.perSecond(0.01).burst(2)) // no refill while the test runs
            .addListener(new CallListener() {
              @Override
              public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
                events.add("rejected");
              }

              @Override
              public void breakerRejected(CallContext call, String key) {
                events.add("breaker " + key);
              }
            })
            .build()) {
      client.breaker(server.host()).forceOpen();
      for (int i = 0; i < 5; i++) {
        CircuitOpenException e = assertThrows(CircuitOpenException.class,
            () -> client.get("/x").execute(String.class));
        assertEquals(0, e.attempts());
      }
      assertEquals(0, server.requests());
      assertEquals(2, client.rateLimiter().orElseThrow().availablePermits(server.host()));
      assertEquals(5, events.stream().filter(s -> s.equals("breaker " + server.host())).count());
      client.breaker(server.host()).reset();
      client.get("/x").execute(String.class);
      client.get("/x").execute(String.class);
      assertThrows(RateLimitedException.class,
          () -> client.get("/x").deadline(Duration.ofMillis(300)).execute(String.class));
      assertEquals(2, server.requests());
    }
  }

  /**
   * "One daemon thread, outrigger-deadlines, shared by every client, does the cancelling":
   * with two clients open and attempts of both in flight, there is one such thread, a daemon.
   */
  @Test
  void oneDaemonWatchdogThreadServesEveryClient() throws Exception {
    try (HoldingServer server = new HoldingServer();
        ApiClient a = ApiClient.builder().baseUrl(server.url()).build();
        ApiClient b = ApiClient.builder().baseUrl(server.url()).build()) {
      Thread ta = Thread.ofVirtual().start(() -> a.get("/a").execute(String.class));
      Thread tb = Thread.ofVirtual().start(() -> b.get("/b").execute(String.class));
      HoldingServer.await("both attempts in flight", () -> server.inFlight() == 2);
      // (A watchdog of an earlier test's clients may still be ending an attempt of theirs.)
      HoldingServer.await("one watchdog thread", () -> watchdogs().size() == 1);
      assertTrue(watchdogs().get(0).isDaemon());
      server.release();
      ta.join();
      tb.join();
    }
  }

  private static List<Thread> watchdogs() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("outrigger-deadlines") && t.isAlive()).toList();
  }
}
