package dev.outrigger.internal.ratelimit;

import static dev.outrigger.internal.ratelimit.OverflowWaiters.kGetsItsOwnBucket;
import static dev.outrigger.internal.ratelimit.OverflowWaiters.tableFullOverflowEmpty;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import dev.outrigger.internal.NanoClock;
import java.util.ArrayDeque;
import java.util.Deque;
import org.junit.jupiter.api.Test;

/**
 * A waiter whose thread wakes late, after a sweep has dropped the bucket that held its
 * reservation (full: the permit's time had passed). README (Listening to the server): none of
 * the calls already waiting goes before a pause of its key ends, and one whose permit came due
 * just before the pause books again when it ends, so that it does not go at once with the permit
 * the pause leaves ready. The key's next pause, or the permit its pause left, is in a bucket
 * that knows nothing of the dropped reservation: the waiter books again there, in line. Single
 * thread, hand-moved clock: each sleep moves the clock to the sleeper's wake time, then runs
 * the next hook (other threads, at that instant or later, before the sleeper's runs).
 */
class SweptWaiterTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final WakeClock clock = new WakeClock();

  @Test
  void aLateWaiterWhoseBucketWasSweptDoesNotGoInsideItsKeysNextPause() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), clock.now);
    long t0 = clock.now;
    assertTrue(l.tryAcquire("k", 1, t0));
    long until = t0 + 3 * S;
    clock.hooks.add(() -> {
      // The waiter's permit was due at t0 + 100 ms; its thread runs only at t0 + 1 s. Then a
      // new key's first call sweeps: "k"'s bucket is full (its debt is past) and is dropped.
      // A 429 with Retry-After: 2 pauses "k" in the bucket built for it anew.
      clock.now = t0 + S;
      assertTrue(l.tryAcquire("b", 1, clock.now));
      assertEquals(1, l.keyCount(), "the sweep did not drop \"k\"'s full bucket");
      assertEquals(2 * S, l.pause("k", clock.now, 2 * S));
    });
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    assertTrue(t0 + w - until >= 0, "the waiter went at t0 + " + w / 1e6
        + " ms, inside the pause of its key (t0 + 1 s to t0 + 3 s)");
    assertFalse(l.tryAcquire("k", 1, until), "the waiter went at the pause's end with the "
        + "permit it left ready, and another call of \"k\" got one too (burst 1)");
  }

  @Test
  void aSharedBucketWaiterHeldByItsKeysPauseBooksAgainWhenItsKeysBucketIsSweptAtTheEnd()
      throws Exception {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(1, t0);
    long[] other = {0};
    clock.hooks.add(() -> {
      // The waiter of "k" is due at t0 + 1 s; its thread runs only at t0 + 1.5 s. Meanwhile
      // another call of "k" finds room ("a" is swept) and builds "k" its own bucket, where the
      // shared one stands (behind the waiter), and a 429 with Retry-After: 2 pauses "k" until
      // t0 + 3.5 s: the waiter, due before the pause, is held until its end.
      clock.now = t0 + 1_500 * MS;
      kGetsItsOwnBucket(l, clock.now);
      assertEquals(2 * S, l.pause("k", clock.now, 2 * S));
    });
    clock.hooks.add(() -> {
      // At the pause's end "k"'s bucket is full (one permit stored, burst 1) and a new key's
      // first call sweeps it, taking the place; a call of "k" then takes the permit of the
      // shared bucket, before the waiter's thread runs.
      assertEquals(t0 + 3_500 * MS, clock.now);
      assertTrue(l.tryAcquire("b", 1, clock.now));
      assertEquals(1, l.keyCount(), "the sweep did not drop \"k\"'s full bucket");
      assertTrue(l.tryAcquire("k", 1, clock.now));
      other[0] = clock.now;
    });
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    assertTrue(t0 + w - (other[0] + S) >= 0, "the waiter went at t0 + " + w / 1e6 + " ms, "
        + "with the call of \"k\" at t0 + 3.5 s: two at once, with a burst of 1");
  }

  /** A hand-moved clock whose sleeps move to the wake time, then run the next hook, if any. */
  private static final class WakeClock implements NanoClock {
    final Deque<Runnable> hooks = new ArrayDeque<>();
    long now = 7 * S;

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public void sleepNanos(long nanos) {
      now += Math.max(0, nanos);
      Runnable r = hooks.poll();
      if (r != null) {
        r.run();
      }
    }
  }
}
