package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * How far the key table may pass {@code maxKeys}, as README and {@link RateLimit#maxKeys}
 * say: by the first uses of new keys under way together, less one. Each looks at the table's
 * size before it builds; all that look while one place is left take a place.
 */
class KeyBoundPassedTest {
  private static final long NOW = 1_000_000_000L;

  @Test
  void newKeysArrivingTogetherAsTheTableFillsPassTheBoundByTheirNumberLessOne() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).maxKeys(2), NOW);
    assertTrue(l.tryAcquire("first", 1, NOW));
    int together = 3;
    CountDownLatch built = new CountDownLatch(together);
    CountDownLatch go = new CountDownLatch(1);
    l.beforeInsert = () -> {
      // Each has looked at the size (1 of 2) and built its bucket; held before publishing.
      built.countDown();
      try {
        go.await();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    };
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < together; i++) {
      String key = "new-" + i;
      threads.add(Thread.ofPlatform().start(() -> l.tryAcquire(key, 1, NOW)));
    }
    assertTrue(built.await(10, TimeUnit.SECONDS));
    go.countDown();
    for (Thread t : threads) {
      t.join(10_000);
    }
    l.beforeInsert = null;
    assertEquals(2 - 1 + together, l.keyCount(), "maxKeys - 1 + the new keys arriving together");

    // Once they are in, a new key shares the overflow bucket: the table grows no more.
    assertTrue(l.tryAcquire("later", 1, NOW));
    assertEquals(4, l.keyCount());
  }
}
