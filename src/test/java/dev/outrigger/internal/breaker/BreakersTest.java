package dev.outrigger.internal.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.Test;

class BreakersTest {
  private static final long S = 1_000_000_000L;

  @Test
  void aKeyKeepsItsBreaker() {
    Breakers breakers = new Breakers(CircuitBreaker.defaults(), CallListener.NONE);
    BreakerStateMachine a = breakers.get("a:80", 0);
    assertSame(a, breakers.get("a:80", 5 * S));
    assertNotSame(a, breakers.get("b:80", 5 * S));
  }

  @Test
  void theNumberOfBreakersStaysBoundedAndTheLeastRecentlyUsedGo() {
    Breakers breakers =
        new Breakers(CircuitBreaker.builder().maxBreakers(16).build(), CallListener.NONE);
    long now = 0;
    for (int i = 0; i < 1000; i++) {
      now += 2 * S;
      breakers.get("hot:80", now);
      breakers.get("host" + i + ":80", now);
      assertTrue(breakers.size() <= 16, "size " + breakers.size());
    }
    assertNotNull(breakers.find("hot:80"));
    assertNotNull(breakers.find("host999:80"));
  }

  @Test
  void breakersSetByHandAreNeverEvicted() {
    Breakers breakers =
        new Breakers(CircuitBreaker.builder().maxBreakers(4).build(), CallListener.NONE);
    breakers.get("forced:80", 0).forceOpen();
    breakers.get("disabled:80", 0).disable();
    for (int i = 0; i < 100; i++) {
      breakers.get("host" + i + ":80", (i + 1) * 2 * S);
    }
    assertEquals(CircuitBreaker.State.FORCED_OPEN, breakers.find("forced:80").state());
    assertEquals(CircuitBreaker.State.DISABLED, breakers.find("disabled:80").state());
    assertTrue(breakers.size() <= 4);
  }

  @Test
  void anOpenBreakerIsNotDroppedBeforeItsWaitIsOver() {
    Breakers breakers = new Breakers(CircuitBreaker.builder().maxBreakers(2)
        .slidingWindowSize(5).minimumNumberOfCalls(5)
        .waitInOpenState(java.time.Duration.ofMinutes(5)).build(), CallListener.NONE);
    long now = 7 * S;
    BreakerStateMachine dead = breakers.get("dead:443", now);
    for (int i = 0; i < 5; i++) {
      dead.onResult(dead.acquire(now), BreakerStateMachine.FAILED, now);
    }
    assertEquals(CircuitBreaker.State.OPEN, dead.state());
    now += 2 * S;
    breakers.get("x:443", now);
    now += 2 * S;
    breakers.get("y:443", now); // full: the least recently used that may go goes
    now += 2 * S;
    assertSame(dead, breakers.get("dead:443", now), "6 s into a 5 min open wait");
    assertEquals(CircuitBreaker.State.OPEN, dead.state());
    // Once it has sat unused for its whole wait, it may go like any other.
    now += 5 * 60 * S;
    for (int i = 0; i < 4; i++) {
      breakers.get("z" + i + ":443", now + i);
    }
    assertTrue(breakers.find("dead:443") == null, "dropped after its wait");
  }

  @Test
  void anOpenWaitTooLongForNanosecondsStillLetsBreakersGo() {
    // Far beyond a long of nanoseconds (292 years): the breaker itself caps it.
    Breakers breakers = new Breakers(CircuitBreaker.builder().maxBreakers(2)
        .waitInOpenState(ChronoUnit.FOREVER.getDuration()).build(), CallListener.NONE);
    for (int i = 0; i < 10; i++) {
      breakers.get("host" + i + ":443", (i + 1) * 2 * S);
      assertTrue(breakers.size() <= 2, "size " + breakers.size());
    }
    assertNotNull(breakers.find("host9:443"));
  }

  @Test
  void aKeySetByHandIsKeptEvenWhenEveryKeptBreakerWasSetByHand() {
    Breakers breakers =
        new Breakers(CircuitBreaker.builder().maxBreakers(1).build(), CallListener.NONE);
    breakers.setByHand("a:443", 0, BreakerStateMachine::forceOpen);
    breakers.setByHand("b:443", 0, BreakerStateMachine::forceOpen);
    assertEquals(CircuitBreaker.State.FORCED_OPEN, breakers.get("b:443", S).state());
    assertEquals(CircuitBreaker.State.FORCED_OPEN, breakers.get("a:443", S).state());
  }
}
