package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import dev.outrigger.RateLimiter;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * Lowering a key to a very slow rate while permits are owed to a waiter: README (Changing limits
 * while running) says the bucket keeps what it owes to waiters and that nobody new is served
 * before a waiter that booked under the old rate.
 */
class SlowOverrideDebtTest {
  private static final long MS = 1_000_000L;

  private final AtomicLong nanos = new AtomicLong(5_000_000_000L);

  @Test
  void aKeyLoweredToAVerySlowRateWhileAWaiterIsOwedPermitsServesNobodyNewBeforeIt()
      throws Exception {
    RateLimiter limiter = RateLimiter.of(RateLimit.perSecond(10).burst(10), nanos::get);
    assertTrue(limiter.tryAcquire("tenant", 10));
    // A waiter books the next 10 permits, due in 1 s.
    CompletableFuture<Duration> waiter = CompletableFuture.supplyAsync(
        () -> limiter.acquire("tenant", 10, Duration.ofSeconds(5)),
        r -> Thread.ofVirtual().start(r));
    awaitTrue(() -> limiter.availablePermits("tenant") == -10);

    // The operator all but blocks the tenant: one permit every 10,000 days.
    limiter.reconfigure("tenant", RateLimit.per(1, Duration.ofDays(10_000)).burst(1));
    boolean newcomerServed = limiter.tryAcquire("tenant", 1);

    // Let the waiter go at its time before asserting, so that no thread is left waiting.
    nanos.addAndGet(1000 * MS);
    assertEquals(Duration.ofSeconds(1), waiter.get(10, TimeUnit.SECONDS));
    assertFalse(newcomerServed,
        "a newcomer was served before the waiter that booked under the old rate");
    assertFalse(limiter.tryAcquire("tenant", 1), "the debt at the new rate is still owed");
  }

  private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - end > 0) {
        throw new AssertionError("condition not met within 10 s");
      }
      Thread.sleep(1);
    }
  }
}
