package dev.outrigger.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/**
 * A status an attempt interceptor throws as {@link HttpStatusException}, rather than returns, is
 * the server's status all the same. The retry policy, the client-side throttle and the adaptive
 * in-flight limit judge it by its status; so must the breaker ("any 5xx" counts as a failure,
 * and {@code failureStatus} decides statuses), not hand it to the default exception rule, which
 * takes every exception but a {@code TransportException} or a deadline's for a success. A
 * {@code failureException} the user set decides it instead, as a set {@code retryOnException}
 * does for retries.
 */
class ThrownStatusBreakerTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void aThrown503CountsAsAFailureAndOpensTheBreaker() throws Exception {
    opensOnTwoThrown(503, CircuitBreaker.builder());
  }

  @Test
  void aFailureExceptionRuleThatCountsAThrown429IsAsked() throws Exception {
    opensOnTwoThrown(429, CircuitBreaker.builder().failureException(e -> e instanceof
        TransportException || e instanceof HttpStatusException h && h.status() == 429));
  }

  /** Two answers of {@code status}, thrown by an attempt interceptor, open the breaker. */
  private void opensOnTwoThrown(int status, CircuitBreaker.Builder breaker) throws Exception {
    for (int i = 0; i < 4; i++) {
      server.enqueue(new MockResponse.Builder().code(status).body("no").build());
    }
    try (ApiClient client = ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .circuitBreaker(breaker.slidingWindowSize(2).minimumNumberOfCalls(2).build())
        .addAttemptInterceptor(chain -> {
          Response r = chain.proceed(chain.request());
          if (r.isSuccessful()) {
            return r;
          }
          r.close();
          throw new HttpStatusException(r.code(), chain.request().method(),
              chain.request().url().toString(), "", chain.context().attemptsSent());
        })
        .build()) {
      for (int i = 0; i < 2; i++) {
        HttpStatusException e =
            assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
        assertEquals(status, e.status());
      }
      String key = server.getHostName() + ":" + server.getPort();
      CircuitBreaker.Snapshot s = client.breaker(key).snapshot();
      assertEquals(2, s.failedCalls(), "two thrown " + status + "s not counted as failures: " + s);
      assertEquals(CircuitBreaker.State.OPEN, s.state());
      assertThrows(CircuitOpenException.class, () -> client.get("/x").execute(String.class));
      assertEquals(2, server.getRequestCount());
      ClientTestSupport.assertNoLeaks(client);
    }
  }
}
