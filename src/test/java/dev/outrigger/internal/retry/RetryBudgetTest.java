package dev.outrigger.internal.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.internal.FakeClock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RetryBudgetTest {
  private static final long SECOND = 1_000_000_000L;
  private final FakeClock clock = new FakeClock();

  private RetryBudget budget(double ratio, int minPerSecond) {
    return new RetryBudget(ratio, 10 * SECOND, minPerSecond, 1024, clock::nanoTime);
  }

  @Test
  void withoutTrafficTheFloorAllowsMinPerSecondTimesTheWindow() {
    RetryBudget b = budget(0.2, 10);
    assertEquals(100, drain(b, "h:1"));
  }

  @Test
  void eachCallAddsTheRatioOfARetry() {
    RetryBudget b = budget(0.2, 10);
    for (int i = 0; i < 1000; i++) {
      b.deposit("h:1");
    }
    // 100 from the floor plus 20% of 1000 calls.
    assertEquals(300, drain(b, "h:1"));
  }

  @Test
  void fractionalDepositsAccumulate() {
    RetryBudget b = budget(0.2, 10);
    assertEquals(100, drain(b, "h:1"));
    for (int i = 0; i < 4; i++) {
      b.deposit("h:1");
    }
    assertFalse(b.tryWithdraw("h:1"), "0.8 of a retry is not a retry");
    b.deposit("h:1");
    assertTrue(b.tryWithdraw("h:1"), "five calls at 20% earn one retry");
    assertFalse(b.tryWithdraw("h:1"));
  }

  @Test
  void aHugeRatioKeepsEveryCallsDepositRatherThanWrappingToADebt() {
    // Double.MAX_VALUE is finite, so Retry.budget takes it, as "as many retries as calls allow".
    // Each deposit then overflowed the slot's sum to a negative one, which the clamp turned into
    // the deepest debt: the second call's deposit left no retry at all.
    RetryBudget b = budget(Double.MAX_VALUE, 0);
    b.deposit("h:1");
    b.deposit("h:1");
    assertTrue(b.tryWithdraw("h:1"), "two calls at any ratio earn a retry");
    assertTrue(b.available("h:1") > 1_000_000, "available: " + b.available("h:1"));
  }

  @Test
  void aDepositStampedBeforeTheWindowDoesNotWipeANewerSlot() {
    RetryBudget b = budget(0.2, 0);
    long callStart = clock.nanoTime();
    clock.advance(10 * SECOND); // the call was held up a whole window
    for (int i = 0; i < 10; i++) {
      b.deposit("h:1"); // fresh deposits: two retries' worth
    }
    // The late first attempt's deposit, stamped with its call's start, maps to the same slot
    // index as "now" one window ago; it must add to the fresh amount, not replace it.
    b.deposit("h:1", callStart);
    int retries = 0;
    while (b.tryWithdraw("h:1")) {
      retries++;
    }
    assertEquals(2, retries, "ten fresh calls at 20% (the stale deposit adds 0.2 more)");
  }

  @Test
  void aWithdrawalStampedBeforeANewerSlotGrantsNoRetryTheBudgetNoLongerHolds() {
    RetryBudget b = budget(0.1, 0); // no floor: only the calls' deposits
    for (int i = 0; i < 10; i++) {
      b.deposit("h:1"); // one retry's worth, in this slot
    }
    clock.advance(SECOND);
    assertTrue(b.tryWithdraw("h:1"), "the one retry, taken in the next slot");
    // A thread that read the clock in the first slot, then was descheduled until now: the
    // newer slot's withdrawal must count against it, as the deposits' stale readings do.
    clock.advance(-SECOND);
    assertFalse(b.tryWithdraw("h:1"), "ten calls at 10% earn one retry, not two");
  }

  @Test
  void aRefundGoesBackIntoItsSlotAndLastsNoLongerThanTheWithdrawal() {
    RetryBudget b = budget(0.2, 0); // no floor: only the calls' deposits
    for (int i = 0; i < 50; i++) {
      b.deposit("h:1");
    }
    long slot = b.withdraw("h:1");
    assertEquals(9, b.available("h:1"), 1e-9);
    clock.advance(5 * SECOND);
    b.refund("h:1", slot);
    assertEquals(10, b.available("h:1"), 1e-9, "the retry nobody sent is back");
    // The withdrawal's slot leaves the window with the deposits: had the refund gone into the
    // current slot, it would now be a retry nobody earned.
    clock.advance(6 * SECOND);
    assertEquals(0, b.available("h:1"), 1e-9);
    assertEquals(0, drain(b, "h:1"));
  }

  @Test
  void aRefundOfTheFloorsRetryGoesBackToTheFloor() {
    RetryBudget b = budget(0, 1); // a floor of 1 retry a second, holding 10; no deposits
    assertEquals(10, drain(b, "h:1"));
    long slot = b.withdraw("h:1");
    assertEquals(RetryBudget.REFUSED, slot);
    clock.advance(SECOND);
    slot = b.withdraw("h:1");
    assertEquals(RetryBudget.FLOOR, slot);
    assertEquals(0, b.available("h:1"), 1e-9);
    b.refund("h:1", slot);
    assertEquals(1, b.available("h:1"), 1e-9, "the retry nobody sent is back");
    assertEquals(1, drain(b, "h:1"));
  }

  @Test
  void aRefundOfASlotThatLeftTheWindowChangesNothing() {
    RetryBudget b = budget(0.2, 0);
    long slot = b.withdraw("h:1");
    assertEquals(RetryBudget.REFUSED, slot, "no floor and no deposits: nothing to withdraw");
    for (int i = 0; i < 5; i++) {
      b.deposit("h:1");
    }
    slot = b.withdraw("h:1");
    assertTrue(slot != RetryBudget.REFUSED);
    clock.advance(10 * SECOND); // the slot's index is now the current one's
    for (int i = 0; i < 10; i++) {
      b.deposit("h:1"); // two retries' worth, in the slot the old one shared an index with
    }
    b.refund("h:1", slot);
    assertEquals(2, drain(b, "h:1"), "the late refund neither adds nor wipes the new slot");
  }

  @Test
  void aWriteForASlotThatLeftTheWindowNeverOverwritesTheNewerSlotThere() {
    RetryBudget b = budget(0.2, 0);
    for (int i = 0; i < 5; i++) {
      b.deposit("h:1");
    }
    long slot = b.withdraw("h:1");
    assertTrue(slot != RetryBudget.REFUSED);
    clock.advance(10 * SECOND); // the slot's ring index now holds the current epoch
    for (int i = 0; i < 10; i++) {
      b.deposit("h:1"); // two retries' worth in the current slot
    }
    // A refund that passed its window check just before the slot aged out, as a racing thread
    // could: it must not replace the current slot's two retries with its one.
    b.addAt("h:1", slot, RetryBudget.UNIT);
    assertEquals(2, drain(b, "h:1"));
  }

  @Test
  void zeroRatioLeavesOnlyTheFloor() {
    RetryBudget b = budget(0, 10);
    for (int i = 0; i < 1000; i++) {
      b.deposit("h:1");
    }
    assertEquals(100, drain(b, "h:1"));
  }

  @Test
  void theFloorComesBackAtItsRateUpToAWindowsWorth() {
    RetryBudget b = budget(0.2, 10);
    assertEquals(100, drain(b, "h:1"), "the floor starts with a window's worth");
    assertFalse(b.tryWithdraw("h:1"));
    clock.advance(SECOND / 10);
    assertEquals(1, drain(b, "h:1"), "one retry every 100 ms");
    clock.advance(5 * SECOND);
    assertEquals(50, drain(b, "h:1"));
    clock.advance(60 * SECOND);
    assertEquals(100, drain(b, "h:1"), "never more than a window's worth");
  }

  @Test
  void aSecondAfterABurstSpentItTheFloorGivesItsRetriesAgain() {
    // The contract: at least 10 retries a second per host, so a lightly used client can make
    // its maxAttempts even just after a burst of failures took everything.
    RetryBudget b = budget(0.2, 10);
    for (int i = 0; i < 60; i++) {
      b.deposit("h:1");
    }
    assertEquals(112, drain(b, "h:1"), "the floor's 100 and 20% of 60 calls");
    clock.advance(SECOND);
    assertEquals(10, drain(b, "h:1"));
  }

  @Test
  void depositsExpireWithTheWindow() {
    RetryBudget b = budget(0.5, 10);
    for (int i = 0; i < 100; i++) {
      b.deposit("h:1");
    }
    assertEquals(150, b.available("h:1"), 1e-9);
    clock.advance(10 * SECOND);
    assertEquals(100, b.available("h:1"), 1e-9);
  }

  @Test
  void windowSlidesSlotBySlot() {
    RetryBudget b = budget(1.0, 10);
    b.deposit("h:1");
    clock.advance(5 * SECOND);
    b.deposit("h:1");
    clock.advance(5 * SECOND);
    // The first deposit aged out, the second is 5 s old.
    assertEquals(101, b.available("h:1"), 1e-9);
    clock.advance(5 * SECOND);
    assertEquals(100, b.available("h:1"), 1e-9);
  }

  @Test
  void underSustainedOutageRetriesStayNearTheRatioPlusTheFloor() {
    RetryBudget b = budget(0.2, 10);
    int calls = 0;
    int retries = 0;
    // 1000 calls per second for 60 s, each wanting 3 retries, against a total outage.
    for (int ms = 0; ms < 60_000; ms++) {
      b.deposit("h:1");
      calls++;
      for (int r = 0; r < 3 && b.tryWithdraw("h:1"); r++) {
        retries++;
      }
      clock.advanceMillis(1);
    }
    double amplification = (calls + retries) / (double) calls;
    // 20% of the calls plus 10 per second: 1.2 + 10/1000.
    assertEquals(1.21, amplification, 0.02, "amplification " + amplification);
  }

  @Test
  void hostsHaveSeparateBudgets() {
    RetryBudget b = budget(0.2, 10);
    assertEquals(100, drain(b, "a:1"));
    assertEquals(100, drain(b, "b:1"));
    assertEquals(2, b.trackedKeys());
  }

  @Test
  void keysBeyondTheBoundShareOneOverflowWindow() {
    RetryBudget b = new RetryBudget(0.2, 10 * SECOND, 10, 2, clock::nanoTime);
    b.deposit("a:1");
    b.deposit("b:1");
    assertEquals(100, drain(b, "c:1"));
    assertEquals(0, drain(b, "d:1"), "d shares c's spent overflow window");
    assertEquals(2, b.trackedKeys());
  }

  @Test
  void idleKeysAreEvictedWhenRoomIsNeeded() {
    RetryBudget b = new RetryBudget(0.2, 10 * SECOND, 10, 2, clock::nanoTime);
    b.deposit("a:1");
    b.deposit("b:1");
    clock.advance(11 * SECOND);
    b.deposit("c:1");
    assertEquals(1, b.trackedKeys(), "a and b were idle for a whole window");
    assertEquals(100, drain(b, "c:1"));
  }

  @Test
  void concurrentWithdrawalsOverdrawAtMostByTheNumberOfRacingThreads() throws Exception {
    RetryBudget b = new RetryBudget(0, 10 * SECOND, 10, 16, System::nanoTime);
    int threads = 8;
    AtomicInteger granted = new AtomicInteger();
    inThreads(threads, () -> {
      for (int i = 0; i < 1000; i++) {
        if (b.tryWithdraw("h:1")) {
          granted.incrementAndGet();
        }
      }
    });
    assertTrue(granted.get() >= 100 && granted.get() <= 100 + threads, "granted " + granted);
  }

  @Test
  void aStripedKeyGrantsExactlyWhatOneRingWould() throws Exception {
    RetryBudget b = budget(0.2, 10);
    b.deposit("h:1"); // one deposit in the key's first ring, before it grows stripes
    b.stripe("h:1");
    assertTrue(b.striped("h:1"));
    // 8 threads (ids on several stripes) deposit 499 calls each: with the first, 3,993 calls.
    inThreads(8, () -> {
      for (int i = 0; i < 499; i++) {
        b.deposit("h:1");
      }
    });
    // The floor's 100 plus 20% of 3,993 calls: 898.6 retries, so 898 whole ones.
    assertEquals(898, drain(b, "h:1"));

    // Deposits in every ring expire with the window, withdrawals included.
    inThreads(8, () -> {
      for (int i = 0; i < 100; i++) {
        b.deposit("h:1");
      }
    });
    // What the drain left (0.6 of a retry) plus 20% of 800 calls.
    assertEquals(0.6 + 160, b.available("h:1"), 1e-9);
    clock.advance(10 * SECOND);
    assertEquals(100, drain(b, "h:1"), "nothing outlives the window, in any ring");
  }

  @Test
  void contentionStripesAKeyAndLosesNoDeposit() throws Exception {
    RetryBudget b = budget(0.2, 0);
    for (int i = 0; i < 1_000; i++) {
      b.deposit("h:2");
    }
    int threads = 4;
    int perThread = 50_000;
    int rounds = 0;
    // Rounds of four threads writing one slot, until two of them meet (the first round, all
    // but always): every deposit of every round must be counted.
    do {
      inThreads(threads, () -> {
        for (int i = 0; i < perThread; i++) {
          b.deposit("h:1");
        }
      });
      rounds++;
    } while (!b.striped("h:1") && rounds < 100);
    assertTrue(b.striped("h:1"), "four threads writing one slot never met in 100 rounds");
    assertEquals(rounds * threads * perThread / 5, drain(b, "h:1"));
    assertFalse(b.striped("h:2"), "a key one thread writes keeps its one ring");
    assertEquals(200, drain(b, "h:2"));
  }

  @Test
  void anAmountLeftInARingNobodyWritesDoesNotComeBackWhenItsEpochWrapsAround() {
    RetryBudget b = budget(0.2, 0);
    for (int i = 0; i < 1_000; i++) {
      b.deposit("h:1"); // 200 retries' worth in the key's first ring
    }
    b.stripe("h:1"); // from now on this thread writes a stripe: the first ring is left as it is
    clock.advance(11 * SECOND);
    b.deposit("h:1"); // the first call of a slot a window later
    assertEquals(0.2, b.available("h:1"), 1e-9);
    // Epochs are kept modulo 2^24 slots (1 s each here): this is the first deposit's slot again.
    clock.advance(((1L << 24) - 11) * SECOND);
    assertEquals(0, b.available("h:1"), 1e-9, "the old 200 retries stay gone");
  }

  private static void inThreads(int n, Runnable body) throws InterruptedException {
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < n; t++) {
      ts.add(Thread.ofPlatform().start(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          return;
        }
        body.run();
      }));
    }
    start.countDown();
    for (Thread t : ts) {
      t.join();
    }
  }

  private static int drain(RetryBudget b, String key) {
    int n = 0;
    while (n < 1_000_000 && b.tryWithdraw(key)) {
      n++;
    }
    return n;
  }
}
