package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.junit.jupiter.api.Test;

/** README "Retries". */
class ReadmeRetriesTest {

  private static Retry fast() {
    return Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2));
  }

  /**
   * "A call is retried only when it is idempotent: GET, HEAD, OPTIONS, PUT, DELETE, TRACE; a
   * POST or PATCH that carries an Idempotency-Key ...; or a request the caller marked
   * .retryable()": over a real socket, each answered 503 then 200.
   */
  @Test
  void idempotentMethodsAreRetriedAndPlainWritesAreNot() throws Exception {
    Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> {
          int nth = counts.computeIfAbsent(r.method() + " " + r.target(),
              k -> new AtomicInteger()).incrementAndGet();
          return nth == 1 ? new Reply(503, "busy") : Reply.ok("ok");
        });
        // (no breaker: half of these attempts fail, which would open it)
        ApiClient client = ApiClient.builder().baseUrl(server.url()).retry(fast())
            .circuitBreaker(CircuitBreaker.none()).build()) {
      for (String method : List.of("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE")) {
        client.request(method, "/r").execute();
        assertEquals(2, counts.get(method + " /r").get(), method + " is retried");
      }
      for (String method : List.of("POST", "PATCH")) {
        HttpStatusException e = assertThrows(HttpStatusException.class,
            () -> client.request(method, "/w").json(List.of()).execute());
        assertEquals(503, e.status());
        assertEquals(1, counts.get(method + " /w").get(), method + " is sent once");
        client.request(method, "/k").json(List.of()).idempotencyKey("k-" + method).execute();
        assertEquals(2, counts.get(method + " /k").get(), "keyed " + method + " is retried");
        client.request(method, "/o").json(List.of()).retryable().execute();
        assertEquals(2, counts.get(method + " /o").get(), "opted-in " + method + " is retried");
      }
    }
  }

  /**
   * "What you get when it gives up": the last failure, its message "HTTP 503 from GET
   * https://api.example.com/v1/things: busy (after 4 attempts)".
   */
  @Test
  void theLastFailureSaysHowManyAttemptsWereMade() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(503, "busy"));
        ApiClient client = ApiClient.builder().baseUrl(server.url() + "/v1")
            .retry(fast().maxAttempts(4)).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/things").execute(String.class));
      assertEquals("HTTP 503 from GET " + server.url() + "/v1/things: busy (after 4 attempts)",
          e.getMessage());
      assertEquals(4, e.attempts());
      assertEquals(3, e.getSuppressed().length);
    }
  }

  /**
   * Retry budget: a retry "answered by an attempt interceptor" is given back ("the budget bounds
   * the retries the host sees, and it saw none"). With a budget of only its floor (10 retries,
   * refilling at 10/s), 20 calls that each retry twice never exhaust it when an attempt
   * interceptor answers for the host, and 30 such calls do when the host answers.
   */
  @Test
  void retriesAnsweredByAnAttemptInterceptorDoNotSpendTheBudget() throws Exception {
    AtomicInteger exhausted = new AtomicInteger();
    CallListener listener = new CallListener() {
      @Override
      public void retryBudgetExhausted(CallContext call) {
        exhausted.incrementAndGet();
      }
    };
    AtomicInteger localAnswers = new AtomicInteger();
    Retry tight = fast().budget(0.0, Duration.ofSeconds(1), 10);
    try (ReadmeServer server = new ReadmeServer((r, n) -> new Reply(503, "busy"));
        ApiClient hostAnswers = ApiClient.builder().baseUrl(server.url()).retry(tight)
            .circuitBreaker(CircuitBreaker.none()).addListener(listener).build();
        ApiClient interceptorAnswers = ApiClient.builder().baseUrl(server.url()).retry(tight)
            .circuitBreaker(CircuitBreaker.none())
            .addListener(listener)
            .addAttemptInterceptor(chain -> localAnswers.incrementAndGet() < 0 ? null
                : new Response.Builder().request(chain.request())
                .protocol(Protocol.HTTP_1_1).code(503).message("busy")
                .body(ResponseBody.create("local", MediaType.get("text/plain"))).build())
            .build()) {
      for (int i = 0; i < 20; i++) {
        assertThrows(HttpStatusException.class,
            () -> interceptorAnswers.get("/x").execute(String.class));
      }
      assertEquals(60, localAnswers.get(), "every call made its 3 attempts");
      assertEquals(0, exhausted.get(), "40 retries the host never saw spent nothing");
      assertEquals(0, server.requests());
      for (int i = 0; i < 30; i++) {
        assertThrows(HttpStatusException.class,
            () -> hostAnswers.get("/x").execute(String.class));
      }
      assertTrue(exhausted.get() >= 5, "the host's own 503s exhaust it: " + exhausted.get());
    }
  }

  /**
   * "Within one attempt OkHttp may still write more than one request: it follows redirects ...
   * All of these are one attempt: attempts() counts it once, and the rate limit, breaker and
   * in-flight limit see it once; each request after the first is logged at DEBUG on the
   * client's logger."
   */
  @Test
  void aRedirectFollowedWithinAnAttemptIsOneAttemptLoggedAtDebug() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> r.target().equals("/old")
            ? new Reply(301, "moved", "Location", "/new") : Reply.ok("here"));
        dev.outrigger.LogCapture log = new dev.outrigger.LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .rateLimit(dev.outrigger.RateLimit.perSecond(0.01).burst(5)).build()) {
      var r = client.get("/old").send(String.class);
      assertEquals("here", r.body());
      assertEquals(1, r.attempts());
      assertEquals(2, server.requests());
      assertEquals(4, client.rateLimiter().orElseThrow().availablePermits(server.host()),
          "one permit for the attempt");
      List<String> within = log.lines().stream()
          .filter(l -> l.contains("sent by OkHttp within the attempt")).toList();
      assertEquals(1, within.size(), log.all());
      assertTrue(within.get(0).startsWith("DEBUG GET " + server.url() + "/new"), within.get(0));
    }
  }

  /**
   * "FollowUpGuard rewrites that header into an HTTP-date in the past, on which OkHttp does not
   * act ... Above OkHttp the header reads 0 again: retry predicates, interceptors and listeners
   * see the server's value." (Interceptors: RetryAfterZeroTest.)
   */
  @Test
  void aRetryPredicateAndTheRetryListenerSeeTheServersRetryAfterZero() throws Exception {
    List<String> predicate = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<String> reasons = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> n == 1
            ? new Reply(503, "busy", "Retry-After", "0") : Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(fast().retryOnResponse(r -> {
              predicate.add(r.code() + " " + r.header("Retry-After"));
              return r.code() == 503;
            }))
            .addListener(new CallListener() {
              @Override
              public void retryScheduled(CallContext call, Duration delay, String reason) {
                reasons.add(delay + " " + reason);
              }
            })
            .build()) {
      assertEquals("ok", client.get("/x").execute(String.class));
      assertEquals(2, server.requests(), "one retry, the policy's");
    }
    assertEquals(List.of("503 0", "200 null"), predicate);
    assertEquals(1, reasons.size(), reasons.toString());
    assertTrue(reasons.get(0).startsWith("PT0S "), reasons.toString());
    assertTrue(!reasons.get(0).contains("1970"), reasons.toString());
  }
}
