package dev.outrigger.internal.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Result;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * FanOut.close() first marks the batch closed (later submits throw IllegalStateException) and
 * only then publishes its cancellation. With fail-fast, a task that submits a child in between
 * (a crawler's task, say) fails with "this FanOut is closed": a failure the close() caused, never
 * the batch's first failure, so join() after close() returns the results (README: "The batch's
 * own cancellations are nobody's failure ... after close() it returns the results"). Taken for
 * the first, it made join() throw that IllegalStateException and cancelled the rest as "an
 * earlier task failed".
 *
 * <p>The test runs FanOut.close()'s two steps from the owner's thread (as the other tests in this
 * package do), with the crawler's submit falling between them, as a preemption would put it.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SubmitRejectedAsCloseBeginsTest {

  @Test
  void aChildRejectedBecauseCloseHasBegunIsNotTheFirstFailure() throws Exception {
    CountDownLatch bothStarted = new CountDownLatch(2);
    CountDownLatch releaseCrawler = new CountDownLatch(1);
    CountDownLatch crawlerEnded = new CountDownLatch(1);
    Batch<Integer> batch = new Batch<>(Integer.MAX_VALUE, true, null,
        (completed, failed, total) -> crawlerEnded.countDown());
    batch.submit(() -> {
      bothStarted.countDown();
      new CountDownLatch(1).await(); // only close()'s interrupt ends it
      return 0;
    });
    batch.submit(() -> {
      bothStarted.countDown();
      releaseCrawler.await();
      batch.submit(() -> 2); // a child, submitted as close() begins
      return 1;
    });
    assertTrue(bothStarted.await(10, TimeUnit.SECONDS));

    // What FanOut.close() does from the owner's thread, with the child's submit in between.
    batch.close();
    releaseCrawler.countDown();
    assertTrue(crawlerEnded.await(10, TimeUnit.SECONDS));
    batch.cancel(Batch.Cancel.CLOSED);
    batch.awaitAllUninterruptibly();

    List<Result<Integer>> rs = batch.results();
    assertEquals(2, rs.size());
    assertInstanceOf(IllegalStateException.class, rs.get(1).error());
    assertNull(batch.firstFailure(),
        "the child refused by close() must not be the first failure (join() after close()"
            + " would throw it instead of returning the results): " + batch.firstFailure());
  }
}
