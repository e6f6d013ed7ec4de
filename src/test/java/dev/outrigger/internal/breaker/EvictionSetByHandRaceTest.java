package dev.outrigger.internal.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * A breaker set by hand while an eviction pass that listed it as a candidate runs (the pass's
 * hook takes it over between the listing and the drop, as another thread could): the hand wins.
 * The breaker stays in the table in the state set by hand, and no transition undoes it.
 */
class EvictionSetByHandRaceTest {
  private static final long S = 1_000_000_000L;

  private final List<String> seen = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void breakerTransition(String key, CircuitBreaker.State from,
        CircuitBreaker.State to) {
      seen.add(key + " " + from + "->" + to);
    }
  };

  private Breakers breakers() {
    // Two breakers at most: a pass drops one, the least recently used.
    return new Breakers(CircuitBreaker.builder().maxBreakers(2).slidingWindowSize(2)
        .minimumNumberOfCalls(2).waitInOpenState(Duration.ofSeconds(5)).build(), listener);
  }

  @Test
  void aClosedBreakerForcedOpenDuringThePassThatWouldDropItIsKeptForcedOpen() {
    Breakers breakers = breakers();
    breakers.get("a:443", 0);
    breakers.get("b:443", 2 * S);
    breakers.beforeDrop = () -> {
      breakers.beforeDrop = null;
      breakers.setByHand("a:443", 3 * S, BreakerStateMachine::forceOpen);
    };

    breakers.get("c:443", 4 * S);

    BreakerStateMachine a = breakers.find("a:443");
    assertNotNull(a, "a breaker forced open by hand is never dropped");
    assertEquals(CircuitBreaker.State.FORCED_OPEN, a.state());
    assertEquals(List.of("a:443 CLOSED->FORCED_OPEN"), seen);
  }

  @Test
  void anIdleOpenBreakerDisabledDuringThePassThatWouldDropItIsKeptDisabled() {
    Breakers breakers = breakers();
    BreakerStateMachine a = breakers.get("a:443", 0);
    for (int i = 0; i < 2; i++) {
      a.onResult(a.acquire(0), BreakerStateMachine.FAILED, 0);
    }
    breakers.get("b:443", 6 * S);
    breakers.beforeDrop = () -> {
      breakers.beforeDrop = null;
      breakers.setByHand("a:443", 7 * S, BreakerStateMachine::disable);
    };

    // a sat unused for its whole wait: the pass lists it, then a hand disables it.
    breakers.get("c:443", 8 * S);

    assertNotNull(breakers.find("a:443"), "a breaker disabled by hand is never dropped");
    assertEquals(CircuitBreaker.State.DISABLED, breakers.find("a:443").state());
    assertEquals(List.of("a:443 CLOSED->OPEN", "a:443 OPEN->DISABLED"), seen);
    assertNull(breakers.find("b:443"), "the pass dropped the next least recently used instead");
  }

  // Not only a hand: a closed breaker the pass listed may trip before the pass drops it (its
  // calls fail meanwhile on other threads). Dropped then, the key would start over closed right
  // after it opened, and its failing host would get calls again: the pass drops a breaker only
  // from the state it listed it in, and drops the next least recently used instead.
  @Test
  void aClosedBreakerThatOpensDuringThePassThatWouldDropItIsKeptOpen() {
    Breakers breakers = breakers();
    BreakerStateMachine a = breakers.get("a:443", 0);
    breakers.get("b:443", 2 * S);
    breakers.beforeDrop = () -> {
      breakers.beforeDrop = null;
      for (int i = 0; i < 2; i++) {
        a.onResult(a.acquire(3 * S), BreakerStateMachine.FAILED, 3 * S);
      }
    };

    breakers.get("c:443", 4 * S);

    assertSame(a, breakers.find("a:443"), "the breaker that opened is kept");
    assertEquals(CircuitBreaker.State.OPEN, a.state());
    assertEquals(List.of("a:443 CLOSED->OPEN"), seen);
    assertNull(breakers.find("b:443"), "the pass dropped the next least recently used instead");
  }

  // The other way round: a hand that found a key's breaker puts it back in the table,
  // replacing one a call made for the key after an eviction dropped the one the hand had found.
  // The breaker it replaces is out of use from then on, as a dropped one is: the call it
  // admitted cannot open it, and no listener (a state gauge) hears of a breaker no table keeps.
  @Test
  void theBreakerAHandReplacesCannotOpenAfterItLeftTheTable() {
    // Two breakers at most, opened by one failure.
    Breakers breakers = new Breakers(CircuitBreaker.builder().maxBreakers(2)
        .slidingWindowSize(1).minimumNumberOfCalls(1)
        .waitInOpenState(Duration.ofSeconds(5)).build(), listener);
    BreakerStateMachine first = breakers.get("k:443", 0);
    breakers.get("a:443", 2 * S);
    BreakerStateMachine[] next = new BreakerStateMachine[1];
    BreakerState[] inFlight = new BreakerState[1];

    // The hand found k's breaker; before it sets it (as another thread could run meanwhile), a
    // new key drops k's breaker, the least recently used, and k's next call makes a fresh one.
    breakers.setByHand("k:443", 0, found -> {
      assertSame(first, found);
      breakers.get("x:443", 3 * S);
      assertNull(breakers.find("k:443"));
      next[0] = breakers.get("k:443", 4 * S);
      inFlight[0] = next[0].acquire(4 * S);
      found.forceOpen();
    });
    assertSame(first, breakers.find("k:443"), "the hand's breaker is kept");
    assertNotSame(first, next[0]);

    // The call the replaced breaker admitted fails.
    next[0].onResult(inFlight[0], BreakerStateMachine.FAILED, 5 * S);

    assertEquals(CircuitBreaker.State.FORCED_OPEN, breakers.find("k:443").state());
    assertEquals(List.of("k:443 CLOSED->FORCED_OPEN"), seen,
        "only the breaker in the table reports");
  }
}
