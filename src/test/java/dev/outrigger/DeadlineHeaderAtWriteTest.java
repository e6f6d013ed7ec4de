package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * The propagated deadline says what is left when the request goes out, not when the attempt
 * began: time spent inside the attempt before the write (a connect, a TLS handshake, OkHttp
 * interceptors) and before a redirect's follow-up is not promised to the server.
 */
class DeadlineHeaderAtWriteTest {
  @StartStop private final MockWebServer server = new MockWebServer();
  private final FakeClock time = new FakeClock();

  private ApiClient.Builder client() {
    return ClientTestSupport.withClock(ApiClient.builder(), time)
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .deadline(Duration.ofSeconds(1))
        .propagateDeadline("X-Deadline-Ms");
  }

  @Test
  void timeSpentInTheAttemptBeforeTheWriteIsNotPromised() throws Exception {
    server.enqueue(new MockResponse.Builder().body("ok").build());
    // Stands for a slow connect: 300 ms pass between the attempt's start and its write.
    try (ApiClient c = client().addOkHttpInterceptor(chain -> {
      time.advanceMillis(300);
      return chain.proceed(chain.request());
    }).build()) {
      assertEquals("ok", c.get("/slow-connect").execute(String.class));
    }
    assertEquals("700", server.takeRequest().getHeaders().get("X-Deadline-Ms"));
  }

  /**
   * README: "the server is never told of time the client will not wait". 699.5 ms left is sent
   * as 699 ms, not rounded up to 700; in gRPC's units, 699,500.001 µs as 699500u, not 699501u.
   */
  @Test
  void whatIsLeftIsRoundedDownNotUp() throws Exception {
    for (String header : new String[] {"X-Deadline-Ms", "grpc-timeout"}) {
      server.enqueue(new MockResponse.Builder().body("ok").build());
      try (ApiClient c = client().propagateDeadline(header).addOkHttpInterceptor(chain -> {
        time.advance(300_499_999L);
        return chain.proceed(chain.request());
      }).build()) {
        assertEquals("ok", c.get("/").execute(String.class));
      }
    }
    assertEquals("699", server.takeRequest().getHeaders().get("X-Deadline-Ms"));
    assertEquals("699500u", server.takeRequest().getHeaders().get("grpc-timeout"));
  }

  @Test
  void aRedirectsFollowUpSaysWhatIsLeftWhenItGoesOut() throws Exception {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (request.getUrl().encodedPath().equals("/moved")) {
          time.advanceMillis(200);
          return new MockResponse.Builder().code(302).addHeader("Location", "/here").build();
        }
        return new MockResponse.Builder().body("ok").build();
      }
    });
    try (ApiClient c = client().build()) {
      assertEquals("ok", c.get("/moved").execute(String.class));
    }
    assertEquals("1000", server.takeRequest().getHeaders().get("X-Deadline-Ms"));
    assertEquals("800", server.takeRequest().getHeaders().get("X-Deadline-Ms"));
  }
}
