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
  void holdersUpToTheLimitGetInAndTheNextWaits() {
    Gate g = new Gate(2);
    assertEquals(0, g.join());
    assertEquals(1, g.join());
    assertEquals(2, g.join(), "the third counts itself in at the limit: it must wait");
    assertEquals(2, g.holding());
    assertEquals(1, g.waiting());
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
  void aRetiredGateTurnsArrivalsAwayAndOnlyAnIdleOneRetires() {
    Gate g = new Gate(1);
    g.join();
    assertFalse(g.retire(), "in use");
    assertTrue(g.leave());
    assertTrue(g.retire());
    assertEquals(-1, g.join());
  }
}
