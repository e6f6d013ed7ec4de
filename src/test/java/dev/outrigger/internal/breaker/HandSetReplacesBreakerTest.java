package dev.outrigger.internal.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * A hand that sets a key's breaker puts it back in the table, replacing a breaker a call made
 * for the key after an eviction dropped the one the hand had found. The breaker it replaces is
 * out of use from then on, as a dropped one is: the call it admitted cannot open it, and no
 * listener (a state gauge) hears of a breaker no table keeps.
 */
class HandSetReplacesBreakerTest {
  private static final long S = 1_000_000_000L;

  private final List<String> seen = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void breakerTransition(String key, CircuitBreaker.State from,
        CircuitBreaker.State to) {
      seen.add(key + " " + from + "->" + to);
    }
  };

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
