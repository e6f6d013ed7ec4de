package dev.outrigger.internal.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Review of b081f71 and 4841499: "a pass drops a breaker only from the state it listed it in;
 * one that tripped (or moved on) since is kept", and "a half-open breaker with a probe still out
 * is in use ... and is not dropped". A half-open breaker the pass listed as idle (its last probe
 * gave its permit back, and no call came for its whole wait) can let a probe through between
 * the listing and the drop, as another thread's call could: taking a probe does not replace the
 * HalfOpen state, so dropped(seen) still finds the state it listed and drops the breaker with
 * its probe out. The probe's verdict goes nowhere and the failing key starts over closed.
 */
class EvictionHalfOpenProbeRaceTest {
  private static final long S = 1_000_000_000L;

  private final List<String> seen = new CopyOnWriteArrayList<>();
  /** Thrown by the listener after it notes a transition, when set. */
  private volatile Error listenerThrows;
  private final CallListener listener = new CallListener() {
    @Override
    public void breakerTransition(String key, CircuitBreaker.State from,
        CircuitBreaker.State to) {
      seen.add(key + " " + from + "->" + to);
      Error e = listenerThrows;
      if (e != null) {
        listenerThrows = null;
        throw e;
      }
    }
  };

  @Test
  void aHalfOpenBreakerWhoseProbeGoesOutDuringThePassThatListedItIsKept() {
    Breakers breakers = breakers();
    BreakerStateMachine a = idleHalfOpenA(breakers);

    BreakerState[] probe = new BreakerState[1];
    breakers.beforeDrop = () -> {
      breakers.beforeDrop = null;
      // The pass listed a (half-open, unused for its whole 5 s wait, no probe out). A call on
      // another thread finds it now and its probe goes out.
      a.touch(12 * S);
      probe[0] = a.acquire(12 * S);
    };

    breakers.get("c:443", 12 * S);
    assertNotNull(probe[0], "the call got a's probe");

    assertSame(a, breakers.find("a:443"),
        "a half-open breaker with its probe out was dropped: " + seen);
    assertNull(breakers.find("b:443"), "the pass dropped the next least recently used instead");
    // The probe fails: the breaker opens again, and the key's calls are refused.
    a.onResult(probe[0], BreakerStateMachine.FAILED, 13 * S);
    assertEquals(CircuitBreaker.State.OPEN, a.state());
    assertEquals(List.of("a:443 CLOSED->OPEN", "a:443 OPEN->HALF_OPEN",
        "a:443 HALF_OPEN->OPEN"), seen);
  }

  /**
   * The drop of a half-open breaker claims its probe permits, then takes it out of use. A call
   * that found it in between was admitted and recorded nothing: its failure was lost, and the
   * failing key started over closed. The call uses the breaker, so it is kept (the drop fails),
   * as one whose state moved since the listing is, and the call is its probe: its failure opens
   * it again.
   */
  @Test
  void aCallThatFindsAHalfOpenBreakerBeingDroppedKeepsItAndCounts() {
    Breakers breakers = breakers();
    // Half-open, its only probe given back: no probe out, unused for its whole wait by 12 s.
    BreakerStateMachine a = idleHalfOpenA(breakers);

    BreakerState[] call = new BreakerState[1];
    breakers.claimSteps = step -> {
      if (step == BreakerStateMachine.CLAIMED) {
        // The pass claimed a's permits and is about to drop it. A call on another thread finds
        // it.
        a.touch(12 * S);
        call[0] = a.acquire(12 * S);
      }
    };
    breakers.get("c:443", 12 * S);

    assertNotNull(call[0], "a call was refused by a half-open breaker with no probe out");
    assertTrue(a.needsTime(call[0], BreakerStateMachine.FAILED), "its outcome is not counted");
    assertSame(a, breakers.find("a:443"), "the breaker the call used was dropped: " + seen);
    assertNull(breakers.find("b:443"), "the pass dropped the next least recently used instead");
    assertNull(a.acquire(12 * S), "a second probe went out");
    a.onResult(call[0], BreakerStateMachine.FAILED, 12 * S);
    assertEquals(CircuitBreaker.State.OPEN, a.state());
    assertEquals(List.of("a:443 CLOSED->OPEN", "a:443 OPEN->HALF_OPEN",
        "a:443 HALF_OPEN->OPEN"), seen);
  }

