package dev.outrigger.reliability;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every builder value out of range fails at once with an {@link IllegalArgumentException} that
 * names the setting, so the message says what to change.
 */
class BuilderValidationTest {
  private static void rejects(String setting, Executable bad) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, bad, setting);
    assertTrue(e.getMessage() != null && e.getMessage().contains(setting),
        "message should name '" + setting + "': " + e.getMessage());
  }

  private static ApiClient.Builder b() {
    return ApiClient.builder();
  }

  @Test
  void clientSettings() {
    rejects("baseUrl", () -> b().baseUrl("").build());
    rejects("baseUrl", () -> b().baseUrl("   ").build());
    rejects("baseUrl", () -> b().baseUrl("example.com/v1").build());
    rejects("baseUrl", () -> b().baseUrl("file:///etc/passwd").build());
    rejects("deadline", () -> b().deadline(Duration.ZERO));
    rejects("deadline", () -> b().deadline(Duration.ofMillis(-5)));
    rejects("attemptTimeout", () -> b().attemptTimeout(Duration.ZERO));
    rejects("attemptTimeout",
        () -> b().deadline(Duration.ofSeconds(1)).attemptTimeout(Duration.ofSeconds(5)).build());
    rejects("maxInFlightPerHost", () -> b().maxInFlightPerHost(0));
    rejects("connectTimeout", () -> b().connectTimeout(Duration.ZERO));
    rejects("readTimeout", () -> b().readTimeout(Duration.ofSeconds(-1)));
    rejects("writeTimeout", () -> b().writeTimeout(Duration.ZERO));
    rejects("maxIdleConnections", () -> b().connectionPool(-1, Duration.ofSeconds(1)));
    rejects("keepAlive", () -> b().connectionPool(5, Duration.ZERO));
    rejects("maxResponseBytes", () -> b().maxResponseBytes(0));
    rejects("maxResponseBytes", () -> b().maxResponseBytes(3L * 1024 * 1024 * 1024));
    rejects("redactHeader", () -> b().redactHeader(" "));
    rejects("redactQueryParameter", () -> b().redactQueryParameter(""));
    rejects("propagateDeadline", () -> b().propagateDeadline(""));
  }

  /**
   * A null setting fails at once saying what to pass, in one form ("deadline must not be null:
   * give a positive Duration ..."), not with a bare NullPointerException("deadline").
   */
  private static void refusesNull(String start, Executable bad) {
    NullPointerException e = assertThrows(NullPointerException.class, bad, start);
    assertTrue(e.getMessage() != null && e.getMessage().startsWith(start + " must not be null")
        && e.getMessage().length() > (start + " must not be null: give").length(),
        "'" + start + "' should say what to pass: " + e.getMessage());
  }

  @Test
  void aNullSettingSaysWhatToPass() {
    refusesNull("deadline", () -> b().deadline(null));
    assertTrue(assertThrows(NullPointerException.class, () -> b().deadline(null)).getMessage()
        .endsWith("(default 10 s; ChronoUnit.FOREVER.getDuration() for no limit)"));
    refusesNull("connectTimeout", () -> b().connectTimeout(null));
    refusesNull("readTimeout", () -> b().readTimeout(null));
    refusesNull("writeTimeout", () -> b().writeTimeout(null));
    refusesNull("keepAlive", () -> b().connectionPool(5, null));
    refusesNull("retry", () -> b().retry(null));
    refusesNull("circuitBreaker", () -> b().circuitBreaker(null));
    refusesNull("okHttpClient", () -> b().okHttpClient(null));
    refusesNull("trustManager", () -> b().tls(
        (javax.net.ssl.SSLSocketFactory) javax.net.ssl.SSLSocketFactory.getDefault(), null));
    refusesNull("interceptor", () -> b().addCallInterceptor(null));
    refusesNull("interceptor", () -> b().addAttemptInterceptor(null));
    refusesNull("interceptor", () -> b().addOkHttpInterceptor(null));
    refusesNull("listener", () -> b().addListener(null));

    CircuitBreaker.Builder cb = CircuitBreaker.builder();
    refusesNull("slidingWindowType", () -> cb.slidingWindowType(null));
    refusesNull("slowCallDuration", () -> cb.slowCallDuration(null));
    refusesNull("waitInOpenState", () -> cb.waitInOpenState(null));
    refusesNull("waitInOpenStateGrowth max", () -> cb.waitInOpenStateGrowth(2, null));
    refusesNull("failureStatus", () -> cb.failureStatus(null));
    refusesNull("failureException", () -> cb.failureException(null));
    refusesNull("keyedBy", () -> cb.keyedBy(null));

    Retry r = Retry.none();
    refusesNull("initialDelay", () -> Retry.exponential(null, Duration.ofSeconds(1)));
    refusesNull("maxDelay", () -> Retry.exponential(Duration.ofSeconds(1), null));
    refusesNull("jitter", () -> r.jitter(null));
    refusesNull("random", () -> r.random(null));
    refusesNull("maxRetryAfter", () -> r.maxRetryAfter(null));
    refusesNull("budget window", () -> r.budget(0.2, null, 10));
    refusesNull("retryOnStatus", () -> r.retryOnStatus(null));
    refusesNull("retryOnResponse", () -> r.retryOnResponse(null));
    refusesNull("retryOnException", () -> r.retryOnException(null));

    RateLimit limit = RateLimit.perSecond(10);
    refusesNull("period", () -> RateLimit.per(10, null));
    refusesNull("other", () -> limit.and(null));
    refusesNull("keyedBy", () -> limit.keyedBy(null));
    refusesNull("maxPause", () -> limit.maxPause(null));
    refusesNull("store", () -> limit.store(null));
    refusesNull("AdaptiveLimit rttWindow", () -> AdaptiveLimit.vegas().rttWindow(null));

    try (ApiClient client = b().baseUrl("http://localhost/").build()) {
      refusesNull("deadline", () -> client.get("/x").deadline(null));
      refusesNull("header value for X-Trace", () -> client.get("/x").header("X-Trace", null));
      refusesNull("bytes", () -> client.post("/x").body(null, "text/plain"));
      refusesNull("type", () -> client.get("/x").execute((Class<?>) null));
      refusesNull("type", () -> client.get("/x").send((Class<?>) null));
    }
  }

  @Test
  void aDeadlineHeaderThatTheClientSetsItselfIsRefusedSayingWhatToUse() {
    for (String owned : new String[] {"Authorization", "idempotency-key", "User-Agent", "Host"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> b().propagateDeadline(owned));
      assertTrue(e.getMessage().startsWith("propagateDeadline header name must not be '" + owned
          + "', a header the client or OkHttp sets itself"), e.getMessage());
      assertTrue(e.getMessage().endsWith("such as X-Deadline-Ms or grpc-timeout"), e.getMessage());
    }
    b().propagateDeadline("X-Deadline-Ms").build().close();
  }

  @Test
  void aBaseUrlWithAPlaceholderIsRefusedAtBuildSayingWhereItGoes() {
    // OkHttp would take it and send the braces as %7B and %7D: a 404 on every call.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> b().baseUrl("https://api.example.com/orgs/{org}").build());
    assertTrue(e.getMessage().startsWith("baseUrl must not have a {placeholder}"), e.getMessage());
    assertTrue(e.getMessage().contains("put the placeholder in each call's path"), e.getMessage());
    assertTrue(e.getMessage().endsWith("but was 'https://api.example.com/orgs/{org}'"),
        e.getMessage());
    // Already percent-encoded braces are literal text the caller meant.
    b().baseUrl("https://api.example.com/orgs/%7Borg%7D").build().close();
    // A brace in a password (user info, allowed beside a client of the caller's) is no path.
    b().okHttpClient(new okhttp3.OkHttpClient()).baseUrl("https://u:p{w}@api.example.com/v1")
        .build().close();
    // A path written with backslashes, as OkHttp reads them, and one beside such a password,
    // are still refused, and the message shows no password.
    assertThrows(IllegalArgumentException.class,
        () -> b().baseUrl("https://api.example.com\\orgs\\{org}").build());
    IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
        () -> b().okHttpClient(new okhttp3.OkHttpClient())
            .baseUrl("https://u:s3cr{t@api.example.com/orgs/{org}").build());
    assertTrue(both.getMessage().startsWith("baseUrl must not have a {placeholder}"),
        both.getMessage());
    assertFalse(both.getMessage().contains("s3cr"), both.getMessage());
  }

  @Test
  void validationDoesNotDependOnCallOrder() {
    Supplier<ApiClient.Builder> timeoutFirst =
        () -> b().attemptTimeout(Duration.ofSeconds(5)).deadline(Duration.ofSeconds(1));
    rejects("attemptTimeout", () -> timeoutFirst.get().build());
  }

  @Test
  void rateLimitSettings() {
    rejects("rate", () -> RateLimit.perSecond(0));
    rejects("rate", () -> RateLimit.perSecond(-1));
    rejects("rate", () -> RateLimit.perSecond(Double.NaN));
    rejects("rate", () -> RateLimit.perSecond(Double.POSITIVE_INFINITY));
    rejects("burst", () -> RateLimit.perSecond(10).burst(0));
  }

  @Test
  void retrySettings() {
    rejects("initialDelay", () -> Retry.exponential(Duration.ZERO, Duration.ofSeconds(1)));
    rejects("maxDelay", () -> Retry.exponential(Duration.ofSeconds(2), Duration.ofSeconds(1)));
    rejects("maxAttempts", () -> Retry.none().maxAttempts(0));
    rejects("multiplier",
        () -> Retry.exponential(Duration.ofMillis(1), Duration.ofSeconds(1)).multiplier(0.5));
    rejects("multiplier",
        () -> Retry.exponential(Duration.ofMillis(1), Duration.ofSeconds(1)).multiplier(Double.NaN));
  }

  @Test
  void circuitBreakerSettings() {
    rejects("slidingWindowSize", () -> CircuitBreaker.builder().slidingWindowSize(0));
    rejects("minimumNumberOfCalls", () -> CircuitBreaker.builder().minimumNumberOfCalls(0));
    rejects("failureRateThreshold", () -> CircuitBreaker.builder().failureRateThreshold(0));
    rejects("failureRateThreshold", () -> CircuitBreaker.builder().failureRateThreshold(1.5));
    rejects("failureRateThreshold",
        () -> CircuitBreaker.builder().failureRateThreshold(Double.NaN));
    rejects("waitInOpenState", () -> CircuitBreaker.builder().waitInOpenState(Duration.ZERO));
    rejects("permittedCallsInHalfOpen", () -> CircuitBreaker.builder().permittedCallsInHalfOpen(0));
    rejects("minimumNumberOfCalls", () -> CircuitBreaker.builder().slidingWindowSize(10)
        .minimumNumberOfCalls(20).build());
  }
}
