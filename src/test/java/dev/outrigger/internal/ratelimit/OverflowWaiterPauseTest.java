package dev.outrigger.internal.ratelimit;

import static dev.outrigger.internal.ratelimit.OverflowWaiters.kGetsItsOwnBucket;
import static dev.outrigger.internal.ratelimit.OverflowWaiters.tableFullOverflowEmpty;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * A call of a key waiting in the shared overflow bucket when the key gets a bucket of its own,
 * which then carries the call's reservation. README (Listening to the server): a pause of the key
 * stops the whole client sending to it and pushes calls already waiting back; only a waiter whose
 * permit came due just before a pause books again when it ends, so that it does not go at once
 * with the permit the pause leaves ready. Single thread, hand-moved clock: the waiter's first
 * sleep runs the other calls.
 */
class OverflowWaiterPauseTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final HookClock clock = new HookClock();

  @Test
  void aWaiterOfAKeyInTheOverflowBucketIsHeldByAPauseOfTheKeysOwnBucket() throws Exception {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(5, t0);
    long[] pausedUntil = {0};
    clock.onSleep = () -> {
      // At t0 + 1 s a new call of "k" finds room ("a" refilled and is swept) and builds "k" a
      // bucket of its own, where the shared one stands: behind the waiter, so it is refused.
      clock.now = t0 + S;
      kGetsItsOwnBucket(l, clock.now);
      // Its answer is a 429 with Retry-After: 10: the key is paused until t0 + 11 s.
      assertEquals(10 * S, l.pause("k", clock.now, 10 * S));
      pausedUntil[0] = clock.now + 10 * S;
    };
    // A call of "k" books the next 5 permits of the shared bucket (due at t0 + 5 s).
    long waited = l.acquire("k", 5, 30 * S, clock);
    assertTrue(RealRateLimiter.acquired(waited), "the waiter was refused: " + waited);
    long wentAt = t0 + waited;
    assertFalse(l.tryAcquire("k", 1, wentAt), "the key is paused for everyone else");
    assertTrue(wentAt - pausedUntil[0] >= 0, "a call of \"k\" went at t0 + "
        + (wentAt - t0) / 1e9 + " s, inside the server's pause of the key (until t0 + 11 s)");
  }

  // The key's own bucket starts with a pause state whose end is its build time, which is no
  // pause: a waiter whose permit came due just before the key got its own bucket, and whose
  // thread woke a moment after, is not taken for late and booked again (charged twice, a whole
  // extra interval behind).
  @Test
  void aSharedBucketWaiterIsNotBookedAgainBecauseItsKeyGotABucketOfItsOwn() throws Exception {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(1, t0);
    clock.onSleep = () -> {
      // The waiter of "k" is due at t0 + 1 s; its thread wakes 1 ms late (as a parked thread
      // may). Meanwhile, at t0 + 1.0005 s, another call of "k" finds room ("a" is swept, full
      // again) and builds "k" its own bucket, where the shared one stands (the waiter owed).
      clock.now += MS;
      kGetsItsOwnBucket(l, t0 + S + MS / 2);
    };
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    // No pause: it goes when its thread wakes, t0 + 1.001 s, with the permit it booked.
    assertEquals(1_001 * MS, w, "the waiter went at t0 + " + w / 1e9 + " s: booked again "
        + "(charged twice) although no pause came, only its key's own bucket");
    // And the permit after it is there at its time (1/s): t0 + 2 s.
    assertTrue(l.tryAcquire("k", 1, t0 + 2 * S), "the next permit was taken by the waiter");
  }

  // Due at the very instant its key's own pause begins, the waiter wakes exactly at the pause's
  // end: it books again then, or it would go with the permit the pause leaves ready, two calls
  // at one instant with a burst of 1.
  @Test
  void aSharedBucketWaiterDueWhenItsKeysOwnPauseBeginsDoesNotGoWithTheStoredPermit()
      throws Exception {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(1, t0);
    long until = t0 + 3 * S;
    clock.onSleep = () -> {
      // The waiter of "k" is due at t0 + 1 s. At that instant, before its thread runs, another
      // call of "k" finds room ("a" is swept) and builds "k" its own bucket, and a 429 with
      // Retry-After: 2 pauses "k" until t0 + 3 s.
      kGetsItsOwnBucket(l, t0 + S);
      assertEquals(2 * S, l.pause("k", t0 + S, 2 * S));
    };
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    long went = t0 + w;
    assertTrue(went - until >= 0, "the waiter went inside the pause");
    int atTheEnd = (went == until ? 1 : 0) + (l.tryAcquire("k", 1, until) ? 1 : 0);
    assertEquals(1, atTheEnd, "calls granted at the pause's end with a burst of 1 (the waiter"
        + " at t0 + " + w / 1e6 + " ms, and a newcomer)");
  }

  // Due at the instant its key's own pause begins, the waiter's permit is left in the past of
  // the key's own bucket: it books again at the pause's end, even when a pause of the shared
  // bucket (another key's 429) has since moved its booking there past that end. Going then with
  // its old permit, it would go beside the ones the key's own bucket grants meanwhile.
  @Test
  void aSharedBucketWaiterCaughtByItsKeysPauseBooksAgainThoughTheSharedBucketWasPausedToo()
      throws Exception {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(1, t0);
    clock.onSleep = () -> {
      // The waiter of "k" is due at t0 + 1 s. At that instant, before its thread runs, another
      // call of "k" finds room ("a" is swept) and builds "k" its own bucket; a 429 with
      // Retry-After: 3 pauses "k" until t0 + 4 s, and one with Retry-After: 2 for "j", which
      // shares the overflow bucket, pauses that one until t0 + 3 s.
      kGetsItsOwnBucket(l, t0 + S);
      assertEquals(3 * S, l.pause("k", t0 + S, 3 * S));
      assertEquals(2 * S, l.pause("j", t0 + S, 2 * S));
    };
    long w = l.acquire("k", 1, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    long went = t0 + w;
    assertTrue(went - (t0 + 4 * S) >= 0, "the waiter went inside the pause of its key");
    assertFalse(l.tryAcquire("k", 1, went), "the waiter went at t0 + " + w / 1e9 + " s with a "
        + "permit its key's own bucket no longer held, and another call of \"k\" got one too "
        + "(burst 1)");
  }

  // Once its key has a bucket of its own, carrying its booking, the waiter goes at its time
  // there: a pause of the shared bucket since (another key's 429) is no pause of its key. Held
  // by it (as it was), it went after its key's own bucket had refilled, beside the permits that
  // one granted meanwhile.
  @Test
  void aSharedBucketWaiterGoesAtItsTimeInItsKeysOwnBucketNotAfterAnotherKeysPause()
      throws Exception {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(2, t0);
    clock.onSleep = () -> {
      // The waiter of "k" books the next 2 permits, due at t0 + 2 s. At t0 + 1 s another call
      // of "k" finds room ("a" is swept) and builds "k" its own bucket, behind the waiter; then
      // a 429 with Retry-After: 3 for "j", which shares the overflow bucket, pauses that one
      // until t0 + 4 s.
      kGetsItsOwnBucket(l, t0 + S);
      assertEquals(3 * S, l.pause("j", t0 + S, 3 * S));
    };
    long w = l.acquire("k", 2, 10 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    assertFalse(l.tryAcquire("k", 1, t0 + w), "the waiter went at t0 + " + w / 1e9 + " s, "
        + "when its key's own bucket had a permit for another call of \"k\" too (burst 2)");
    assertEquals(2 * S, w, "the waiter of \"k\" was held by the pause of \"j\"");
  }

  // A pause of the shared bucket shifts its state (the waiter's booking) before it adds to its
  // pause shift. A key's own bucket built from the shared one in between carries the booking
  // where the pause moved it: the waiter must be moved by that pause too, or it goes before its
  // place there. The hook runs the build at that point of the pause (one thread, no timing).
  @Test
  void aSharedBucketWaiterIsMovedByAPauseCaughtHalfwayByItsKeysNewBucket() throws Exception {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(5, t0);
    l.afterPauseShift = () -> {
      l.afterPauseShift = null;
      // At t0 + 1 s another call of "k" finds room ("a" is swept) and builds "k" its own
      // bucket from the shared one, which holds the waiter's booking moved by the pause.
      kGetsItsOwnBucket(l, t0 + S);
    };
    clock.onSleep = () -> {
      // The waiter of "k" books the next 5 permits, due at t0 + 5 s. At t0 + 0.5 s a 429 with
      // Retry-After: 2 for "j", which shares the overflow bucket, pauses that one until
      // t0 + 2.5 s and moves the waiter's booking to t0 + 7 s.
      assertEquals(2 * S, l.pause("j", t0 + S / 2, 2 * S));
    };
    long w = l.acquire("k", 5, 30 * S, clock);
    assertTrue(RealRateLimiter.acquired(w), "refused: " + w);
    assertEquals(7 * S, w, "the waiter of \"k\" went at t0 + " + w / 1e9 + " s, not at its "
        + "place in its key's own bucket (t0 + 7 s), which the shared bucket's pause had moved");
  }

  // A 429 of "k" is told to the shared bucket that a use of "k" was handed while the table was
  // full; meanwhile another call of "k" finds room and publishes the key's own bucket, built
  // before the pause. The pause must reach that bucket, which "k" uses from then on.
  @Test
  void aPauseToldToTheSharedBucketAsItsKeyGetsItsOwnBucketPausesThatBucket() {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(5, t0);
    l.beforeOverflowUse = () -> {
      l.beforeOverflowUse = null;
      // At t0 + 1 s (the sweep due) a call of "k" for 2 permits finds room ("a" is swept)
      // and a bucket of its own, built from the shared one: 1 permit refilled, so refused.
      assertFalse(l.tryAcquire("k", 2, t0 + S));
      assertEquals(1, l.keyCount());
    };
    // The 429 of a call of "k" handed the shared bucket at t0 + 0.95 s: Retry-After: 10.
    assertEquals(10 * S, l.pause("k", t0 + 950 * MS, 10 * S));
    assertEquals(9_950 * MS, l.pausedForNanos("k", t0 + S), "k's own bucket is not paused");
    assertFalse(l.tryAcquire("k", 1, t0 + 6 * S), "a call of \"k\" went inside its pause");
    assertTrue(l.tryAcquire("k", 1, t0 + 10_950 * MS), "no permit when the pause ends");
  }

  // The same with the shared bucket already paused longer (a 429 of "j"), after the key's own
  // bucket was built: the pause of "k" grows nothing there, but must still reach k's bucket.
  @Test
  void aPauseTheSharedBucketAlreadyCoversStillPausesItsKeysNewBucket() {
    long t0 = clock.now;
    RealRateLimiter l = tableFullOverflowEmpty(5, t0);
    l.beforeOverflowUse = () -> {
      l.beforeOverflowUse = null;
      assertFalse(l.tryAcquire("k", 2, t0 + S));
      assertEquals(1, l.keyCount());
      assertEquals(20 * S, l.pause("j", t0 + S, 20 * S));
    };
    // It grows in k's bucket only, from that bucket's start (t0 + 1 s) on.
    assertEquals(9_950 * MS, l.pause("k", t0 + 950 * MS, 10 * S));
    assertEquals(9_950 * MS, l.pausedForNanos("k", t0 + S), "k's own bucket is not paused");
  }
}
