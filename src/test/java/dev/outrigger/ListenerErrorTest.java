package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.MediaType;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.BufferedSource;
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
      ResponseBody body = r.body();
      opened.incrementAndGet();
      return r.newBuilder().body(new ResponseBody() {
        @Override
        public MediaType contentType() {
          return body.contentType();
        }

        @Override
        public long contentLength() {
          return body.contentLength();
        }

        @Override
        public BufferedSource source() {
          return body.source();
        }

        @Override
        public void close() {
          closed.incrementAndGet();
          body.close();
        }
      }).build();
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
}
