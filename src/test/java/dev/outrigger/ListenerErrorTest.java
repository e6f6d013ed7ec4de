package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A listener that throws an {@link Error} is isolated as one that throws an exception is: the
 * call goes on and ends as it would have, the other listeners still hear the event. A
 * {@link VirtualMachineError} is the JVM's, not the listener's, and is not swallowed.
 */
class ListenerErrorTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void anErrorFromABreakerTransitionListenerIsIgnoredButAVirtualMachineErrorIsNot()
      throws Exception {
    List<String> heard = new CopyOnWriteArrayList<>();
    CallListener broken = new CallListener() {
      @Override
      public void breakerTransition(String key, CircuitBreaker.State from,
          CircuitBreaker.State to) {
        throw new AssertionError("a listener's bug");
      }

      @Override
      public void callStart(CallContext call) {
        if (call.url().encodedPath().endsWith("/overflow")) {
          throw new StackOverflowError("the JVM's");
        }
      }
    };
    CallListener recording = new CallListener() {
      @Override
      public void breakerTransition(String key, CircuitBreaker.State from,
          CircuitBreaker.State to) {
        heard.add(from + " -> " + to);
      }
    };
    try (LogCapture logs = new LogCapture();
        ApiClient c = ApiClient.builder()
            .baseUrl(server.url("/").toString())
            .retry(Retry.none())
            .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(2)
                .minimumNumberOfCalls(2).failureRateThreshold(0.5).build())
            .addListener(broken)
            .addListener(recording)
            .build()) {
      server.enqueue(new MockResponse.Builder().code(503).body("busy").build());
      server.enqueue(new MockResponse.Builder().code(503).body("busy").build());

      assertEquals(503, assertThrows(HttpStatusException.class,
          () -> c.get("/x").execute(String.class)).status());
      // This 503 opens the breaker: the first listener throws on the transition, and the call
      // still ends with its own 503 (its buffered answer closed), the second listener told.
      assertEquals(503, assertThrows(HttpStatusException.class,
          () -> c.get("/x").execute(String.class)).status());
      assertEquals(List.of("CLOSED -> OPEN"), heard);
      assertEquals(1, logs.count("WARN", "threw; ignored"), logs.all());

      // An OutOfMemoryError or a StackOverflowError is no listener's to hide: it reaches the
      // caller, and nothing is sent.
      assertThrows(StackOverflowError.class, () -> c.get("/overflow").execute(String.class));
      assertEquals(2, server.getRequestCount());
      ClientTestSupport.assertNoLeaks(c);
    }
  }
}
