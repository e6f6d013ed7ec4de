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
 * A user's own {@code failureException} that counts a thrown 429 (the only way, before 53a8d89,
 * to have a thrown status counted at all) is no longer asked: since 53a8d89 the default status
 * rule takes the thrown 429 for a success, silently. The retry policy, which the commit cites,
 * lets a {@code retryOnException} that is set decide thrown statuses (README,
 * Retry#retryOnResponse).
 */
class ThrownStatusCustomRuleBreakerTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void aFailureExceptionRuleThatCountsAThrown429IsStillAsked() throws Exception {
    for (int i = 0; i < 4; i++) {
      server.enqueue(new MockResponse.Builder().code(429).body("slow down").build());
    }
    try (ApiClient client = ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2).minimumNumberOfCalls(2)
            .failureException(e -> e instanceof TransportException
                || e instanceof HttpStatusException h && h.status() == 429)
            .build())
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
        assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
      }
      String key = server.getHostName() + ":" + server.getPort();
      CircuitBreaker.Snapshot s = client.breaker(key).snapshot();
      assertEquals(2, s.failedCalls(), "the user's rule for thrown 429s was not asked: " + s);
      assertThrows(CircuitOpenException.class, () -> client.get("/x").execute(String.class));
      ClientTestSupport.assertNoLeaks(client);
    }
  }
}
