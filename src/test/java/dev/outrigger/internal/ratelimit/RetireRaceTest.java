package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two retirements of one bucket racing (two answers adapting one key at once, or an answer and
 * an operator's reconfiguration): the successor that replaces the bucket carries its state as
 * it was retired, whichever thread loses the race and however late it runs.
 */
class RetireRaceTest {
  private static final long NOW = 1_000_000_000L;

  @Test
  void aRetirementThatReadTheStateBeforeAnotherRetiredTheBucketDoesNotReplaceItsSuccessor()
      throws Exception {
    Bands ten = new Bands(RateLimit.perSecond(10).burst(10));
    Bands five = new Bands(RateLimit.perSecond(5).burst(5));
    TokenBucket bucket = TokenBucket.full(ten, new PauseState(NOW), NOW);
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    boolean[] slowRetired = new boolean[1];
    Thread slow = Thread.ofPlatform()
        .unstarted(() -> slowRetired[0] = bucket.retireInto(five, NOW));
    bucket.beforeSuccessor = () -> {
      if (Thread.currentThread() == slow && inside.getCount() > 0) {
        // Read the state (full) and built its successor from it; held here.
        inside.countDown();
        try {
          go.await();
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
      }
    };
    slow.start();
    assertTrue(inside.await(10, TimeUnit.SECONDS));

    assertEquals(1, bucket.tryAcquire(NOW, 8), "8 of 10 taken: 2 left");
    assertTrue(bucket.retireInto(five, NOW));
    TokenBucket successor = bucket.successor;
    assertEquals(2L, successor.available(NOW));

    go.countDown();
    slow.join(10_000);
    assertFalse(slow.isAlive());
    assertFalse(slowRetired[0], "the bucket was already retired");
    assertSame(successor, bucket.successor, "the successor others may already use");
    assertEquals(2L, bucket.successor.available(NOW), "the 8 permits taken are not forgotten");
  }

  @Test
  void aRetirementThatReadTheStateAfterAnotherSetItsSuccessorDoesNotReplaceIt() throws Exception {
    // The winner has set its successor and not yet retired the bucket; the other reads then,
    // builds its own from the same state, and (before) set it over the winner's once the
    // winner had retired the bucket and others used its successor.
    Bands ten = new Bands(RateLimit.perSecond(10).burst(10));
    Bands five = new Bands(RateLimit.perSecond(5).burst(5));
    TokenBucket bucket = TokenBucket.full(ten, new PauseState(NOW), NOW);
    CountDownLatch winnerHeld = new CountDownLatch(1);
    CountDownLatch releaseWinner = new CountDownLatch(1);
    CountDownLatch otherHeld = new CountDownLatch(1);
    CountDownLatch releaseOther = new CountDownLatch(1);
    boolean[] retired = new boolean[2];
    Thread winner = Thread.ofPlatform().unstarted(() -> retired[0] = bucket.retireInto(five, NOW));
    Thread other = Thread.ofPlatform().unstarted(() -> retired[1] = bucket.retireInto(five, NOW));
    bucket.beforeRetire = () -> {
      if (Thread.currentThread() == winner && winnerHeld.getCount() > 0) {
        winnerHeld.countDown();
        await(releaseWinner);
      }
    };
    bucket.beforeSuccessor = () -> {
      if (Thread.currentThread() == other && otherHeld.getCount() > 0) {
        otherHeld.countDown();
        await(releaseOther);
      }
    };
    winner.start();
    assertTrue(winnerHeld.await(10, TimeUnit.SECONDS));
    TokenBucket winners = bucket.successor;
    other.start();
    // Before the fix the other reaches its hook at once; now it waits for the winner's
    // retirement and never gets there (this only bounds how long to look).
    otherHeld.await(2, TimeUnit.SECONDS);
    releaseWinner.countDown();
    winner.join(10_000);
    releaseOther.countDown();
    other.join(10_000);

    assertFalse(winner.isAlive() || other.isAlive());
    assertTrue(retired[0]);
    assertFalse(retired[1], "the bucket was already retired");
    assertSame(winners, bucket.successor, "the successor others may already use");
  }

  private static void await(CountDownLatch latch) {
    try {
      assertTrue(latch.await(10, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }
}
