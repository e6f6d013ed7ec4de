package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.internal.NanoClock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A call waiting for the credentials refresh that finds the fetch failed, because the client's
 * close() interrupted it, ends {@code CANCELLED}, as a closed client's waits do, not with what the
 * interrupted fetch threw (the close's doing, which says nothing of the credentials).
 *
 * <p>close() interrupts the waiting call before it interrupts the fetch, so the call usually sees
 * its own interrupt first; it sees the fetch's failure when the fetch has ended by the time the
 * call looks. That order is staged here through the client's clock: the call's reading of its
 * deadline, taken after it registered its wait and before it waits, is held until close() has
 * returned and the fetch's thread has ended.
 */
class AuthRefreshFailedByCloseTest {
  private static final Duration LONG = Duration.ofSeconds(30);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aCallFindingTheFetchFailedByCloseEndsCancelled() throws Exception {
    server.enqueue(new MockResponse.Builder().code(401).build());
    CountDownLatch fetching = new CountDownLatch(1);
    AtomicReference<Thread> fetchThread = new AtomicReference<>();
    Auth auth = refresh -> {
      if (!refresh) {
        return "Bearer stale";
      }
      fetchThread.set(Thread.currentThread());
      fetching.countDown();
      try {
        new CountDownLatch(1).await(); // a token endpoint that never answers
        return "Bearer fresh";
      } catch (InterruptedException e) {
        throw new IllegalStateException("the token endpoint call was interrupted", e);
      }
    };
    HeldReading clock = new HeldReading();
    ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString()).deadline(LONG).retry(Retry.none()).auth(auth)
        .build();
    AtomicReference<Object> outcome = new AtomicReference<>();
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    Thread caller = Thread.ofPlatform().start(() -> {
      try {
        outcome.set(client.get("/me").execute(String.class));
      } catch (RuntimeException e) {
        outcome.set(e);
      }
      interruptedAfter.set(Thread.currentThread().isInterrupted());
    });
    try {
      assertTrue(fetching.await(LONG.toMillis(), TimeUnit.MILLISECONDS), "the fetch started");
      assertTrue(clock.held.await(LONG.toMillis(), TimeUnit.MILLISECONDS),
          "the call is about to wait for the fetch");

      client.close();
      Thread fetch = fetchThread.get();
      fetch.join(LONG);
      assertFalse(fetch.isAlive(), "close() interrupted the fetch, which failed and ended");
    } finally {
      clock.go.countDown();
      caller.join(LONG);
    }

    TransportException cancelled = assertInstanceOf(TransportException.class, outcome.get());
    assertEquals(TransportException.Kind.CANCELLED, cancelled.kind());
    assertTrue(cancelled.getMessage().contains(
        "the ApiClient was closed while the call waited for the credentials refresh"),
        cancelled.getMessage());
    assertFalse(interruptedAfter.get(), "close()'s interrupt is not left on the caller's thread");
  }

  /**
   * The system clock, but for the refresh's reading of the call's deadline: the first one is
   * held until {@link #go}, through any interrupt (restored once it returns).
   */
  private static final class HeldReading implements NanoClock {
    final CountDownLatch held = new CountDownLatch(1);
    final CountDownLatch go = new CountDownLatch(1);

    @Override
    public long nanoTime() {
      if (held.getCount() > 0 && inRefresh()) {
        held.countDown();
        boolean interrupted = false;
        while (true) {
          try {
            if (go.await(LONG.toMillis(), TimeUnit.MILLISECONDS)) {
              break;
            }
            throw new AssertionError("never let go");
          } catch (InterruptedException e) {
            interrupted = true;
          }
        }
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
      return System.nanoTime();
    }

    @Override
    public void sleepNanos(long nanos) throws InterruptedException {
      NanoClock.SYSTEM.sleepNanos(nanos);
    }

    /** Whether nanoTime()'s caller is the refresh's wait (past this method and nanoTime). */
    private static boolean inRefresh() {
      return StackWalker.getInstance().walk(frames -> frames.skip(2).findFirst()
          .map(f -> f.getClassName().endsWith("AuthInterceptors$Refresher")
              && f.getMethodName().equals("fresh"))
          .orElse(false));
    }
  }
}
