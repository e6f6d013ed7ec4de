package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.lang.reflect.Field;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A key that shares the overflow bucket records each use of it (see RealRateLimiter's
 * maybeSweep). Once recorded since the last sweep, a use writes nothing: the record's map locks
 * a bin for each write, and every call of every key in the overflow bucket would take that
 * lock, a monitor (a virtual thread blocked on one pins its carrier on JDK 21).
 */
class OverflowRecordLockTest {
  private final ManualClock clock = new ManualClock();
  private final long t0 = clock.nanoTime();

  @SuppressWarnings("unchecked")
  private static ConcurrentHashMap<String, Long> record(RealRateLimiter l) throws Exception {
    Field f = RealRateLimiter.class.getDeclaredField("inOverflow");
    f.setAccessible(true);
    return (ConcurrentHashMap<String, Long>) f.get(l);
  }

  @Test
  void aRecordedKeyUsesTheOverflowBucketWithoutTheRecordsLock() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(20).maxKeys(1), t0);
    assertTrue(l.tryAcquire("own", 1, t0));   // the one key with a bucket of its own
    assertTrue(l.tryAcquire("shared", 1, t0)); // uses the overflow bucket, and is recorded
    ConcurrentHashMap<String, Long> record = record(l);
    assertTrue(record.containsKey("shared"));

    // Another thread holds the lock of the record's bin for "shared" (as a write would).
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = Thread.ofPlatform().start(() -> record.computeIfPresent("shared", (k, v) -> {
      holding.countDown();
      while (true) {
        try {
          release.await();
          return v;
        } catch (InterruptedException e) {
          // held until released
        }
      }
    }));
    try {
      assertTrue(holding.await(10, TimeUnit.SECONDS));
      CompletableFuture<long[]> uses = new CompletableFuture<>();
      Thread.ofVirtual().start(() -> {
        try {
          long took = l.tryAcquire("shared", 1, t0) ? 1 : 0;
          long waited = l.acquire("shared", 1, 0, clock, t0);
          uses.complete(new long[] {took, waited});
        } catch (Throwable e) {
          uses.completeExceptionally(e);
        }
      });
      long[] r = uses.get(10, TimeUnit.SECONDS); // times out while the uses wait for the lock
      assertEquals(1, r[0]);
      assertEquals(0, r[1]);
    } finally {
      release.countDown();
      holder.join(TimeUnit.SECONDS.toMillis(10));
    }
  }
}
