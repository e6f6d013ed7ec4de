package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Response;
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

  /**
   * A {@link VirtualMachineError} thrown by a transition's listener goes on to the caller, and
   * the answer the breaker held goes nowhere: its body is closed on the way out, as on every
   * other path.
   */
  @Test
  void aVirtualMachineErrorFromATransitionListenerStillClosesTheAnswer() throws Exception {
    AtomicInteger opened = new AtomicInteger();
    AtomicInteger closed = new AtomicInteger();
    CallListener dying = new CallListener() {
      @Override
      public void breakerTransition(String key, CircuitBreaker.State from,
          CircuitBreaker.State to) {
        // Only as the breaker opens: the client's close() reports it closing (an OOM from a
        // listener goes on from close() too, and JUnit takes it for the JVM's own).
        if (to == CircuitBreaker.State.OPEN) {
          throw new OutOfMemoryError("the JVM's, in a listener");
        }
      }
    };
    // Sees every answer on its way up, with a body that counts its close().
    CallInterceptor counting = chain -> {
      Response r = chain.proceed(chain.request());
      opened.incrementAndGet();
      return CloseCountingBody.wrap(r, closed);
    };
    try (ApiClient c = ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .circuitBreaker(CircuitBreaker.builder().slidingWindowSize(1)
            .minimumNumberOfCalls(1).failureRateThreshold(0.5).build())
        .addListener(dying)
        .addAttemptInterceptor(counting)
        .build()) {
      server.enqueue(new MockResponse.Builder().code(503).body("busy").build());

      // This 503 opens the breaker, and the transition's listener runs out of memory.
      assertThrows(OutOfMemoryError.class, () -> c.get("/x").execute(String.class));
      assertEquals(1, opened.get());
      assertEquals(1, closed.get(), "the 503's body must be closed");
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  /**
   * A {@link VirtualMachineError} from {@code retryScheduled} ends the call before its retry
   * is sent: the retry's withdrawal from the budget goes back, as for any retry that is never
   * sent. It was kept, so each such call spent a retry of the host's budget for nothing.
   */
  @Test
  void aVirtualMachineErrorFromRetryScheduledGivesTheRetryBudgetBack() throws Exception {
    CallListener dying = new CallListener() {
      @Override
      public void retryScheduled(CallContext call, java.time.Duration wait, String reason) {
        if (call.url().encodedPath().endsWith("/die")) {
          throw new StackOverflowError("the JVM's, in a listener");
        }
      }
    };
    // Time stands still: the budget's floor (10 retries a second, 10 at first) never refills,
    // and a ratio of 0 earns nothing back from the calls.
    dev.outrigger.internal.FakeClock time = new dev.outrigger.internal.FakeClock();
    try (ApiClient c = ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.exponential(java.time.Duration.ofMillis(1), java.time.Duration.ofMillis(1))
            .maxAttempts(2).budget(0, java.time.Duration.ofSeconds(1), 10))
        .circuitBreaker(CircuitBreaker.none())
        .addListener(dying)
        .clock(time)
        .build()) {
      for (int i = 0; i < 10; i++) {
        server.enqueue(new MockResponse.Builder().code(503).body("busy").build());
        assertThrows(StackOverflowError.class, () -> c.get("/die").execute(String.class));
      }
      assertEquals(10, server.getRequestCount(), "no retry was sent");
      // Had those ten kept their withdrawal, the budget would be spent: this 503 would end
      // its call, not be retried.
      server.enqueue(new MockResponse.Builder().code(503).body("busy").build());
      server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
      assertEquals("ok", c.get("/live").execute(String.class));
      assertEquals(12, server.getRequestCount());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  /**
   * A listener that throws, and whose {@code toString()} throws too: the WARN names it as SLF4J
   * names such an object, and the call and the other listeners go on. The name was built for
   * every throw, counted or logged, outside any guard: the second throw broke the call.
   */
  @Test
  void aThrowingListenerWhoseToStringThrowsStillLeavesTheCallAndTheOthersAlone()
      throws Exception {
    CallListener broken = new CallListener() {
      @Override
      public void callStart(CallContext call) {
        throw new IllegalStateException("a listener's bug");
      }

      @Override
      public String toString() {
        throw new IllegalStateException("toString() broke too");
      }
    };
    AtomicInteger heard = new AtomicInteger();
    CallListener counting = new CallListener() {
      @Override
      public void callStart(CallContext call) {
        heard.incrementAndGet();
      }
    };
    try (LogCapture logs = new LogCapture();
        ApiClient c = ApiClient.builder().baseUrl(server.url("/").toString())
            .addListener(broken).addListener(counting).build()) {
      for (int i = 0; i < 3; i++) {
        server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
        assertEquals("ok", c.get("/x").execute(String.class));
      }
      assertEquals(3, heard.get());
      assertEquals(1, logs.count("WARN", "threw; ignored"), logs.all());
    }
  }
}
