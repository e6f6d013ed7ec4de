package dev.outrigger.internal.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
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
  void aDroppedOpenBreakerIsReportedClosedSoAGaugeFollows() {
    java.util.List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    CallListener listener = new CallListener() {
      @Override
      public void breakerTransition(String key, CircuitBreaker.State from,
          CircuitBreaker.State to) {
        seen.add(key + " " + from + "->" + to);
      }
    };
    Breakers breakers = new Breakers(CircuitBreaker.builder().maxBreakers(2)
        .slidingWindowSize(5).minimumNumberOfCalls(5)
        .waitInOpenState(java.time.Duration.ofSeconds(30)).build(), listener);
    long now = 0;
    BreakerStateMachine dead = breakers.get("dead:443", now);
    for (int i = 0; i < 5; i++) {
      dead.onResult(dead.acquire(now), BreakerStateMachine.FAILED, now);
    }
    breakers.get("live:443", now + 1);
    // Unused for its whole wait, the open breaker is the least recently used: it goes.
    now += 60 * S;
    breakers.get("new:443", now);
    assertNull(breakers.find("dead:443"));
    assertEquals(java.util.List.of("dead:443 CLOSED->OPEN", "dead:443 OPEN->CLOSED"), seen,
        "the key's next breaker starts closed, and the listener (a gauge) is told");
    // A closed breaker that goes is not reported: nothing changes for its key.
    now += 60 * S;
    breakers.get("newer:443", now);
    breakers.get("newest:443", now + 1);
    assertEquals(2, seen.size(), String.valueOf(seen));
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

  // ---- a table nothing can leave ----

  private static final long MINUTE = 60 * S;

  /** Eight breakers at most, each opened by two failures for a minute, one probe to close. */
  private static Breakers eightThatOpenForAMinute() {
    return new Breakers(CircuitBreaker.builder().maxBreakers(8)
        .slidingWindowSize(2).minimumNumberOfCalls(2).permittedCallsInHalfOpen(1)
        .waitInOpenState(java.time.Duration.ofMinutes(1)).build(), CallListener.NONE);
  }

  /** Fills the table with {@code key0..key7}, every one opened at {@code now}. */
  private static void openAll(Breakers breakers, long now) {
    for (int i = 0; i < 8; i++) {
      BreakerStateMachine b = breakers.get("key" + i + ":443", now);
      b.onResult(b.acquire(now), BreakerStateMachine.FAILED, now);
      b.onResult(b.acquire(now), BreakerStateMachine.FAILED, now);
      assertEquals(CircuitBreaker.State.OPEN, b.state());
    }
  }

  /**
   * A call on each kept breaker at {@code now}, as callers keep trying hosts that are down: it is
   * refused, or it is the probe and fails.
   */
  private static void useAll(Breakers breakers, long now) {
    for (int i = 0; i < 8; i++) {
      BreakerStateMachine b = breakers.get("key" + i + ":443", now);
      BreakerState probe = b.acquire(now);
      if (probe != null) {
        b.onResult(probe, BreakerStateMachine.FAILED, now);
      }
      assertEquals(CircuitBreaker.State.OPEN, b.state());
    }
  }

  @Test
  void anOutageRunsOneEvictionPassPerOpenWaitNotOnePerNewKey() {
    Breakers breakers = eightThatOpenForAMinute();
    long now = 7 * S;
    openAll(breakers, now);
    // Two minutes of outage, callers retrying the eight every 2 s, two new keys each time.
    for (int i = 0; i < 60; i++) {
      now += 2 * S;
      useAll(breakers, now);
      for (int j = 0; j < 2; j++) {
        BreakerStateMachine fresh = breakers.get("new" + i + "-" + j + ":443", now);
        assertNotSame(fresh, breakers.find("new" + i + "-" + j + ":443"), "the table is full");
      }
    }
    assertEquals(8, breakers.size());
    // At 9 s (all used then, so none may go before 69 s), and at 69 s (all used again).
    assertEquals(2, breakers.passes(), "one pass per open wait, not one per new key (120)");

    // Nobody calls the eight any more: once they have sat unused for their whole wait, one may
    // go, and the next new key takes its place.
    long lastUse = now;
    now = lastUse + MINUTE - 1;
    breakers.get("early:443", now);
    assertNull(breakers.find("early:443"));
    now = lastUse + MINUTE;
    BreakerStateMachine kept = breakers.get("late:443", now);
    assertSame(kept, breakers.find("late:443"));
  }

  @Test
  void aBreakerThatClosesCanGoAtOnceThoughTheOthersStayOpen() {
    Breakers breakers = eightThatOpenForAMinute();
    long opened = 7 * S;
    openAll(breakers, opened);
    long now = opened + 30 * S;
    useAll(breakers, now);
    breakers.get("a:443", now);
    breakers.get("b:443", now);
    assertEquals(1, breakers.passes());
    assertNull(breakers.find("b:443"));

    // key0's wait is over (the others are in use and stay open); its probe succeeds.
    now = opened + MINUTE;
    BreakerStateMachine key0 = breakers.get("key0:443", now);
    key0.onResult(key0.acquire(now), BreakerStateMachine.SUCCESS, now);
    assertEquals(CircuitBreaker.State.CLOSED, key0.state());
    now += S;
    BreakerStateMachine c = breakers.get("c:443", now);
    assertEquals(2, breakers.passes());
    assertSame(c, breakers.find("c:443"), "kept in the place of the closed key0");
    assertNull(breakers.find("key0:443"));
  }

  @Test
  void aBreakerResetByHandCanGoAtOnceThoughEveryOtherIsSetByHand() {
    Breakers breakers =
        new Breakers(CircuitBreaker.builder().maxBreakers(4).build(), CallListener.NONE);
    for (int i = 0; i < 4; i++) {
      breakers.setByHand("key" + i + ":443", 0, BreakerStateMachine::forceOpen);
    }
    for (int i = 0; i < 10; i++) {
      breakers.get("new" + i + ":443", S);
    }
    assertEquals(1, breakers.passes());
    assertEquals(4, breakers.size());

    breakers.find("key2:443").reset(S);
    BreakerStateMachine kept = breakers.get("kept:443", S);
    assertEquals(2, breakers.passes());
    assertSame(kept, breakers.find("kept:443"));
    assertNull(breakers.find("key2:443"));
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
