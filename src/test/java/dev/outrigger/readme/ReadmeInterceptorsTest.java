package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.Retry;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/** README "Your own interceptors". */
class ReadmeInterceptorsTest {

  /**
   * "The CallContext carries the method, URL, target host:port, attempt number, attempts sent,
   * the deadline, whether the call may be retried, and attributes."
   */
  @Test
  void theCallContextCarriesWhatTheReadmeLists() throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    try (ReadmeServer server = new ReadmeServer(
            (r, n) -> n == 1 ? new Reply(503, "busy") : Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url() + "/v1")
            .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1)))
            .addCallInterceptor(chain -> {
              chain.context().attribute("tenant", "acme");
              return chain.proceed(chain.request());
            })
            .addAttemptInterceptor(chain -> {
              CallContext c = chain.context();
              seen.add(c.method() + " " + c.url().encodedPath() + " " + c.host() + " attempt "
                  + c.attempt() + " sent " + c.attemptsSent() + " idempotent " + c.idempotent()
                  + " tenant " + c.attribute("tenant")
                  + " deadline<=2s " + (c.deadline().remaining().compareTo(Duration.ofSeconds(2))
                  <= 0));
              return chain.proceed(chain.request());
            })
            .build()) {
      client.post("/orders").retryable().json(List.of(1)).deadline(Duration.ofSeconds(2))
          .execute(String.class);
      client.post("/orders").json(List.of(2)).execute(String.class);
      String host = server.host();
      assertEquals(List.of(
          "POST /v1/orders " + host + " attempt 1 sent 0 idempotent true tenant acme deadline<=2s true",
          "POST /v1/orders " + host + " attempt 2 sent 1 idempotent true tenant acme deadline<=2s true",
          "POST /v1/orders " + host + " attempt 1 sent 0 idempotent false tenant acme deadline<=2s false"),
          seen);
    }
  }

  /**
   * "Interceptors receive responses whose body is already buffered": when proceed returns, the
   * body has been read to its end, so OkHttp has already given the connection back to the pool
   * before the interceptor touches the body.
   */
  @Test
  void anInterceptorGetsTheResponseWithItsBodyAlreadyRead() throws Exception {
    List<Integer> idleAtReturn = new ArrayList<>();
    AtomicInteger okHttpRuns = new AtomicInteger();
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("x".repeat(200_000)))) {
      ApiClient[] holder = new ApiClient[1];
      try (ApiClient client = ApiClient.builder().baseUrl(server.url())
          .addAttemptInterceptor(chain -> {
            Response r = chain.proceed(chain.request());
            idleAtReturn.add(holder[0].okHttpClient().connectionPool().idleConnectionCount());
            return r;
          })
          .addOkHttpInterceptor(chain -> {
            okHttpRuns.incrementAndGet();
            return chain.proceed(chain.request());
          })
          .build()) {
        holder[0] = client;
        assertEquals(200_000, client.get("/big").execute(String.class).length());
      }
    }
    assertEquals(List.of(1), idleAtReturn, "the connection was idle in the pool already");
    assertEquals(1, okHttpRuns.get(), "addOkHttpInterceptor adds an OkHttp interceptor");
  }

  /** "chain.request() always returns the request it was given, before and after proceeding." */
  @Test
  void chainRequestIsTheRequestGivenBeforeAndAfterProceeding() throws Exception {
    List<Boolean> same = new ArrayList<>();
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok " + r.header("X-N")));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .addAttemptInterceptor(chain -> {
              okhttp3.Request given = chain.request();
              Response first = chain.proceed(given.newBuilder().header("X-N", "1").build());
              first.close();
              same.add(chain.request() == given);
              Response second = chain.proceed(given.newBuilder().header("X-N", "2").build());
              same.add(chain.request() == given);
              return second;
            })
            .build()) {
      assertEquals("ok 2", client.get("/x").execute(String.class));
      assertEquals(2, server.requests(), "an interceptor may proceed more than once");
    }
    assertEquals(List.of(true, true), same);
    assertFalse(same.isEmpty());
    assertTrue(same.get(0));
  }
}
