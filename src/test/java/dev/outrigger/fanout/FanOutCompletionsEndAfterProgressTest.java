package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.FanOut;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A caller that reads the completions() stream to its end and then reads what its progress
 * listener recorded must find every task's report there, as after join(). A task's thread hands
 * its completion to the stream before it calls the listener, so the stream's end waits for every
 * task to have ended; ending once the last completion was delivered, it ended while the listener
 * was still being told of the last task, and that report was missed.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutCompletionsEndAfterProgressTest {

  @Test
  void theStreamEndsOnlyAfterTheListenerIsToldOfTheLastTask() throws Exception {
    List<Integer> reports = new CopyOnWriteArrayList<>();
    CountDownLatch inListener = new CountDownLatch(1);
    CountDownLatch releaseListener = new CountDownLatch(1);
    try (FanOut<Integer> fan = FanOut.<Integer>builder()
        .progress((completed, failed, total) -> {
          inListener.countDown();
          try {
            releaseListener.await();
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
          reports.add(completed);
        })
        .build()) {
      fan.submit(() -> 7);
      // The task has completed and its thread is telling the listener, which is held here.
      assertTrue(inListener.await(10, TimeUnit.SECONDS));

      AtomicInteger delivered = new AtomicInteger();
      AtomicInteger reportsSeenAtTheEnd = new AtomicInteger(-1);
      Thread consumer = Thread.ofVirtual().start(() -> {
        fan.completions().forEach(c -> delivered.incrementAndGet());
        reportsSeenAtTheEnd.set(reports.size());
      });
      // The stream either ends at once (what it did) or waits for the listener's call to return.
      while (consumer.isAlive() && consumer.getState() != Thread.State.WAITING) {
        Thread.yield();
      }
      releaseListener.countDown();
      consumer.join();

      assertEquals(1, delivered.get());
      assertEquals(1, reportsSeenAtTheEnd.get(),
          "the completions stream ended before the progress listener was told of the last task");
      assertEquals(List.of(7), fan.join().stream().map(r -> r.value()).toList());
    }
  }
}
