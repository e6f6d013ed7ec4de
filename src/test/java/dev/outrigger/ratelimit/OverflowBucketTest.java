package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import dev.outrigger.RateLimiter;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The overflow bucket keys share while the key table is full: stricter, never looser. */
class OverflowBucketTest {
  private static final long MS = 1_000_000L;
  private final AtomicLong nanos = new AtomicLong(5_000_000_000L);

  private int drain(RateLimiter l, String key) {
    int n = 0;
    while (l.tryAcquire(key, 1)) {
      n++;
    }
    return n;
  }

  /**
   * README: "While the table is full, new keys share one overflow bucket. That is stricter than a
   * bucket of their own, never looser." A key that drained the overflow bucket must not get a
   * fresh, full bucket of its own when a sweep makes room: on 10 a minute (burst 10), at most
   * 10 + 1/6 in 1.001 s.
   */
  @Test
  void aKeyLeavingTheOverflowBucketStartsWhereItStands() {
    RateLimit limit = RateLimit.per(10, Duration.ofMinutes(1)).maxKeys(1);
    RateLimiter l = RateLimiter.of(limit, nanos::get);
    l.reconfigure("a", RateLimit.perSecond(100));  // "a" refills within 10 ms
    assertTrue(l.tryAcquire("a", 1));        // "a" takes the only slot
    int first = drain(l, "b");               // "b" lands in the overflow bucket: 10
    nanos.addAndGet(1_001 * MS);             // the next sweep is due: "a" is full, dropped
    int second = drain(l, "b");              // "b" now gets a bucket of its own, full
    // Over 1.001 s a key may get at most burst + rate * T = 10 + 0.17
    assertTrue(first + second <= 10,
        "key b was granted " + first + " + " + second + " permits in 1 s on 10/min");
  }

  /** The same step keeps a server pause that the key took in the overflow bucket. */
  @Test
  void aServerPauseTakenInTheOverflowBucketGoesWithTheKeyToItsOwn() {
    RateLimiter l = RateLimiter.of(RateLimit.perSecond(10).maxKeys(1), nanos::get);
    l.reconfigure("a", RateLimit.perSecond(100));
    assertTrue(l.tryAcquire("a", 1));            // "a" takes the only slot
    l.pause("b", Duration.ofSeconds(30));        // the server told "b": come back in 30 s
    assertFalse(l.tryAcquire("b", 1));
    nanos.addAndGet(1_001 * MS);                 // sweep due; "a" full and dropped
    assertFalse(l.tryAcquire("b", 1), "b was granted 1 s into a 30 s server pause");
  }

  /**
   * An override that makes a key stricter holds even when the table is full: the overflow
   * bucket has the default limit.
   */
  @Test
  void aKeyWithAnOverrideNeverSharesTheOverflowBucket() {
    RateLimit limit = RateLimit.perSecond(10).burst(10).maxKeys(1);
    RateLimiter l = RateLimiter.of(limit, nanos::get);
    assertTrue(l.tryAcquire("a", 1));                          // fills the table
    l.reconfigure("abuser", RateLimit.perSecond(1).burst(1)); // operator throttles one tenant
    int got = drain(l, "abuser");
    assertTrue(got <= 1, "a key overridden to burst 1 was granted " + got + " at once");
  }

  /**
   * availablePermits(key) tells what the key's next use would find: a key in the overflow bucket
   * (or one that would land there) has what the shared bucket has, not a full bucket of its own.
   */
  @Test
  void availablePermitsOfAKeyInTheOverflowBucketAreTheSharedBucketsOnes() {
    RateLimiter l = RateLimiter.of(RateLimit.perSecond(1).burst(2).maxKeys(1), nanos::get);
    assertTrue(l.tryAcquire("a", 1));             // "a" takes the only slot
    assertTrue(l.tryAcquire("b", 2));             // "b" empties the shared bucket
    assertEquals(0, l.availablePermits("b"), "b's permits after it emptied the shared bucket");
    assertFalse(l.tryAcquire("c", 1));
    assertEquals(0, l.availablePermits("c"), "c's permits, which would come from the shared one");
    nanos.addAndGet(1_001 * MS);                  // sweep due: "a" is full again, dropped
    assertEquals(1, l.availablePermits("b"), "b starts where the shared bucket stands");
    assertEquals(1, l.availablePermits("c"), "c asked the shared bucket: starts where it stands");
    assertEquals(2, l.availablePermits("d"), "d never used it: a bucket of its own, full");
    assertTrue(l.tryAcquire("b", 1));
    assertFalse(l.tryAcquire("b", 1));
  }
}
