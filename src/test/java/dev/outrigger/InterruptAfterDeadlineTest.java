package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An interrupt that ends an attempt whose deadline has already passed, before the deadline's own
 * cut, ends the call as the deadline, with the interrupt status kept: FanOut interrupts what still
 * runs 100 ms after its batch deadline, and on a loaded machine that can come before the
 * watchdog's cut (FanOutClientTest failed so). An interrupt before the deadline is the caller's
 * cancellation, as before. The client's clock passes the deadline here while the watchdog, on the
 * system clock, still has 10 s to go.
 */
class InterruptAfterDeadlineTest {

  private static Throwable callInterrupted(boolean pastTheDeadline) throws Exception {
    FakeClock time = new FakeClock();
    try (HoldingServer server = new HoldingServer();
        ApiClient client = ApiClient.builder().baseUrl(server.url()).clock(time)
            .deadline(Duration.ofSeconds(10)).build()) {
      CompletableFuture<Throwable> thrown = new CompletableFuture<>();
      Thread caller = Thread.ofVirtual().start(() -> {
        try {
          client.get("/held").execute(String.class);
          thrown.complete(null);
        } catch (Throwable t) {
          t.addSuppressed(new Exception("interrupted " + Thread.currentThread().isInterrupted()));
          thrown.complete(t);
        }
      });
      HoldingServer.await("the call held", () -> server.inFlight() == 1);
      if (pastTheDeadline) {
        // The client's clock passes the deadline; the watchdog, on the system clock, has 10 s.
        time.advanceMillis(10_001);
      }
      caller.interrupt();
      Throwable t = thrown.get(30, TimeUnit.SECONDS);
      server.release();
      return t;
    }
  }

  private static boolean interruptKept(Throwable t) {
    Throwable[] s = t.getSuppressed();
    return s[s.length - 1].getMessage().equals("interrupted true");
  }

  @Test
  void anInterruptOnceTheDeadlineHasPassedEndsTheCallAsTheDeadlineAndKeepsTheStatus()
      throws Exception {
    Throwable t = callInterrupted(true);
    DeadlineExceededException e = assertInstanceOf(DeadlineExceededException.class, t);
    TransportException cause = assertInstanceOf(TransportException.class, e.getCause());
    assertEquals(TransportException.Kind.CANCELLED, cause.kind());
    assertTrue(e.getMessage().contains("deadline exceeded"), e.getMessage());
    assertTrue(interruptKept(t), "the interrupt status was not kept");
  }

  @Test
  void anInterruptBeforeTheDeadlineIsTheCallersCancellation() throws Exception {
    Throwable t = callInterrupted(false);
    TransportException e = assertInstanceOf(TransportException.class, t);
    assertEquals(TransportException.Kind.CANCELLED, e.kind());
    assertTrue(interruptKept(t), "the interrupt status was not kept");
  }
}
