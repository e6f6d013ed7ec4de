package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A listener that throws on every call does not flood the log: of one listener's throws, the
 * first is logged with its stack trace, then at most one a minute, saying how many went
 * unlogged in between. The calls and the other listeners go on as before.
 */
class ListenerFloodTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  /** Throws on the four per-call events. */
  private static final class Broken implements CallListener {
    @Override
    public void callStart(CallContext call) {
      throw new IllegalStateException("a listener's bug at the start");
    }

    @Override
    public void attemptStart(CallContext call) {
      throw new IllegalStateException("a listener's bug at the attempt");
    }

    @Override
    public void attemptEnd(CallContext call, int status, Throwable error, Duration elapsed) {
      throw new IllegalStateException("a listener's bug at the attempt's end");
    }

    @Override
    public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
      throw new IllegalStateException("a listener's bug at the end");
    }

    @Override
    public void breakerTransition(String key, CircuitBreaker.State from,
        CircuitBreaker.State to) {
      throw new IllegalStateException("a listener's bug at " + from + " -> " + to);
    }

    @Override
    public String toString() {
      return "Broken";
    }
  }

  @Test
  void aListenerThatThrowsOnEveryCallLogsOneWarningNotFourStackTracesACall() throws Exception {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(200).body("ok").build();
      }
    });
    AtomicInteger ended = new AtomicInteger();
    CallListener counting = new CallListener() {
      @Override
      public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
        ended.incrementAndGet();
      }
    };
    try (LogCapture logs = new LogCapture();
        ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
            .addListener(new Broken()).addListener(counting).build()) {
      for (int i = 0; i < 200; i++) {
        assertEquals("ok", client.get("/x").execute(String.class));
      }

      assertEquals(200, ended.get(), "the other listener heard every call's end");
      // 800 throws, well within a minute: the first one logged, with its trace.
      assertEquals(1, logs.count("WARN", "threw; ignored"), logs.all());
      assertTrue(logs.lines().get(0).contains("a listener's bug at the start"), logs.all());
      ClientTestSupport.assertNoLeaks(client);
    }
  }

  @Test
  void theClientTimesTheQuietMinuteOnItsOwnClock() throws Exception {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(200).body("ok").build();
      }
    });
    FakeClock clock = new FakeClock();
    try (LogCapture logs = new LogCapture("dev.outrigger.CallListener");
        ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
            .addListener(new Broken()).clock(clock).build()) {
      assertEquals("ok", client.get("/x").execute(String.class));
      assertEquals(1, logs.count("WARN", "threw; ignored"), logs.all());

      clock.advance(TimeUnit.MINUTES.toNanos(1));
      assertEquals("ok", client.get("/x").execute(String.class));
      assertEquals(2, logs.count("WARN", "threw; ignored"), logs.all());
      assertTrue(logs.lines().get(1).contains("and 3 more times since the last one logged"),
          logs.all());
      ClientTestSupport.assertNoLeaks(client);
    }
  }

  @Test
  void laterThrowsAreLoggedAtMostOnceAMinuteWithHowManyWentUnlogged() {
    FakeClock clock = new FakeClock();
    CallListener listeners = Listeners.of(List.of(new Broken()), clock);
    try (LogCapture logs = new LogCapture("dev.outrigger.CallListener")) {
      for (int i = 0; i < 1000; i++) {
        listeners.breakerTransition("api:443", CircuitBreaker.State.CLOSED,
            CircuitBreaker.State.OPEN);
      }
      clock.advance(TimeUnit.SECONDS.toNanos(59));
      listeners.breakerTransition("api:443", CircuitBreaker.State.OPEN,
          CircuitBreaker.State.HALF_OPEN);
      assertEquals(1, logs.count("WARN", "threw; ignored"), logs.all());

      clock.advance(TimeUnit.SECONDS.toNanos(1));
      listeners.breakerTransition("api:443", CircuitBreaker.State.HALF_OPEN,
          CircuitBreaker.State.CLOSED);
      assertEquals(2, logs.count("WARN", "threw; ignored"), logs.all());
      String second = logs.lines().get(1);
      assertTrue(second.contains("and 1000 more times since the last one logged"), second);
      assertTrue(second.contains("HALF_OPEN -> CLOSED"), "the one logged is the latest: " + second);

      // A throw long after: logged at once, with nothing unlogged before it.
      clock.advance(TimeUnit.HOURS.toNanos(2));
      listeners.breakerTransition("api:443", CircuitBreaker.State.CLOSED,
          CircuitBreaker.State.OPEN);
      assertEquals(3, logs.count("WARN", "threw; ignored"), logs.all());
      assertTrue(logs.lines().get(2).startsWith("WARN listener Broken threw; ignored "),
          logs.all());
      assertTrue(!logs.lines().get(2).contains("more time"), logs.all());
    }
  }
}
