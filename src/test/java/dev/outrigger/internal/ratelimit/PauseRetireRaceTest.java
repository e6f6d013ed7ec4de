package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.lang.reflect.Field;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A server pause of a key racing the retirement of its bucket (two 429s of one key at once: the
 * first pauses it; the second finds the pause already there and cuts the key's adaptive rate,
 * which replaces the bucket). The pause moves the waiters already booked, and the bucket that
 * replaces the old one must carry them where the pause put them. A hook of the pause runs the
 * retirement on another thread at the point named, and the pause goes on once the retirement
 * has finished or waits for the pause (latches; the clock moved by hand). A pause that throws
 * partway must not leave retirements waiting for it.
 */
class PauseRetireRaceTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();
  private final long t0 = clock.now;
  /** The thread of {@link #adaptOnAnotherThread}, joined once the pause is over. */
  private Thread adapting;
  private final AtomicReference<Throwable> failed = new AtomicReference<>();

  // The pause's end shows before it has shifted the bucket's state: a retirement then read the
  // state without it and carried it over as it stands at the pause's end, where the waiter's
  // permit (due at t0 + 100 ms) was already spent. The pause, shifting the new bucket, found no
  // booking to move, left the permit it keeps for its end there, and moved the waiter to
  // t0 + 600 ms: two calls 100 ms apart at 0.5/s with a burst of 1.
  @Test
  void aRateCutRacingAPauseKeepsTheWaiterThePauseMoved() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), t0);
    assertTrue(l.tryAcquire("k", 1, t0));
    clock.onSleep = () -> {
      // The waiter of "k" booked the permit due at t0 + 100 ms; at t0 a 429 with
      // Retry-After: 0.5 pauses "k" while another cuts its rate to 0.5/s.
      l.afterPauseBegun = () -> {
        l.afterPauseBegun = null;
        adaptOnAnotherThread(l, 0.5);
      };
      assertEquals(500 * MS, l.pause("k", t0, 500 * MS));
      finishAdapting();
    };
    long w = l.acquire("k", 1, 10 * S, clock);
    assertEquals(600 * MS, w, "the waiter goes where the pause moved it");
    assertEquals(0.5, l.limit("k").permitsPerSecond());
    assertFalse(l.tryAcquire("k", 1, t0 + 500 * MS), "a call of \"k\" went at the pause's end "
        + "and its waiter 100 ms later, at 0.5/s with a burst of 1");
  }

  // The pause has shifted the state but not yet added its shift: a retirement then recorded
  // the shift without it, so the waiter's booking, carried over where the pause had moved it,
  // was looked for where it had been. Refused on a deadline, the waiter could not give its
  // permit back: the key's next call came a whole interval (2 s at 0.5/s) late.
  @Test
  void aWaiterRefusedAfterARateCutRacingAPauseGivesItsPermitBack() throws Exception {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), t0);
    assertTrue(l.tryAcquire("k", 1, t0));
    clock.onSleep = () -> {
      l.afterPauseShift = () -> {
        l.afterPauseShift = null;
        adaptOnAnotherThread(l, 0.5);
      };
      assertEquals(500 * MS, l.pause("k", t0, 500 * MS));
      finishAdapting();
    };
    // Its limit, t0 + 550 ms, no longer fits once the pause moved it to t0 + 600 ms.
    long w = l.acquire("k", 1, 550 * MS, clock);
    assertFalse(RealRateLimiter.acquired(w), "waited " + w);
    // As if it had never booked: the pause's end (t0 + 500 ms), read at 0.5/s from a bucket
    // that had one permit of 10/s left to refill then, gives the next permit at t0 + 2.5 s.
    assertFalse(l.tryAcquire("k", 1, t0 + 2_499 * MS));
    assertTrue(l.tryAcquire("k", 1, t0 + 2_500 * MS), "the refused waiter's permit was kept");
  }

  // An Error between moving the pause's end and adding its shift (a StackOverflowError, an
  // OutOfMemoryError allocating the shifted state) left the pause counted as under way for
  // ever: every later retirement of the key's bucket (a rate cut on each 429 of the key, a
  // reconfiguration) spun, waiting for it, on the caller's thread.
  @Test
  void aPauseThatThrowsLeavesNoPauseUnderWay() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), t0);
    assertTrue(l.tryAcquire("k", 1, t0));
    l.afterPauseBegun = () -> {
      throw new StackOverflowError();
    };
    assertThrows(StackOverflowError.class, () -> l.pause("k", t0, 500 * MS));
    l.afterPauseBegun = null;
    bucketOf(l, "k").whilePauseUnderWay = () -> {
      throw new AssertionError("waits for a pause that threw");
    };
    l.adapt("k", 0.5, t0);
    assertEquals(0.5, l.limit("k").permitsPerSecond());
  }

  // Thrown once the state carries the pause: its shift is added all the same (a waiter the
  // pause moved is looked for where it moved it), and no retirement waits for it either.
  @Test
  void aPauseThatThrowsOnceTheStateCarriesItCountsItsShift() {
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(1), t0);
    assertTrue(l.tryAcquire("k", 1, t0));
    l.afterPauseShift = () -> {
      throw new StackOverflowError();
    };
    assertThrows(StackOverflowError.class, () -> l.pause("k", t0, 500 * MS));
    l.afterPauseShift = null;
    TokenBucket b = bucketOf(l, "k");
    b.whilePauseUnderWay = () -> {
      throw new AssertionError("waits for a pause that threw");
    };
    l.adapt("k", 0.5, t0);
    assertEquals(500 * MS, b.pause.shift(), "the shift of the pause the state carries");
  }

  /**
   * Cuts the rate of "k" to {@code rate} on another thread, from inside a pause of "k", and
   * returns once that retirement has finished or waits for the pause to.
   */
  private void adaptOnAnotherThread(RealRateLimiter l, double rate) {
    CountDownLatch finishedOrWaiting = new CountDownLatch(1);
    bucketOf(l, "k").whilePauseUnderWay = finishedOrWaiting::countDown;
    adapting = Thread.ofPlatform().start(() -> {
      try {
        l.adapt("k", rate, t0);
      } catch (Throwable e) {
        failed.set(e);
      } finally {
        finishedOrWaiting.countDown();
      }
    });
    try {
      assertTrue(finishedOrWaiting.await(10, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  private void finishAdapting() {
    try {
      adapting.join(10_000);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    assertFalse(adapting.isAlive());
    assertNull(failed.get());
  }

  @SuppressWarnings("unchecked")
  private static TokenBucket bucketOf(RealRateLimiter l, String key) {
    try {
      Field f = RealRateLimiter.class.getDeclaredField("buckets");
      f.setAccessible(true);
      return ((Map<String, TokenBucket>) f.get(l)).get(key);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }
}
