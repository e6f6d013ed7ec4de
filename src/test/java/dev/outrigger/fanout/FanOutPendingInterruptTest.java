package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.FanOut;
import dev.outrigger.Result;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An interrupt pending on the thread that asks for results it need not wait for: join() and the
 * completion stream hand over what is there, as Future.get() on a done future does, and leave the
 * interrupt set; they throw only when they would wait.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutPendingInterruptTest {

  @AfterEach
  void clearInterrupt() {
    Thread.interrupted();
  }

  @Test
  void joinOfABatchWhoseTasksHaveEndedReturnsTheResultsWithAnInterruptPending() throws Exception {
    try (FanOut<Integer> fan = FanOut.<Integer>builder().build()) {
      fan.submit(() -> 1);
      fan.submit(() -> 2);
      fan.join(); // every task has ended

      Thread.currentThread().interrupt();
      List<Result<Integer>> results = fan.join();
      assertEquals(List.of(1, 2), results.stream().map(Result::value).toList());
      assertTrue(Thread.currentThread().isInterrupted(), "the pending interrupt was consumed");
    }
  }

  @Test
  void completionsAlreadyThereAreDeliveredWithAnInterruptPending() throws Exception {
    try (FanOut<Integer> fan = FanOut.<Integer>builder().build()) {
      fan.submit(() -> 1);
      fan.submit(() -> 2);
      fan.join(); // both completions are in

      Thread.currentThread().interrupt();
      List<FanOut.Completion<Integer>> all = fan.completions().toList();
      assertEquals(2, all.size());
      assertTrue(Thread.currentThread().isInterrupted(), "the pending interrupt was consumed");
    }
  }

  @Test
  void joinThatWouldWaitStillThrowsOnAPendingInterrupt() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (FanOut<Integer> fan = FanOut.<Integer>builder().build()) {
      fan.submit(() -> {
        release.await();
        return 1;
      });
      Thread.currentThread().interrupt();
      assertThrows(InterruptedException.class, fan::join);
      Thread.currentThread().interrupt();
      assertThrows(CancellationException.class, () -> fan.completions().toList());
      assertTrue(Thread.interrupted(), "the stream restores the interrupt status");
      release.countDown();
      assertEquals(1, fan.join().get(0).value());
    }
  }
}
