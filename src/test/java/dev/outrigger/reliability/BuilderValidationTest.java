package dev.outrigger.reliability;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