  /**
   * With two probes: a probe that went out and failed between the pass's listing and its claim
   * left no probe out and one permit free, as the claim expects, and the breaker was dropped with
   * that failure (reported closed; the key started over closed). It is kept: a probe answered
   * since the listing, and the next failure opens it.
   */
  @Test
  void aProbeAnsweredBetweenTheListingAndTheClaimKeepsTheBreaker() {
    Breakers breakers = breakers(2);
    BreakerStateMachine a = idleHalfOpenA(breakers);
    breakers.beforeDrop = () -> {
      breakers.beforeDrop = null;
      // Listed as idle; a call's probe goes out and fails before the pass looks again.
      a.touch(12 * S);
      a.onResult(a.acquire(12 * S), BreakerStateMachine.FAILED, 12 * S);
    };
    breakers.get("c:443", 12 * S);

    assertSame(a, breakers.find("a:443"), "dropped with a probe's failure: " + seen);
    assertNull(breakers.find("b:443"), "the pass dropped the next least recently used instead");
    a.onResult(a.acquire(13 * S), BreakerStateMachine.FAILED, 13 * S);
    assertEquals(CircuitBreaker.State.OPEN, a.state());
    assertEquals(List.of("a:443 CLOSED->OPEN", "a:443 OPEN->HALF_OPEN",
        "a:443 HALF_OPEN->OPEN"), seen);
  }

  /**
   * With three probes, the same inside the claim: a probe out when the permits were read, then
   * another that goes out and fails, and the first gives its permit back (it said nothing). The
   * permits are back where they were read, and the failure, counted as done, made the probes out
   * look none: the claim succeeded and dropped the failure. It fails: the outcomes moved since
   * the listing.
   */
  @Test
  void aProbeAnsweredDuringTheClaimWithThePermitsAsReadKeepsTheBreaker() {
    Breakers breakers = breakers(3);
    BreakerStateMachine a = idleHalfOpenA(breakers);
    BreakerState[] first = new BreakerState[1];
    breakers.beforeDrop = () -> {
      breakers.beforeDrop = null;
      first[0] = a.acquire(12 * S);
    };
    breakers.claimSteps = step -> {
      if (step == BreakerStateMachine.PERMITS_READ) {
        a.onResult(a.acquire(12 * S), BreakerStateMachine.FAILED, 12 * S);
        a.onResult(first[0], BreakerStateMachine.IGNORED, 12 * S);
      }
    };
    breakers.get("c:443", 12 * S);

    assertSame(a, breakers.find("a:443"), "dropped with a probe's failure: " + seen);
    for (int i = 0; i < 2; i++) {
      a.onResult(a.acquire(13 * S), BreakerStateMachine.FAILED, 13 * S);
    }
    assertEquals(CircuitBreaker.State.OPEN, a.state());
    assertEquals(List.of("a:443 CLOSED->OPEN", "a:443 OPEN->HALF_OPEN",
        "a:443 HALF_OPEN->OPEN"), seen);
  }

  /**
   * The drop's look at a half-open breaker counted its probes out from a second read of the
   * permits, not from the value its claim then expects: a probe out when the permits were read
   * that gives its permit back, and another call's probe taken after the look, leave the permits
   * as read (one out), and the claim succeeded. The breaker was dropped with that probe out, its
   * verdict lost, and the failing key started over closed.
   */
  @Test
  void aProbeGivenBackAndAnotherTakenDuringTheLookDoNotLetThePassDropTheBreaker() {
    Breakers breakers = breakers();
    BreakerStateMachine a = idleHalfOpenA(breakers);

    BreakerState[] first = new BreakerState[1];
    BreakerState[] second = new BreakerState[1];
    breakers.beforeDrop = () -> {
      breakers.beforeDrop = null;
      // Listed as idle; a call's probe goes out before the pass reads the permits.
      first[0] = a.acquire(12 * S);
    };
    breakers.claimSteps = step -> {
      if (step == BreakerStateMachine.PERMITS_READ) {
        // The first probe says nothing (cancelled) and gives its permit back.
        a.onResult(first[0], BreakerStateMachine.IGNORED, 12 * S);
      } else if (step == BreakerStateMachine.LOOKED) {
        // Another call's probe goes out: the permits are back where they were read.
        second[0] = a.acquire(12 * S);
      }
    };
    breakers.get("c:443", 12 * S);

    assertNotNull(first[0], "the first call got a's probe");
    assertSame(a, breakers.find("a:443"),
        "a half-open breaker with its probe out was dropped: " + seen);
    BreakerState probe = second[0] != null ? second[0] : a.acquire(13 * S);
    assertNotNull(probe, "a call got a's probe after the pass");
    a.onResult(probe, BreakerStateMachine.FAILED, 13 * S);
    assertEquals(CircuitBreaker.State.OPEN, a.state());
    assertEquals(List.of("a:443 CLOSED->OPEN", "a:443 OPEN->HALF_OPEN",
        "a:443 HALF_OPEN->OPEN"), seen);
  }

