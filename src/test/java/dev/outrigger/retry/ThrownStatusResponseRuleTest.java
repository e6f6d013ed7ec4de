package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/**
 * A status an attempt interceptor throws as {@link HttpStatusException}, rather than returns, is
 * decided by {@code retryOnResponse} as a returned one is: the rule is shown a response of the
 * exception's status and body snippet. It used to fall back to the default statuses, so a thrown
 * 409 the rule retries was not retried, and a thrown 503 the rule refuses was.
 */
class ThrownStatusResponseRuleTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final List<String> shown = new CopyOnWriteArrayList<>();

  /** A client whose attempt interceptor turns every non-2xx into an HttpStatusException. */
  private ApiClient client(Predicate<Response> rule) {
    return ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(5)).retryOnResponse(r -> {
          shown.add(r.code() + " " + peek(r));
          return rule.test(r);
        }))
        .addAttemptInterceptor(chain -> {
          Response r = chain.proceed(chain.request());
          if (r.isSuccessful()) {
            return r;
          }
          String body = peek(r);
          r.close();
          throw new HttpStatusException(r.code(), chain.request().method(),
              chain.request().url().toString(), body, chain.context().attemptsSent());
        })
        .build();
  }

  private static String peek(Response r) {
    try {
      return r.peekBody(1024).string();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void aThrownStatusTheRuleRetriesIsRetried() throws Exception {
    server.enqueue(new MockResponse.Builder().code(409).body("pending").build());
    server.enqueue(new MockResponse.Builder().body("done").build());

    try (ApiClient client = client(r -> r.code() == 409)) {
      assertEquals("done", client.get("/job").execute(String.class));
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(2, server.getRequestCount());
    assertEquals(List.of("409 pending", "200 done"), shown,
        "the rule saw the thrown status and its body, then the answer");
  }

  @Test
  void aThrownStatusTheRuleRefusesIsNotRetried() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503).body("down").build());
    server.enqueue(new MockResponse.Builder().body("done").build());

    try (ApiClient client = client(r -> false)) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.get("/job").execute(String.class));
      assertEquals(503, e.status());
      ClientTestSupport.assertNoLeaks(client);
    }
    assertEquals(1, server.getRequestCount());
    assertEquals(List.of("503 down"), shown);
  }
}
