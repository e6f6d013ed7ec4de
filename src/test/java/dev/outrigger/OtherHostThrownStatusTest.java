package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.internal.RealCallContext;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import okhttp3.HttpUrl;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An attempt interceptor of the user's that calls another API after its attempt (an audit
 * service, through a client of its own) and lets that API's {@link HttpStatusException} escape:
 * the 503 is the other host's, not the call's. The breaker, the client-side throttle and the
 * adaptive in-flight limit judged it as the call's host's status (its breaker opened, its
 * throttle shed load, its limit was cut) though that host answered every attempt with a 200.
 * Each now counts a thrown status only when its URL is on the call's {@code host:port}.
 */
class OtherHostThrownStatusTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  @StartStop private final MockWebServer audit = new MockWebServer();
  private ApiClient auditApi;
  private final AtomicInteger movedThenGone = new AtomicInteger();

  @BeforeEach
  void setUp() {
    Dispatcher answer = new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return switch (request.getUrl().encodedPath()) {
          case "/down" -> new MockResponse.Builder().code(503).body("down").build();
          case "/moved" -> new MockResponse.Builder().code(307)
              .addHeader("Location", audit.url("/moved-here")).build();
          // Moved once; then no answer: the connection closes once the request is read.
          case "/moved-then-gone" -> movedThenGone.getAndIncrement() == 0
              ? new MockResponse.Builder().code(307)
                  .addHeader("Location", audit.url("/moved-here")).build()
              : new MockResponse.Builder()
                  .onResponseStart(new SocketEffect.CloseSocket(true, false, false)).build();
          default -> new MockResponse.Builder().code(200).body("ok").build();
        };
      }
    };
    server.setDispatcher(answer);
    audit.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(503).body("audit down").build();
      }
    });
    auditApi = ApiClient.builder().baseUrl(audit.url("/").toString()).retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none()).build();
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    ClientTestSupport.assertNoLeaks(auditApi);
    auditApi.close();
  }

  /** A client whose attempts are audited: the audit's failure escapes the attempt. */
  private ApiClient.Builder audited() {
    return ApiClient.builder().baseUrl(server.url("/").toString()).retry(Retry.none())
        .addAttemptInterceptor(chain -> {
          Response r = chain.proceed(chain.request());
          try {
            auditApi.post("/audit").json(List.of(r.code())).execute(String.class);
          } catch (HttpStatusException e) {
            r.close();
            throw e;
          }
          return r;
        });
  }

  /** Calls {@code c} {@code n} times, each failing with the audit's 503. */
  private static void callsFailingOnTheAudit(ApiClient c, int n) {
    for (int i = 0; i < n; i++) {
      HttpStatusException e =
          assertThrows(HttpStatusException.class, () -> c.get("/x").execute(String.class));
      assertEquals(503, e.status());
    }
  }

  /**
   * A client whose attempt interceptor throws each answer outside 2xx as an
   * {@link HttpStatusException} naming the URL {@code urlOf} gives.
   */
  private ApiClient.Builder throwing(Function<Response, String> urlOf) {
    return ApiClient.builder().baseUrl(server.url("/").toString()).retry(Retry.none())
        .addAttemptInterceptor(chain -> {
          Response r = chain.proceed(chain.request());
          if (r.isSuccessful()) {
            return r;
          }
          r.close();
          throw new HttpStatusException(r.code(), r.request().method(), urlOf.apply(r), "",
              chain.context().attemptsSent());
        });
  }

  /** The snapshot of the breaker of {@code server}'s key. */
  private CircuitBreaker.Snapshot breakerOf(ApiClient c, MockWebServer server) {
    return c.breaker(server.getHostName() + ":" + server.getPort()).snapshot();
  }

  /**
   * An exception naming the path alone names no host, so it cannot be another host's: it was
   * taken for one, and the host's 503s counted as successes (the breaker's rule for
   * exceptions), its breaker never opening.
   */
  @Test
  void aThrownStatusWhoseUrlNamesNoHostIsTheCallsHosts() throws Exception {
    try (ApiClient c = throwing(r -> r.request().url().encodedPath()).circuitBreaker(
        CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2).build()).build()) {
      for (int i = 0; i < 2; i++) {
        HttpStatusException e =
            assertThrows(HttpStatusException.class, () -> c.get("/down").execute(String.class));
        assertEquals(503, e.status());
      }
      CircuitBreaker.Snapshot s = breakerOf(c, server);
      assertEquals(CircuitBreaker.State.OPEN, s.state(), s.toString());
      assertThrows(CircuitOpenException.class, () -> c.get("/down").execute(String.class));
      assertEquals(2, server.getRequestCount());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  /**
   * The call's host redirects to another origin (as http to https moves the port), which OkHttp
   * follows within the attempt; the answer there is a 503, which the attempt interceptor throws
   * with the URL it came from. Returned, that 503 counts against the call's host; thrown, it was
   * taken for another host's and counted as a success, so a host that answered every call with
   * a redirect to a 503 never opened its breaker.
   */
  @Test
  void aStatusThrownFromWhereARedirectLedIsTheCallsHosts() throws Exception {
    try (ApiClient c = throwing(r -> r.request().url().toString()).circuitBreaker(
        CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2).build()).build()) {
      for (int i = 0; i < 2; i++) {
        HttpStatusException e =
            assertThrows(HttpStatusException.class, () -> c.get("/moved").execute(String.class));
        assertEquals(audit.url("/moved-here").toString(), e.url());
      }
      CircuitBreaker.Snapshot s = breakerOf(c, server);
      assertEquals(CircuitBreaker.State.OPEN, s.state(), s.toString());
      assertEquals(2, s.failedCalls(), s.toString());
      assertEquals(2, audit.getRequestCount());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  /** An attribute name of the user's (no {@code outrigger.} prefix, which is the library's). */
  private static final String ANSWERED = "answered";

  /**
   * The client keeps where an attempt's answer came from (after a redirect) in the call's
   * attributes; under a name, any interceptor could write there. One that wrote another host's
   * URL under a name of its own (here, the audit's, under the name the client once used without
   * a prefix) must not make the audit's thrown 503 the call's host's: its breaker stays closed,
   * the host having answered every attempt with a 200.
   */
  @Test
  void anotherHostsUrlInAnAttributeOfTheUsersCannotMakeItsStatusTheCalls() throws Exception {
    try (ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none()).circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2)
            .minimumNumberOfCalls(2).build())
        .addAttemptInterceptor(chain -> {
          Response r = chain.proceed(chain.request());
          chain.context().attribute(ANSWERED, audit.url("/audit"));
          try {
            auditApi.post("/audit").json(List.of(r.code())).execute(String.class);
          } catch (HttpStatusException e) {
            r.close();
            throw e;
          }
          return r;
        }).build()) {
      callsFailingOnTheAudit(c, 3);
      CircuitBreaker.Snapshot s = breakerOf(c, server);
      assertEquals(CircuitBreaker.State.CLOSED, s.state(), s.toString());
      assertEquals(0, s.failedCalls(), s.toString());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  /**
   * A caller's attribute keeps its value through the call, and one an interceptor writes after
   * a redirect to another origin (here a text) does not hide the 503 thrown from the redirect's
   * answer, which counts against the call's host: its breaker opens. The client's record of
   * where that answer came from is under no attribute name at all (looked for in the context's
   * map, by its value), so no interceptor can read, replace or forge it (it was under
   * "outrigger.answered": an interceptor that wrote there hid the 503, or, writing another
   * host's URL, made that host's 503 the call's).
   */
  @Test
  void anAttributeOfTheUsersIsLeftAloneAndTheRedirectRecordIsUnderNoName() throws Exception {
    List<Object> seen = new CopyOnWriteArrayList<>();
    List<Object> recorded = new CopyOnWriteArrayList<>();
    try (ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none()).circuitBreaker(CircuitBreaker.builder().slidingWindowSize(3)
            .minimumNumberOfCalls(3).build())
        .addAttemptInterceptor(chain -> {
          Response r = chain.proceed(chain.request());
          seen.add(String.valueOf(chain.context().attribute(ANSWERED)));
          HttpUrl from = RealCallContext.answeredUrl(chain.context());
          if (from != null) {
            recorded.add(from + " " + namesHolding(chain.context(), from));
          }
          if (r.isSuccessful()) {
            return r;
          }
          chain.context().attribute(ANSWERED, "mine");
          r.close();
          throw new HttpStatusException(r.code(), r.request().method(),
              r.request().url().toString(), "", chain.context().attemptsSent());
        }).build()) {
      assertEquals("ok", c.get("/x").attribute(ANSWERED, "the caller's").execute(String.class));
      for (int i = 0; i < 2; i++) {
        assertThrows(HttpStatusException.class, () -> c.get("/moved").execute(String.class));
      }
      assertEquals(List.of("the caller's", "null", "null"), seen);
      String elsewhere = audit.url("/moved-here") + " []";
      assertEquals(List.of(elsewhere, elsewhere), recorded,
          "where each redirect's answer came from, and the attribute names that read it");
      CircuitBreaker.Snapshot s = breakerOf(c, server);
      assertEquals(CircuitBreaker.State.OPEN, s.state(), s.toString());
      assertEquals(2, s.failedCalls(), s.toString());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  /**
   * The attribute names under which {@code ctx} holds {@code value}: those an interceptor could
   * read it by, or replace it under. Read from the context's attribute map, which
   * {@link CallContext} does not list.
   */
  private static List<String> namesHolding(CallContext ctx, Object value) {
    Map<?, ?> attributes;
    try {
      Field f = RealCallContext.class.getDeclaredField("attributes");
      f.setAccessible(true);
      attributes = (Map<?, ?>) f.get(ctx);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
    List<String> names = new ArrayList<>();
    for (Map.Entry<?, ?> e : attributes.entrySet()) {
      if (e.getValue() == value && e.getKey() instanceof String name) {
        names.add(name);
      }
    }
    return names;
  }

  /**
   * Attempt 1 is redirected to the audit's host, whose 503 counts against the call's host and is
   * retried; attempt 2 gets no answer (its connection closes), and the attempt interceptor throws
   * a 503 naming the audit's host, as one that knows of that host's trouble might. Where attempt
   * 1's answer came from was still kept, so that 503 counted against the call's host too (its
   * breaker counted 2 failures); without attempt 1 it is another host's, and so it is now.
   */
  @Test
  void whereAnEarlierAttemptsAnswerCameFromSaysNothingOfALaterAttempt() throws Exception {
    String elsewhere = audit.url("/moved-here").toString();
    try (ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none().maxAttempts(2)).circuitBreaker(CircuitBreaker.builder()
            .slidingWindowSize(10).minimumNumberOfCalls(10).build())
        .addAttemptInterceptor(chain -> {
          Response r;
          try {
            r = chain.proceed(chain.request());
          } catch (TransportException e) {
            throw new HttpStatusException(503, "GET", elsewhere, "", e.attempts());
          }
          r.close();
          throw new HttpStatusException(r.code(), r.request().method(),
              r.request().url().toString(), "", chain.context().attemptsSent());
        }).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> c.get("/moved-then-gone").execute(String.class));
      assertEquals(2, e.attempts());
      assertEquals(1, audit.getRequestCount());
      CircuitBreaker.Snapshot s = breakerOf(c, server);
      assertEquals(2, s.calls(), s.toString());
      assertEquals(1, s.failedCalls(), s.toString());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  @Test
  void theBreakerDoesNotCountAnotherHostsThrownStatus() throws Exception {
    try (ApiClient c = audited().circuitBreaker(CircuitBreaker.builder()
        .slidingWindowSize(2).minimumNumberOfCalls(2).build()).build()) {
      callsFailingOnTheAudit(c, 3);
      CircuitBreaker.Snapshot s = breakerOf(c, server);
      assertEquals(CircuitBreaker.State.CLOSED, s.state(), s.toString());
      assertEquals(2, s.calls(), s.toString());
      assertEquals(0, s.failedCalls(), s.toString());
      assertEquals(3, server.getRequestCount(), "every attempt reached the host");
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  /**
   * The retry policy still retries another host's thrown 503: the attempt failed with it, and
   * its retry (the audit's too) is sent again to the call's host, as any retry is; the breaker
   * counts each attempt the host answered as a success.
   */
  @Test
  void theRetryPolicyRetriesAnotherHostsThrownStatus() throws Exception {
    try (ApiClient c = audited().retry(Retry.none().maxAttempts(2)).circuitBreaker(
        CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2).build()).build()) {
      HttpStatusException e =
          assertThrows(HttpStatusException.class, () -> c.get("/x").execute(String.class));
      assertEquals(503, e.status());
      assertEquals(2, e.attempts());
      assertEquals(2, server.getRequestCount());
      assertEquals(2, audit.getRequestCount());
      CircuitBreaker.Snapshot s = breakerOf(c, server);
      assertEquals(CircuitBreaker.State.CLOSED, s.state(), s.toString());
      assertEquals(0, s.failedCalls(), s.toString());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  @Test
  void theThrottleTakesAnotherHostsThrown503ForNoRejection() throws Exception {
    List<Double> probabilities = new CopyOnWriteArrayList<>();
    try (ApiClient c = audited().circuitBreaker(CircuitBreaker.none()).clientThrottling(1)
        .addListener(new CallListener() {
          @Override
          public void throttleProbability(String host, double p, long requests, long accepts) {
            probabilities.add(p);
          }
        }).build()) {
      callsFailingOnTheAudit(c, 4);
      assertEquals(0.0, probabilities.stream().mapToDouble(p -> p).max().orElse(0),
          "rejection probabilities " + probabilities);
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  @Test
  void theAdaptiveLimitIsNotCutByAnotherHostsThrown503() throws Exception {
    List<String> changes = new CopyOnWriteArrayList<>();
    try (ApiClient c = audited().circuitBreaker(CircuitBreaker.none())
        .adaptiveConcurrency(AdaptiveLimit.vegas().initial(20).backoffRatio(0.5))
        .addListener(new CallListener() {
          @Override
          public void adaptiveLimitChanged(String host, int from, int to) {
            changes.add(host + " " + from + "->" + to);
          }
        }).build()) {
      callsFailingOnTheAudit(c, 2);
      assertEquals(List.of(), changes);
      ClientTestSupport.assertNoLeaks(c);
    }
  }
}
