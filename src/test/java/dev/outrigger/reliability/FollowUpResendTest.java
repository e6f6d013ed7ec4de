package dev.outrigger.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiResponse;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import okhttp3.OkHttpClient;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Requests OkHttp writes after the first within one attempt (a redirect, an authenticator, its
 * own re-send, an OkHttp interceptor of the user's proceeding again): a write that was not opted
 * in to being sent more than once never goes again to a method and URL it already went to,
 * unless it answers a 401 or 407.
 */
class FollowUpResendTest {
  private static final String BODY = "{\"order\":42}";
  private final List<FaultServer.Request> received = new CopyOnWriteArrayList<>();
  private FaultServer server;
  private ApiClient client;

  @AfterEach
  void tearDown() throws IOException {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private ApiClient client(Function<FaultServer.Request, FaultServer.Action> script,
      UnaryOperator<ApiClient.Builder> more) throws IOException {
    server = new FaultServer(r -> {
      received.add(r);
      return script.apply(r);
    });
    client = more.apply(ApiClient.builder().baseUrl(server.url("/")).deadline(Duration.ofSeconds(8))
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(5)).maxAttempts(3)
            .noBudget())).build();
    return client;
  }

  private static FaultServer.Reply status(int code, Map<String, String> headers) {
    return new FaultServer.Reply(code, headers, "", 0);
  }

  private long posts() {
    return received.stream()
        .filter(r -> r.method().equals("POST") && new String(r.body()).equals(BODY)).count();
  }

  private TransportException refused(ApiClient c) {
    TransportException e = assertThrows(TransportException.class,
        () -> c.post("/orders").body(BODY.getBytes(), "application/json").execute(String.class));
    assertEquals(TransportException.Kind.PROTOCOL, e.kind(), e.getMessage());
    assertEquals(1, e.attempts(), "a protocol failure is not retried");
    assertTrue(e.getMessage().contains("not sent again within the attempt"), e.getMessage());
    assertTrue(e.getMessage().contains("idempotencyKey(...) or retryable()"), e.getMessage());
    return e;
  }

  @Test
  void aRedirectLoopOfAnUnkeyedWriteStopsBeforeItGoesAgain() throws IOException {
    // OkHttp alone follows 20 redirects: the same POST, never opted in, read 21 times.
    ApiClient c = client(r -> status(307, Map.of("Location", "/orders")), b -> b);
    TransportException e = refused(c);
    assertTrue(e.getMessage().contains("after status 307"), e.getMessage());
    assertEquals(1, posts());
  }

  @Test
  void aRedirectToAnotherUrlIsFollowedWithinTheAttempt() throws IOException {
    ApiClient c = client(r -> r.target().equals("/orders")
        ? status(307, Map.of("Location", "/orders-v2")) : status(201, Map.of()), b -> b);
    ApiResponse<String> r = c.post("/orders").body(BODY.getBytes(), "application/json")
        .send(String.class);
    assertEquals(201, r.status());
    assertEquals(2, posts(), "the server asked for the body at its new location");
    assertEquals(1, r.attempts(), "a redirect is part of its attempt");
  }

  @Test
  void anOkHttpInterceptorCannotSendAnUnkeyedWriteAgainUnlessItIsOptedIn() throws IOException {
    // A hand-rolled retry in an OkHttp interceptor: after a 503, and after a reset.
    for (boolean reset : new boolean[] {false, true}) {
      received.clear();
      AtomicInteger n = new AtomicInteger();
      ApiClient c = client(r -> n.getAndIncrement() > 0 ? status(201, Map.of())
          : reset ? new FaultServer.Reset() : status(503, Map.of()),
          b -> b.retry(Retry.none()).addOkHttpInterceptor(chain -> {
            try {
              Response first = chain.proceed(chain.request());
              if (first.code() != 503) {
                return first;
              }
              first.close();
            } catch (IOException e) {
              // and send it again
            }
            return chain.proceed(chain.request());
          }));
      TransportException e = refused(c);
      assertTrue(e.getMessage().contains(reset ? "after a failure" : "after status 503"),
          e.getMessage());
      assertEquals(1, posts(), "reset " + reset);
      n.set(0);
      assertEquals(201, c.post("/orders").body(BODY.getBytes(), "application/json").retryable()
          .send(String.class).status(), "opted in: sent again");
      tearDown();
    }
  }

  @Test
  void okHttpsOwnReSendOfA408IsRefusedEvenWhenAnInterceptorTurnsItOn() throws IOException {
    AtomicInteger n = new AtomicInteger();
    ApiClient c = client(r -> n.getAndIncrement() == 0 ? status(408, Map.of())
        : status(201, Map.of()), b -> b.addOkHttpInterceptor(
            chain -> chain.withRetryOnConnectionFailure(true).proceed(chain.request())));
    refused(c);
    assertEquals(1, posts());
  }

  @Test
  void anAuthenticatorsAnswerToA401GoesAsTheServerDidNotActOnTheRequest() throws IOException {
    OkHttpClient mine = new OkHttpClient.Builder()
        .authenticator((route, resp) -> resp.request().header("Authorization") != null ? null
            : resp.request().newBuilder().header("Authorization", "Bearer t").build())
        .build();
    ApiClient c = client(r -> r.header("Authorization") == null
        ? status(401, Map.of("WWW-Authenticate", "Bearer")) : status(201, Map.of()),
        b -> b.okHttpClient(mine));
    ApiResponse<String> r = c.post("/orders").body(BODY.getBytes(), "application/json")
        .send(String.class);
    assertEquals(201, r.status());
    assertEquals(2, posts());
    assertEquals(1, r.attempts(), "OkHttp's answer to the 401 is part of the attempt");
  }

  @Test
  void aReSendAfterA421GoesAsTheServerDidNotActOnTheRequest() throws IOException {
    // OkHttp re-sends on 421 Misdirected Request over another (HTTP/2) connection; an OkHttp
    // interceptor does the same here over HTTP/1.1.
    AtomicInteger n = new AtomicInteger();
    ApiClient c = client(r -> n.getAndIncrement() == 0 ? status(421, Map.of())
        : status(201, Map.of()), b -> b.addOkHttpInterceptor(chain -> {
          Response first = chain.proceed(chain.request());
          if (first.code() != 421) {
            return first;
          }
          first.close();
          return chain.proceed(chain.request());
        }));
    assertEquals(201, c.post("/orders").body(BODY.getBytes(), "application/json")
        .send(String.class).status());
    assertEquals(2, posts());
  }

  @Test
  void aRedirectLoopOfAGetIsLeftToOkHttp() throws IOException {
    // Idempotent: a redirect to itself may be how a server sets a cookie; OkHttp's own limit
    // (20 follow-ups) ends a real loop, as before.
    AtomicInteger n = new AtomicInteger();
    ApiClient c = client(r -> n.getAndIncrement() < 3 ? status(302, Map.of("Location", "/page"))
        : new FaultServer.Reply(200, "ok"), b -> b);
    assertEquals("ok", c.get("/page").execute(String.class));
    assertEquals(4, received.size());
  }

  @Test
  void aWriteTurnedIntoAGetBySeeOtherMayReadAUrlAgain() throws IOException {
    // POST, then 303 to a page that bounces through another and back (a cookie set on the way,
    // say): the POST went once, and what follows are GETs, which the write's send-once rule
    // refused as "not idempotent".
    AtomicInteger pages = new AtomicInteger();
    ApiClient c = client(r -> {
      if (r.method().equals("POST")) {
        return status(303, Map.of("Location", "/receipt"));
      }
      if (r.target().equals("/receipt")) {
        return pages.getAndIncrement() == 0 ? status(302, Map.of("Location", "/session"))
            : new FaultServer.Reply(200, "receipt");
      }
      return status(302, Map.of("Location", "/receipt"));
    }, b -> b);
    ApiResponse<String> r = c.post("/orders").body(BODY.getBytes(), "application/json")
        .send(String.class);
    assertEquals("receipt", r.body());
    assertEquals(1, r.attempts());
    assertEquals(1, posts());
    assertEquals(List.of("POST /orders", "GET /receipt", "GET /session", "GET /receipt"),
        received.stream().map(q -> q.method() + " " + q.target()).toList());
  }
}