  /**
   * An Error between the drop's claim of a half-open breaker's permits and its taking the
   * breaker out of use (out of memory as it made the Dropped state; here the test hook) left the
   * permits claimed and the breaker half-open in its table for good: every call was admitted as
   * one about to be dropped and recorded nothing, so a failing key never opened again. The
   * breaker stays, its permits free again (a copy of its state in its place), and its next
   * probe counts.
   */
  @Test
  void anErrorBetweenTheClaimAndTheDropKeepsTheBreakerByACopyOfItsState() {
    Breakers breakers = breakers();
    BreakerStateMachine a = idleHalfOpenA(breakers);
    OutOfMemoryError oom = new OutOfMemoryError("as the Dropped state was made");
    breakers.claimSteps = step -> {
      if (step == BreakerStateMachine.CLAIMED) {
        throw oom;
      }
    };

    assertSame(oom, assertThrows(OutOfMemoryError.class, () -> breakers.get("c:443", 12 * S)));

    assertSame(a, breakers.find("a:443"));
    assertEquals(CircuitBreaker.State.HALF_OPEN, a.state());
    BreakerState probe = a.acquire(13 * S);
    assertTrue(a.needsTime(probe, BreakerStateMachine.FAILED), "the probe is not counted");
    a.onResult(probe, BreakerStateMachine.FAILED, 13 * S);
    assertEquals(CircuitBreaker.State.OPEN, a.state());
    assertEquals(List.of("a:443 CLOSED->OPEN", "a:443 OPEN->HALF_OPEN",
        "a:443 HALF_OPEN->OPEN"), seen);
  }

  /**
   * A listener's Error as the drop of a half-open breaker was reported (HALF_OPEN to CLOSED)
   * left the pass before it took the breaker out of its table: the key's calls went on through
   * the dropped breaker, admitted and recorded nowhere, for good. It leaves the table all the
   * same, the Error thrown once the pass is done, and the key's next call gets a breaker that
   * counts.
   */
  @Test
  void aListenersErrorAsTheDropIsReportedStillTakesTheBreakerOutOfTheTable() {
    Breakers breakers = breakers();
    BreakerStateMachine a = idleHalfOpenA(breakers);
    Error thrown = new OutOfMemoryError("in the listener");
    listenerThrows = thrown;

    assertSame(thrown, assertThrows(OutOfMemoryError.class,
        () -> breakers.get("c:443", 12 * S)));

    assertNull(breakers.find("a:443"), "the dropped breaker stayed in the table");
    BreakerStateMachine fresh = breakers.get("a:443", 13 * S);
    assertNotSame(a, fresh);
    for (int i = 0; i < 2; i++) {
      fresh.onResult(fresh.acquire(13 * S), BreakerStateMachine.FAILED, 13 * S);
    }
    assertEquals(CircuitBreaker.State.OPEN, fresh.state());
  }

  /** Two breakers at most, opened by two failures, one probe, a wait of 5 s. */
  private Breakers breakers() {
    return breakers(1);
  }

  /** {@link #breakers()} with {@code probes} probes. */
  private Breakers breakers(int probes) {
    return new Breakers(CircuitBreaker.builder().maxBreakers(2)
        .slidingWindowSize(2).minimumNumberOfCalls(2).permittedCallsInHalfOpen(probes)
        .waitInOpenState(Duration.ofSeconds(5)).build(), listener);
  }

  /**
   * Breaker "a", opened at 0; its wait over, a probe goes through at 5 s and says nothing
   * (cancelled): the permit goes back, and it stays half-open. Then "b" is used at 11 s.
   */
  private static BreakerStateMachine idleHalfOpenA(Breakers breakers) {
    BreakerStateMachine a = breakers.get("a:443", 0);
    for (int i = 0; i < 2; i++) {
      a.onResult(a.acquire(0), BreakerStateMachine.FAILED, 0);
    }
    breakers.get("a:443", 5 * S);
    BreakerState cancelled = a.acquire(5 * S);
    assertNotNull(cancelled);
    a.onResult(cancelled, BreakerStateMachine.IGNORED, 5 * S);
    assertEquals(CircuitBreaker.State.HALF_OPEN, a.state());
    breakers.get("b:443", 11 * S);
    return a;
  }
}
