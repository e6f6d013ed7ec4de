package dev.outrigger.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

class ClosingTest {

  @Test
  void closeRunsEachHookStillRegisteredOnceAndNoneAddedAfterIt() {
    Closing closing = new Closing();
    java.util.concurrent.atomic.AtomicInteger ran = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger removed =
        new java.util.concurrent.atomic.AtomicInteger();
    Runnable hook = ran::incrementAndGet;
    Runnable takenBack = removed::incrementAndGet;
    assertTrue(closing.onClose(hook));
    assertTrue(closing.onClose(takenBack));
    closing.removeOnClose(takenBack);

    assertTrue(closing.close());
    assertFalse(closing.close());

    org.junit.jupiter.api.Assertions.assertEquals(1, ran.get(), "a hook registered runs once");
    org.junit.jupiter.api.Assertions.assertEquals(0, removed.get(), "one taken back never runs");
    assertFalse(closing.onClose(hook), "closed already: not registered");
    org.junit.jupiter.api.Assertions.assertEquals(1, ran.get(), "and not run");
    assertFalse(Thread.currentThread().isInterrupted(), "a hook interrupts no one");
  }

  @Test
  void aHookThatThrowsKeepsNoOtherFromRunningAndIsThrownAfterThem() {
    Closing c = new Closing();
    java.util.concurrent.atomic.AtomicInteger ran = new java.util.concurrent.atomic.AtomicInteger();
    // Two that throw: whatever order the set runs them in, one throws before the last runs.
    for (int i = 0; i < 2; i++) {
      c.onClose(() -> {
        ran.incrementAndGet();
        throw new IllegalStateException("a callback's bug");
      });
    }
    c.onClose(ran::incrementAndGet);

    IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalStateException.class, c::close);
    assertEquals("a callback's bug", e.getMessage());
    assertEquals(1, e.getSuppressed().length, "the second hook's exception goes with the first");
    assertEquals(3, ran.get(), "every hook ran");
    assertTrue(c.isClosed());
    assertFalse(c.close(), "closed once");
  }

  @Test
  void aWaitThatLeftBeforeCloseIsNotInterrupted() {
    Closing closing = new Closing();
    Closing.Waiter w = closing.enter("x");
    assertFalse(w.leave());
    assertTrue(closing.close());
    assertFalse(Thread.currentThread().isInterrupted());
    assertFalse(w.leave(), "leaving twice answers the same");
    assertFalse(closing.close(), "closing twice does nothing");
  }

  @Test
  void closeInterruptsARegisteredWaitAndLeaveTakesTheInterruptBack() {
    Closing closing = new Closing();
    Closing.Waiter w = closing.enter("a permit");
    closing.close();
    assertTrue(Thread.currentThread().isInterrupted(), "close() interrupts the waiting thread");
    InterruptedException e = w.interrupted(new InterruptedException());
    Closing.ClosedException closed = assertInstanceOf(Closing.ClosedException.class, e);
    assertTrue(closed.getMessage().contains("closed while the call waited for a permit"));
    assertFalse(Thread.interrupted(), "leave() cleared close()'s interrupt");
    assertTrue(w.leave());
  }

  @Test
  void aWaitEnteredAfterCloseIsCutShortAtOnce() {
    Closing closing = new Closing();
    closing.close();
    Closing.Waiter w = closing.enter("a slot");
    assertTrue(Thread.currentThread().isInterrupted());
    assertTrue(w.leave());
    assertFalse(Thread.currentThread().isInterrupted());
  }

  @Test
  void aCallersOwnInterruptIsLeftAlone() {
    Closing closing = new Closing();
    Closing.Waiter w = closing.enter("a slot");
    InterruptedException mine = new InterruptedException();
    assertSame(mine, w.interrupted(mine), "not closed: the caller's interrupt, as it was");
  }

  @Test
  void aCallersOwnInterruptPendingWhenCloseComesStaysSet() {
    Closing closing = new Closing();
    closing.close();
    Thread.currentThread().interrupt(); // the caller's own, pending as its wait begins
    Closing.Waiter w = closing.enter("a backoff");
    InterruptedException e = w.interrupted(new InterruptedException());
    assertInstanceOf(Closing.ClosedException.class, e);
    assertTrue(Thread.interrupted(), "leave() swallowed the caller's own interrupt");
  }

  @Test
  void noInterruptEscapesTheWaitWhateverTheTiming() throws Exception {
    // close() races each waiter's leaving; after leave() the thread must never be interrupted,
    // and a wait close() reached must report it.
    for (int round = 0; round < 2_000; round++) {
      Closing closing = new Closing();
      CountDownLatch entered = new CountDownLatch(1);
      AtomicReference<String> wrong = new AtomicReference<>();
      int spins = round % 200;
      Thread t = Thread.ofVirtual().start(() -> {
        Closing.Waiter w = closing.enter("x");
        entered.countDown();
        boolean sawInterrupt = false;
        for (int i = 0; i < spins; i++) {
          Thread.onSpinWait();
        }
        if (round(spins)) {
          LockSupport.parkNanos(1_000);
        }
        sawInterrupt = Thread.currentThread().isInterrupted();
        boolean closedIt = w.leave();
        if (Thread.currentThread().isInterrupted()) {
          wrong.set("interrupted after leave()");
        } else if (sawInterrupt && !closedIt) {
          wrong.set("interrupted by close() but leave() said no");
        }
      });
      entered.await();
      for (int i = 0; i < (round * 7) % 200; i++) {
        Thread.onSpinWait();
      }
      closing.close();
      t.join();
      assertSame(null, wrong.get(), "round " + round + ": " + wrong.get());
    }
  }

  private static boolean round(int spins) {
    return spins % 3 == 0;
  }
}
