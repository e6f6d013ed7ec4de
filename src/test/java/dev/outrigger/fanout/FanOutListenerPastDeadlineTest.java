package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Deadline;
import dev.outrigger.FanOut;
import dev.outrigger.Result;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every task completed before the batch deadline, but the progress listener is still being told
 * of the last one when the deadline and its grace have passed. A waiter (join(), or the end of
 * the completion stream, which waits for the listener calls too) found tasks not yet ended and
 * cancelled the batch for the deadline, though no task's code was left to cut: with fail-fast,
 * join() then threw a DeadlineExceededException for a batch whose every task had succeeded.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutListenerPastDeadlineTest {

  @Test
  void aListenerCallOutlastingTheDeadlineCutsNothing() throws Exception {
    for (boolean viaStream : new boolean[] {false, true}) {
      String how = viaStream ? "the completion stream's end" : "join()";
      FakeClock clock = new FakeClock();
      CountDownLatch inListener = new CountDownLatch(1);
      CountDownLatch releaseListener = new CountDownLatch(1);
      FanOut<Integer> fan = Deadline.within(
          Deadline.after(Duration.ofMillis(200), clock::nanoTime),
          () -> FanOut.<Integer>builder().failFast(true).progress((completed, failed, total) -> {
            inListener.countDown();
            try {
              releaseListener.await();
            } catch (InterruptedException e) {
              throw new AssertionError("the listener's thread was interrupted", e);
            }
          }).build());
      try (fan) {
        fan.submit(() -> 7);
        assertTrue(inListener.await(10, TimeUnit.SECONDS));
        clock.advance(Duration.ofSeconds(1).toNanos()); // past the deadline and the grace

        AtomicReference<Object> got = new AtomicReference<>();
        Thread waiter = Thread.ofVirtual().start(() -> {
          try {
            got.set(viaStream ? fan.completions().toList() : fan.join());
          } catch (Throwable e) {
            got.set(e);
          }
        });
        try {
          WaitGroupTest.awaitParked(waiter); // waiting for the listener's call to return
        } finally {
          releaseListener.countDown();
        }
        waiter.join();
        assertTrue(got.get() instanceof List<?>, how + " gave " + got.get());

        assertFalse(fan.toString().contains("cancelled"), how + " cancelled the batch: " + fan);
        List<Result<Integer>> results = fan.join();
        assertEquals(7, results.get(0).value(), how);
      }
    }
  }
}
