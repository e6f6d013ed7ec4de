package dev.outrigger.internal.breaker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Review: across breakers of one key, a drop's report could come after the next breaker's. A
 * thread trips breaker M1 of a key, and its listener call outlasts the open wait. An eviction
 * pass then dropped M1, its OPEN to CLOSED report left to that thread (which held the breaker's
 * publishing flag), and took it out of the table; the key's next call made a breaker M2 that
 * opened and reported CLOSED to OPEN at once. M1's OPEN to CLOSED came last, and a gauge of the
 * key's state (fed by the listener) showed CLOSED while M2 was open. A breaker whose transitions
 * another thread is publishing is now not dropped: a later pass drops it.
 */
class EvictionSlowListenerTest {
  private static final long S = 1_000_000_000L;

  private final List<String> seen = new CopyOnWriteArrayList<>();
  /** The key's state as a gauge fed by the listener shows it. */
  private final Map<String, CircuitBreaker.State> gauge = new ConcurrentHashMap<>();
  private final AtomicBoolean holdNext = new AtomicBoolean();
  private final CountDownLatch inListener = new CountDownLatch(1);
  private final CountDownLatch release = new CountDownLatch(1);
  private final CallListener listener = new CallListener() {
    @Override
    public void breakerTransition(String key, CircuitBreaker.State from,
        CircuitBreaker.State to) {
      if (holdNext.compareAndSet(true, false)) {
        // A slow listener (or a descheduled thread): held here while the test goes on.
        inListener.countDown();
        await(release);
      }
      seen.add(key + " " + from + "->" + to);
      gauge.put(key, to);
    }
  };

  @Test
  void aBreakerWhoseOpeningIsStillBeingReportedIsNotDroppedBeforeTheKeysNextBreakerOpens()
      throws Exception {
    // Two breakers at most, opened by two failures, one probe, a wait of 5 s.
    Breakers breakers = new Breakers(CircuitBreaker.builder().maxBreakers(2)
        .slidingWindowSize(2).minimumNumberOfCalls(2).permittedCallsInHalfOpen(1)
        .waitInOpenState(Duration.ofSeconds(5)).build(), listener);
    BreakerStateMachine first = breakers.get("a:443", 0);
    first.onResult(first.acquire(0), BreakerStateMachine.FAILED, 0);
    // The second failure opens it, on a thread held in the listener as it reports the opening.
    holdNext.set(true);
    Thread tripping = Thread.ofPlatform().start(
        () -> first.onResult(first.acquire(0), BreakerStateMachine.FAILED, 0));
    assertTrue(inListener.await(30, TimeUnit.SECONDS));
    assertEquals(CircuitBreaker.State.OPEN, first.state());

    // The table fills; by 11 s "a" sat unused for its whole wait, the least recently used.
    breakers.get("b:443", 6 * S);
    breakers.get("c:443", 11 * S);
    // The key's next calls fail (through whichever breaker the table now has for it).
    for (int i = 0; i < 2; i++) {
      BreakerStateMachine a = breakers.get("a:443", 12 * S);
      a.onResult(a.acquire(12 * S), BreakerStateMachine.FAILED, 12 * S);
    }
    BreakerStateMachine now = breakers.find("a:443");
    assertNotNull(now);
    assertEquals(CircuitBreaker.State.OPEN, now.state());

    release.countDown();
    tripping.join();
    assertEquals(now.state(), gauge.get("a:443"),
        "the key's breaker is open, its gauge shows otherwise: " + seen);
    assertSame(first, now, "a breaker whose opening was still being reported was dropped");
    assertEquals(List.of("a:443 CLOSED->OPEN", "a:443 OPEN->HALF_OPEN",
        "a:443 HALF_OPEN->OPEN"), seen);

    // Its reports out, a later pass drops it once it sat unused for its wait (the least
    // recently used, c, goes first), and reports it on its own thread.
    breakers.get("d:443", 30 * S);
    breakers.get("e:443", 31 * S);
    assertNull(breakers.find("a:443"));
    assertEquals("a:443 OPEN->CLOSED", seen.get(seen.size() - 1));
    assertEquals(CircuitBreaker.State.CLOSED, gauge.get("a:443"));
  }

  private static void await(CountDownLatch latch) {
    try {
      assertTrue(latch.await(30, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }
}
