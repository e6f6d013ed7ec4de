package dev.outrigger.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

class OutcomeTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void aStatusOutsideTheKnownRangeIsAnErrorForTheAttemptAsForTheCall() {
    server.enqueue(new MockResponse.Builder().status("HTTP/1.1 600 Custom").body("x").build());
    List<String> outcomes = new CopyOnWriteArrayList<>();
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .addListener(new CallListener() {
          @Override
          public void attemptEnd(CallContext c, int status, Throwable e, Duration d) {
            outcomes.add("attempt " + Outcome.of(status, e));
          }

          @Override
          public void callEnd(CallContext c, int status, Throwable e, Duration d) {
            outcomes.add("call " + Outcome.of(status, e));
          }
        }).build()) {
      HttpStatusException e = Assertions.assertThrows(HttpStatusException.class,
          () -> client.get("/x").execute(String.class));
      assertEquals(600, e.status());
    }
    assertEquals(List.of("attempt ERROR", "call ERROR"), outcomes);
  }

  @Test
  void theSetStaysClosed() {
    assertEquals("SUCCESS", Outcome.of(204, null));
    assertEquals("SERVER_ERROR", Outcome.of(503, null));
    assertEquals("ERROR", Outcome.of(42, null));
    assertEquals("ERROR", Outcome.of(-1, new IllegalStateException()));
  }
}
