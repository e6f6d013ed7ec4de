package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How interceptors see the chain: each sees the request it was given, before and after it
 * proceeds, whatever the interceptors inside it did; one may proceed twice; a null request or
 * a null response is refused with a message naming the interceptor.
 */
class ChainWalkTest {
  private final List<String> received = new CopyOnWriteArrayList<>();
  private HttpServer server;

  @BeforeEach
  void start() throws IOException {
    server = ClientTestSupport.jdkServer(exchange -> {
      received.add(exchange.getRequestURI().getPath() + " a=" + exchange.getRequestHeaders()
          .getFirst("X-A") + " b=" + exchange.getRequestHeaders().getFirst("X-B"));
      ClientTestSupport.reply(exchange, 200, "ok");
    });
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  @Test
  void eachInterceptorSeesItsOwnRequestBeforeAndAfterProceeding() {
    List<String> seen = new CopyOnWriteArrayList<>();
    try (ApiClient client = ApiClient.builder().baseUrl(ClientTestSupport.url(server))
        .addCallInterceptor(chain -> {
          Request mine = chain.request();
          Response r = chain.proceed(mine.newBuilder().header("X-A", "1").build());
          seen.add("call after: " + chain.request().header("X-A") + " same="
              + (chain.request() == mine));
          return r;
        })
        .addAttemptInterceptor(chain -> {
          Request mine = chain.request();
          seen.add("attempt before: " + mine.header("X-A"));
          Response r = chain.proceed(mine.newBuilder().header("X-B", "2").build());
          seen.add("attempt after: " + chain.request().header("X-B") + " same="
              + (chain.request() == mine));
          assertSame(chain.context(), chain.context());
          return r;
        }).build()) {
      assertEquals("ok", client.get("/one").execute(String.class));
    }
    assertEquals(List.of("/one a=1 b=2"), received);
    assertEquals(List.of("attempt before: 1", "attempt after: null same=true",
        "call after: null same=true"), seen);
  }

  @Test
  void anInterceptorMayProceedTwiceWithDifferentRequests() {
    try (ApiClient client = ApiClient.builder().baseUrl(ClientTestSupport.url(server))
        .addAttemptInterceptor(chain -> {
          Request mine = chain.request();
          chain.proceed(mine.newBuilder().header("X-A", "first").build()).close();
          return chain.proceed(mine.newBuilder().header("X-B", "second").build());
        }).build()) {
      ApiResponse<String> r = client.get("/twice").send(String.class);
      assertEquals("ok", r.body());
      assertEquals(2, r.attempts(), "both sends count as attempts");
    }
    assertEquals(List.of("/twice a=first b=null", "/twice a=null b=second"), received);
  }

  @Test
  void proceedingWithNullNamesTheInterceptor() {
    CallInterceptor bad = new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        return chain.proceed(null);
      }

      @Override
      public String toString() {
        return "NullSender";
      }
    };
    try (ApiClient client = ApiClient.builder().baseUrl(ClientTestSupport.url(server))
        .addAttemptInterceptor(bad).build()) {
      NullPointerException e = assertThrows(NullPointerException.class,
          () -> client.get("/x").execute(String.class));
      assertTrue(e.getMessage().contains("NullSender"), e.getMessage());
    }
    assertTrue(received.isEmpty());
  }

  @Test
  void aNullResponseNamesTheInterceptor() {
    CallInterceptor bad = new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        chain.proceed(chain.request()).close();
        return null;
      }

      @Override
      public String toString() {
        return "NullAnswer";
      }
    };
    try (ApiClient client = ApiClient.builder().baseUrl(ClientTestSupport.url(server))
        .addCallInterceptor(bad).build()) {
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> client.get("/x").execute(String.class));
      assertTrue(e.getMessage().contains("NullAnswer"), e.getMessage());
    }
    assertEquals(1, received.size(), "the one send went out before the null came back");
  }
}
