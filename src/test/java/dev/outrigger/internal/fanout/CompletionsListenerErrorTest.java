package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Deadline;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The completions stream cancels the batch when the batch deadline passes while it waits; a
 * progress listener that throws an Error for a task that cancellation completes passes it on to
 * the stream's consumer. The completion the consumer was waiting for must still come: the
 * stream's place for it is given back, as on an interrupt. Kept, it made the stream end one
 * completion early.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CompletionsListenerErrorTest {
  private static final class ListenerError extends Error {
    ListenerError() {
      super("the progress listener's own failure");
    }
  }

  @Test
  void aListenerErrorDuringTheDeadlinesCancelLosesNoCompletion() throws Exception {
    FakeClock clock = new FakeClock();
    AtomicBoolean thrown = new AtomicBoolean();
    Thread waiter = Thread.currentThread();
    // Thrown only on the waiter's thread, where its cancellation completes the queued task. The
    // interrupted task ends only after that: ended first, it would start the queued task itself.
    CountDownLatch queueDone = new CountDownLatch(1);
    Batch<Integer> batch = new Batch<>(1,
        false, Deadline.after(Duration.ofSeconds(1), clock::nanoTime),
        (completed, failed, total) -> {
          if (Thread.currentThread() == waiter && thrown.compareAndSet(false, true)) {
            queueDone.countDown();
            throw new ListenerError();
          }
        });
    CountDownLatch started = new CountDownLatch(1);
    batch.submit(() -> {
      started.countDown();
      try {
        new CountDownLatch(1).await(); // only the cancellation's interrupt ends it
      } catch (InterruptedException e) {
        queueDone.await(10, TimeUnit.SECONDS);
        throw e;
      }
      return 0;
    });
    batch.submit(() -> 1); // queued behind the first: the cancellation completes it unstarted
    assertTrue(started.await(10, TimeUnit.SECONDS));

    clock.advance(Duration.ofSeconds(2).toNanos()); // past the deadline and its grace
    assertThrows(ListenerError.class, batch::nextCompleted);

    Set<Integer> delivered = new HashSet<>();
    for (Batch.Task<Integer> t; (t = batch.nextCompleted()) != null; ) {
      assertNotNull(t.result().error(), "both failed: one interrupted, one never started");
      delivered.add(t.index());
    }
    assertEquals(Set.of(0, 1), delivered, "every task's completion delivered");
    batch.awaitAllUninterruptibly();
    assertNull(batch.nextCompleted());
  }
}
