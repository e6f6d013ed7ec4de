package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The static in-flight limit's counting, step by step on one thread: every interleaving of a
 * holder leaving and a waiter giving up must leave exactly the limit's worth of slots.
 */
class GateTest {
  @Test
  void holdersUpToTheLimitGetInAndTheNextWaits() throws InterruptedException {
    Gate g = new Gate(2);
    assertEquals(0, g.join());
    assertEquals(1, g.join());
    assertEquals(2, g.join(), "the third counts itself in at the limit: it must wait");
    assertEquals(2, g.holding());
    assertFalse(g.await(1), "no slot for it until a holder leaves");
  }

  @Test
  void aLeavingHolderHandsItsSlotToTheWaiter() throws InterruptedException {
    Gate g = new Gate(1);
    g.join();
    g.join(); // waits
    assertFalse(g.leave(), "someone still counts");
    assertTrue(g.await(1), "the slot was handed over");
    assertTrue(g.leave(), "idle again");
    assertEquals(0, g.handedOver());
  }

  @Test
  void aWaiterGivingUpBeforeAnyHandOverTakesNothing() throws InterruptedException {
    Gate g = new Gate(1);
    g.join(); // holds
    g.join(); // waits
    assertFalse(g.await(1));
    assertFalse(g.giveUp());
    assertTrue(g.leave(), "the holder leaves an idle gate");
    assertEquals(0, g.handedOver(), "no slot handed to a waiter that was gone");
    assertEquals(0, g.join(), "a new arrival gets in at once");
  }

  @Test
  void aWaiterGivingUpJustAfterASlotWasHandedToItTakesThatSlotBack() throws InterruptedException {
    Gate g = new Gate(1);
    g.join(); // A holds
    g.join(); // B waits
    assertFalse(g.await(1), "B's time runs out ...");
    assertFalse(g.leave(), "... just as A leaves and hands its slot over to B");
    assertEquals(1, g.handedOver());
    assertTrue(g.giveUp(), "B gives up: idle");
    assertEquals(0, g.handedOver(), "the slot handed to B is taken back, not left lying");

    // Exactly one slot: C holds, D must wait and finds nothing handed over.
    assertEquals(0, g.join());
    assertEquals(1, g.join());
    assertFalse(g.await(1), "a slot left lying would let D in beside C");
  }

  @Test
  void aWaiterGivingUpWhileItsSlotIsBeingHandedOverStaysCountedUntilItHasIt() throws Exception {
    Gate g = new Gate(1);
    g.join(); // H holds
    g.join(); // A waits
    assertFalse(g.await(1), "A's time runs out ...");
    int was = g.countOut(); // ... as H counts itself out: its slot is A's, not yet handed over
    Thread a = Thread.ofVirtual().start(g::giveUp);
    // Give A the time to count itself out, if it would (parking to wait for the slot, as an
    // earlier version did): it must not. It keeps trying for the slot instead, never parked.
    long until = System.nanoTime() + 200_000_000L;
    while (a.getState() != Thread.State.WAITING && System.nanoTime() < until) {
      Thread.onSpinWait();
    }
    // A still counts until it has that slot, so a newcomer cannot get in beside the attempt the
    // slot will reach: it must wait.
    assertEquals(1, g.join(), "N must wait while A gives up");
    g.handOver(was);
    assertTrue(g.await(5_000_000_000L), "N gets the slot, from H or from A giving it back");
    a.join(5_000);
    assertFalse(a.isAlive());
    assertEquals(0, g.handedOver(), "no slot left lying");
    assertEquals(1, g.join(), "N holds the only slot: the next must wait");
    assertFalse(g.await(1));
  }

  @Test
  void onlyAGateIdleAndUnusedSinceTheLastLookRetiresAndThenTurnsArrivalsAway() {
    Gate g = new Gate(1);
    g.join();
    assertFalse(g.sweep(), "in use");
    assertTrue(g.leave());
    assertFalse(g.sweep(), "idle, but used since the last look");
    assertEquals(0, g.join(), "a look leaves the count as it was");
    assertTrue(g.leave());
    assertFalse(g.sweep(), "used again since the last look");
    assertTrue(g.sweep(), "idle and unused since the last look");
    assertEquals(-1, g.join());
    assertEquals(0, g.holding());
  }
}
