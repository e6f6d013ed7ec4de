package dev.outrigger.internal.breaker;

import static dev.outrigger.CircuitBreaker.State.CLOSED;
import static dev.outrigger.CircuitBreaker.State.DISABLED;
import static dev.outrigger.CircuitBreaker.State.FORCED_OPEN;
import static dev.outrigger.CircuitBreaker.State.HALF_OPEN;
import static dev.outrigger.CircuitBreaker.State.OPEN;
import static dev.outrigger.internal.breaker.BreakerStateMachine.FAILED;
import static dev.outrigger.internal.breaker.BreakerStateMachine.IGNORED;
import static dev.outrigger.internal.breaker.BreakerStateMachine.SLOW;
import static dev.outrigger.internal.breaker.BreakerStateMachine.SUCCESS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitBreaker.WindowType;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Resilience4j's documented state machine, step by step, on a hand-moved clock (the breaker takes
 * time as an argument, so {@code now} is the clock).
 */
class BreakerStateMachineTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  private final RecordingListener listener = new RecordingListener();
  private long now = 7 * S;

  private BreakerStateMachine breaker(CircuitBreaker.Builder b) {
    return new BreakerStateMachine("api:443", b.build(), listener, now);
  }

  private static CircuitBreaker.Builder count(int size, int min) {
    return CircuitBreaker.builder().slidingWindowSize(size).minimumNumberOfCalls(min)
        .failureRateThreshold(0.5).waitInOpenState(Duration.ofSeconds(5))
        .permittedCallsInHalfOpen(2);
  }

  /** One admitted call with the given outcome; fails the test if the call is refused. */
  private void call(BreakerStateMachine b, int outcome) {
    BreakerState token = b.acquire(now);
    assertNotNull(token, "call refused in " + b.state());
    b.onResult(token, outcome, now);
  }

  private void calls(BreakerStateMachine b, int outcome, int n) {
    for (int i = 0; i < n; i++) {
      call(b, outcome);
    }
  }

  @Test
  void nineFailuresDoNotOpenABreakerThatNeedsTenCalls() {
    BreakerStateMachine b = breaker(count(20, 10));
    calls(b, FAILED, 9);
    assertEquals(CLOSED, b.state());
    assertEquals(9, b.snapshot(now).failedCalls());

    call(b, FAILED);
    assertEquals(OPEN, b.state());
    assertEquals(List.of("api:443 CLOSED->OPEN"), listener.transitions());
  }

  @Test
  void opensWhenTheFailureRateEqualsTheThreshold() {
    BreakerStateMachine b = breaker(count(10, 10));
    calls(b, SUCCESS, 5);
    calls(b, FAILED, 4);
    assertEquals(CLOSED, b.state());

    call(b, FAILED);
    assertEquals(OPEN, b.state());
    CircuitBreaker.Snapshot s = b.snapshot(now);
    assertEquals(0.5, s.failureRate());
    assertEquals(10, s.calls());
  }

  @Test
  void staysClosedJustBelowTheThreshold() {
    BreakerStateMachine b = breaker(count(10, 10));
    calls(b, SUCCESS, 6);
    calls(b, FAILED, 4);
    assertEquals(CLOSED, b.state());
    assertEquals(0.4, b.snapshot(now).failureRate(), 1e-9);
  }

  @Test
  void aSuccessThatCompletesTheMinimumOpensWhenTheRateIsAlreadyHigh() {
    BreakerStateMachine b = breaker(count(10, 5));
    calls(b, FAILED, 4);
    assertEquals(CLOSED, b.state());

    call(b, SUCCESS);
    assertEquals(OPEN, b.state());
  }

  @Test
  void theCountWindowForgetsCallsOlderThanItsSize() {
    BreakerStateMachine b = breaker(count(4, 4));
    call(b, FAILED);
    calls(b, SUCCESS, 3);
    assertEquals(1, b.snapshot(now).failedCalls());

    call(b, SUCCESS); // evicts the failure
    assertEquals(0, b.snapshot(now).failedCalls());
    assertEquals(4, b.snapshot(now).calls());

    call(b, FAILED);
    assertEquals(CLOSED, b.state()); // 1 of 4
    call(b, FAILED);
    assertEquals(OPEN, b.state()); // 2 of 4
  }

  @Test
  void slowCallsOpenAtTheSlowCallRateThreshold() {
    BreakerStateMachine b = breaker(count(4, 4)
        .slowCallDuration(Duration.ofSeconds(1)).slowCallRateThreshold(0.5));
    long exactlyOneSecond = 1 * S;
    // Not slower than the limit.
    assertEquals(SUCCESS, b.outcome(b.current(), false, exactlyOneSecond));
    assertEquals(SLOW, b.outcome(b.current(), false, exactlyOneSecond + 1));
    assertEquals(FAILED | SLOW, b.outcome(b.current(), true, 2 * S));

    calls(b, SUCCESS, 2);
    call(b, b.outcome(b.current(), false, 2 * S));
    assertEquals(CLOSED, b.state());
    call(b, b.outcome(b.current(), false, 2 * S));
    assertEquals(OPEN, b.state());
    CircuitBreaker.Snapshot s = b.snapshot(now);
    assertEquals(0.5, s.slowCallRate());
    assertEquals(0.0, s.failureRate());
    assertEquals(2, s.slowCalls());
  }

  @Test
  void openRefusesUntilTheWaitIsOverThenAdmitsExactlyThePermittedProbes() {
    BreakerStateMachine b = breaker(count(2, 2));
    calls(b, FAILED, 2);
    assertEquals(OPEN, b.state());
    assertEquals(5 * S, BreakerStateMachine.retryAfterNanos(b.current(), now));

    now += 5 * S - 1;
    assertNull(b.acquire(now));
    assertEquals(1, BreakerStateMachine.retryAfterNanos(b.current(), now));
    assertEquals(OPEN, b.state());

    now += 1;
    BreakerState first = b.acquire(now);
    BreakerState second = b.acquire(now);
    assertNotNull(first);
    assertSame(first, second);
    assertEquals(HALF_OPEN, b.state());
    assertNull(b.acquire(now));
    assertNull(b.acquire(now));
    assertEquals(List.of("api:443 CLOSED->OPEN", "api:443 OPEN->HALF_OPEN"),
        listener.transitions());
  }

  @Test
  void halfOpenClosesWithAnEmptyWindowWhenTheProbesSucceed() {
    BreakerStateMachine b = breaker(count(2, 2));
    calls(b, FAILED, 2);
    now += 5 * S;
    call(b, SUCCESS);
    assertEquals(HALF_OPEN, b.state());
    call(b, SUCCESS);
    assertEquals(CLOSED, b.state());
    assertEquals(0, b.snapshot(now).calls());
    assertEquals(List.of("api:443 CLOSED->OPEN", "api:443 OPEN->HALF_OPEN",
        "api:443 HALF_OPEN->CLOSED"), listener.transitions());
  }

  @Test
  void halfOpenReopensWhenTheProbesFailAtTheThreshold() {
    BreakerStateMachine b = breaker(count(2, 2));
    calls(b, FAILED, 2);
    now += 5 * S;
    call(b, FAILED);
    assertEquals(HALF_OPEN, b.state()); // decides only when every probe has completed
    call(b, SUCCESS);
    assertEquals(OPEN, b.state()); // 1 of 2 failed: 50% >= 50%
    assertEquals(2, b.snapshot(now).calls());
    assertEquals(1, b.snapshot(now).failedCalls());
  }

  @Test
  void halfOpenReopensWhenTheProbesAreSlow() {
    BreakerStateMachine b = breaker(count(2, 2)
        .slowCallDuration(Duration.ofMillis(100)).slowCallRateThreshold(1.0));
    calls(b, FAILED, 2);
    now += 5 * S;
    call(b, b.outcome(b.current(), false, 200 * MS));
    call(b, b.outcome(b.current(), false, 200 * MS));
    assertEquals(OPEN, b.state());
  }

  @Test
  void aProbeThatSaidNothingGivesItsPermitBack() {
    BreakerStateMachine b = breaker(count(2, 2).permittedCallsInHalfOpen(1));
    calls(b, FAILED, 2);
    now += 5 * S;
    BreakerState probe = b.acquire(now);
    assertNull(b.acquire(now));
    b.onResult(probe, IGNORED, now);
    assertEquals(HALF_OPEN, b.state());

    call(b, SUCCESS);
    assertEquals(CLOSED, b.state());
  }

  @Test
  void theOpenWaitGrowsWhileProbesFailUpToItsCapAndRestartsAfterClosing() {
    BreakerStateMachine b = breaker(count(2, 2).permittedCallsInHalfOpen(1)
        .waitInOpenState(Duration.ofSeconds(1))
        .waitInOpenStateGrowth(2.0, Duration.ofSeconds(5)));
    calls(b, FAILED, 2);
    long[] expected = {1, 2, 4, 5, 5};
    for (long wait : expected) {
      assertEquals(OPEN, b.state());
      assertEquals(wait * S, BreakerStateMachine.retryAfterNanos(b.current(), now), "wait");
      now += wait * S - 1;
      assertNull(b.acquire(now));
      now += 1;
      call(b, FAILED);
    }
    now += 5 * S;
    call(b, SUCCESS);
    assertEquals(CLOSED, b.state());

    calls(b, FAILED, 2);
    assertEquals(1 * S, BreakerStateMachine.retryAfterNanos(b.current(), now));
  }

  @Test
  void forcedOpenRefusesEverythingUntilReset() {
    BreakerStateMachine b = breaker(count(2, 2));
    b.forceOpen();
    assertEquals(FORCED_OPEN, b.state());
    now += 3600 * S;
    assertNull(b.acquire(now));
    assertEquals(Long.MAX_VALUE, b.snapshot(now).retryAfter().toNanos());

    b.reset(now);
    assertEquals(CLOSED, b.state());
    call(b, SUCCESS);
    assertEquals(List.of("api:443 CLOSED->FORCED_OPEN", "api:443 FORCED_OPEN->CLOSED"),
        listener.transitions());
  }

  @Test
  void disabledAdmitsEverythingAndRecordsNothing() {
    BreakerStateMachine b = breaker(count(2, 2));
    b.disable();
    calls(b, FAILED, 100);
    assertEquals(DISABLED, b.state());
    assertEquals(0, b.snapshot(now).calls());
    b.reset(now);
    assertEquals(CLOSED, b.state());
  }

  @Test
  void resetEmptiesTheWindowOfAClosedBreaker() {
    BreakerStateMachine b = breaker(count(4, 4));
    calls(b, FAILED, 3);
    b.reset(now);
    calls(b, FAILED, 3);
    assertEquals(CLOSED, b.state());
    assertEquals(3, b.snapshot(now).calls());
  }

  @Test
  void aResetOpenBreakerAdmitsAtOnce() {
    BreakerStateMachine b = breaker(count(2, 2));
    calls(b, FAILED, 2);
    b.reset(now);
    call(b, SUCCESS);
    assertEquals(List.of("api:443 CLOSED->OPEN", "api:443 OPEN->CLOSED"),
        listener.transitions());
  }

  @Test
  void aCallAdmittedBeforeATransitionDoesNotCountInTheNextWindow() {
    BreakerStateMachine b = breaker(count(2, 2).permittedCallsInHalfOpen(1));
    BreakerState late = b.acquire(now);
    calls(b, FAILED, 2);
    now += 5 * S;
    call(b, SUCCESS);
    assertEquals(CLOSED, b.state());

    b.onResult(late, FAILED, now);
    assertEquals(0, b.snapshot(now).calls());
  }

  // ---- publication order ----

  @Test
  void transitionsMadeOnTwoThreadsReachListenersInTheOrderTheyHappened() throws Exception {
    CountDownLatch inListener = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    // Holds the thread that half-opens the breaker inside its listener call, as a slow listener
    // (or a descheduled thread) would, while another thread closes the breaker.
    CallListener slow = new CallListener() {
      @Override
      public void breakerTransition(String key, CircuitBreaker.State from,
          CircuitBreaker.State to) {
        if (to == HALF_OPEN) {
          inListener.countDown();
          await(release);
        }
        listener.breakerTransition(key, from, to);
      }
    };
    BreakerStateMachine b = new BreakerStateMachine(
        "api:443", count(2, 2).permittedCallsInHalfOpen(1).build(), slow, now);
    calls(b, FAILED, 2);
    now += 5 * S;
    long at = now;
    BreakerState[] halfOpener = new BreakerState[1];
    Thread t = Thread.ofPlatform().start(() -> halfOpener[0] = b.acquire(at));
    assertTrue(inListener.await(30, TimeUnit.SECONDS));

    // The probe's permit is still there (the half-opening thread has not taken it yet).
    call(b, SUCCESS);
    assertEquals(CLOSED, b.state());
    assertEquals(List.of("api:443 CLOSED->OPEN"), listener.transitions(),
        "the close waits for the half-open before it");

    release.countDown();
    t.join();
    assertNotNull(halfOpener[0]);
    assertEquals(List.of("api:443 CLOSED->OPEN", "api:443 OPEN->HALF_OPEN",
        "api:443 HALF_OPEN->CLOSED"), listener.transitions());
  }

  @Test
  void aTransitionMadeByAListenerIsPublishedAfterTheOneItReactsTo() {
    BreakerStateMachine[] breaker = new BreakerStateMachine[1];
    // An operator's listener resets the breaker as it opens; the recording one comes after it,
    // as a metrics listener registered second would.
    CallListener resetting = new CallListener() {
      @Override
      public void breakerTransition(String key, CircuitBreaker.State from,
          CircuitBreaker.State to) {
        if (to == OPEN) {
          breaker[0].reset(now);
        }
        listener.breakerTransition(key, from, to);
      }
    };
    BreakerStateMachine b = new BreakerStateMachine("api:443", count(2, 2).build(), resetting, now);
    breaker[0] = b;
    calls(b, FAILED, 2);
    assertEquals(CLOSED, b.state());
    assertEquals(List.of("api:443 CLOSED->OPEN", "api:443 OPEN->CLOSED"),
        listener.transitions());
  }

  private static void await(CountDownLatch latch) {
    try {
      assertTrue(latch.await(30, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  // ---- time-based window ----

  private static CircuitBreaker.Builder time(int seconds, int min) {
    return count(seconds, Math.min(seconds, min)).slidingWindowType(WindowType.TIME_BASED)
        .minimumNumberOfCalls(min);
  }

  @Test
  void theTimeWindowOpensAtTheThresholdOnlyAfterTheMinimumCalls() {
    BreakerStateMachine b = breaker(time(10, 4));
    call(b, FAILED);
    now += 2 * S;
    call(b, FAILED);
    now += 2 * S;
    call(b, FAILED);
    assertEquals(CLOSED, b.state());
    now += 2 * S;
    call(b, SUCCESS);
    assertEquals(OPEN, b.state()); // 3 of 4 within 10 s
  }

  @Test
  void theTimeWindowForgetsCallsOlderThanItsLength() {
    BreakerStateMachine b = breaker(time(10, 4));
    calls(b, FAILED, 3);
    now += 10 * S;
    assertEquals(0, b.snapshot(now).calls());
    call(b, FAILED);
    assertEquals(CLOSED, b.state());
    assertEquals(1, b.snapshot(now).calls());
  }

  @Test
  void theTimeWindowKeepsCallsOfItsLastSeconds() {
    BreakerStateMachine b = breaker(time(10, 100));
    for (int second = 0; second < 25; second++) {
      calls(b, second % 2 == 0 ? FAILED : SUCCESS, 3);
      CircuitBreaker.Snapshot s = b.snapshot(now);
      int inWindow = Math.min(second + 1, 10);
      assertEquals(3 * inWindow, s.calls(), "second " + second);
      now += S;
    }
    // now is in second 25: 8 s more and the window holds seconds 24..33
    now += 8 * S;
    assertEquals(3, b.snapshot(now).calls());
    now += S;
    assertEquals(0, b.snapshot(now).calls());
  }

  @Test
  void theTimeWindowMayNeedMoreCallsThanItHasSeconds() {
    BreakerStateMachine b = breaker(time(2, 50));
    calls(b, FAILED, 49);
    assertEquals(CLOSED, b.state());
    call(b, FAILED);
    assertEquals(OPEN, b.state());
  }

  @Test
  void expiringSuccessesCanOpenTheTimeWindow() {
    BreakerStateMachine b = breaker(time(10, 4).failureRateThreshold(0.6));
    calls(b, SUCCESS, 5);
    now += 5 * S;
    calls(b, FAILED, 5);
    assertEquals(CLOSED, b.state()); // 50%
    now += 5 * S;
    call(b, SUCCESS); // the five early successes left the window: 5 of 6 failed
    assertEquals(OPEN, b.state());
  }

  @Test
  void slowCallsOpenTheTimeWindow() {
    BreakerStateMachine b = breaker(time(10, 2)
        .slowCallDuration(Duration.ofSeconds(1)).slowCallRateThreshold(0.5));
    call(b, SUCCESS);
    now += S;
    call(b, b.outcome(b.current(), false, 3 * S));
    assertEquals(OPEN, b.state());
  }

  @Test
  void theTimeWindowHalfOpensAndClosesLikeTheCountWindow() {
    BreakerStateMachine b = breaker(time(10, 2));
    calls(b, FAILED, 2);
    assertEquals(OPEN, b.state());
    now += 5 * S;
    calls(b, SUCCESS, 2);
    assertEquals(CLOSED, b.state());
    assertEquals(0, b.snapshot(now).calls());
  }

  private BreakerStateMachine timeBreaker() {
    return breaker(CircuitBreaker.builder().slidingWindowType(WindowType.TIME_BASED)
        .slidingWindowSize(10).minimumNumberOfCalls(5).failureRateThreshold(0.6));
  }

  @Test
  void successesLeavingATimeWindowCanOpenItOnTheNextCall() {
    BreakerStateMachine b = timeBreaker();
    calls(b, SUCCESS, 10);                // second 0
    now += 5 * S;
    calls(b, FAILED, 10);                 // second 5: 10 of 20 failed, 50% < 60%
    assertEquals(CLOSED, b.state());
    now += 5 * S;                         // second 10: second 0 has left the window
    call(b, SUCCESS);                     // 10 failed of 11
    assertEquals(OPEN, b.state());
  }

  @Test
  void aSnapshotThatMovedTheTimeWindowDoesNotKeepItFromOpening() {
    BreakerStateMachine b = timeBreaker();
    calls(b, SUCCESS, 10);
    now += 5 * S;
    calls(b, FAILED, 10);
    now += 5 * S;
    assertEquals(1.0, b.snapshot(now).failureRate(), "looking moves the window on");
    call(b, SUCCESS);
    assertEquals(OPEN, b.state(), b.snapshot(now).toString());
  }

  @Test
  void eachSuccessGivesOnePassForACutShortAttemptUpToTheMinimumNumberOfCalls() {
    BreakerStateMachine b = breaker(count(10, 3));
    assertFalse(b.letOffCutShort(), "no success yet: no pass");
    for (int i = 0; i < 5; i++) {
      assertEquals(SUCCESS, b.outcome(b.current(), false, 0));
    }
    // Five successes, but at most three passes kept.
    assertTrue(b.letOffCutShort());
    assertTrue(b.letOffCutShort());
    assertTrue(b.letOffCutShort());
    assertFalse(b.letOffCutShort(), "a fourth cut with no success between counts");
    // A failure or a slow success gives none.
    b.outcome(b.current(), true, 0);
    b.outcome(b.current(), false, Long.MAX_VALUE);
    assertFalse(b.letOffCutShort());
    b.outcome(b.current(), false, 0);
    assertTrue(b.letOffCutShort());
  }
}
