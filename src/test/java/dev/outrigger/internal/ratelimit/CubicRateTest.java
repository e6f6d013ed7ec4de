package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CubicRateTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;
  /** The key's ceiling: the rate it is configured with. */
  private static final double CEIL = 100;

  @Test
  void aThrottleCutsTheRateToSeventyPercentOncePerBurst() {
    CubicRate c = new CubicRate(10);
    assertEquals(100, c.rate("h", CEIL), 1e-9);
    assertEquals(70, c.throttled("h", 10 * S, CEIL), 1e-9);
    assertTrue(Double.isNaN(c.throttled("h", 10 * S + 50 * MS, CEIL)), "one cut per 100 ms");
    assertEquals(70, c.rate("h", CEIL), 1e-9);
    // 100 ms later the rate had begun to recover along the curve; the next cut takes 70% of that.
    double k = Math.cbrt(100 * (1 - CubicRate.BETA) / CubicRate.C);
    double recovered = CubicRate.C * Math.pow(0.1 - k, 3) + 100;
    assertEquals(0.7 * recovered, c.throttled("h", 10 * S + 100 * MS, CEIL), 1e-6,
        "a later throttle cuts again");
  }

  @Test
  void theRateRecoversAlongCubicsCurveAndReachesTheLastThrottledRateAtK() {
    CubicRate c = new CubicRate(10);
    c.throttled("h", 0, CEIL);
    double k = Math.cbrt(100 * (1 - CubicRate.BETA) / CubicRate.C); // about 4.2 s
    double early = c.accepted("h", 1 * S, CEIL);
    double expectedEarly = CubicRate.C * Math.pow(1 - k, 3) + 100;
    assertEquals(expectedEarly, early, 1e-6);
    assertTrue(early > 70 && early < 100, "climbs fast at first: " + early);
    double atK = c.accepted("h", (long) (k * S), CEIL);
    assertEquals(100, atK, 1e-6, "back at the configured rate at K");
    assertEquals(100, c.rate("h", CEIL), 1e-9);
  }

  @Test
  void neverExceedsTheConfiguredRateNorFallsBelowOnePercent() {
    CubicRate c = new CubicRate(10);
    long t = 0;
    for (int i = 0; i < 50; i++) {
      c.throttled("h", t, CEIL);
      t += 200 * MS;
    }
    assertEquals(1, c.rate("h", CEIL), 1e-9, "floor: 1% of the configured rate");
    double r = c.accepted("h", t + 3600 * S, CEIL);
    assertEquals(100, r, 1e-9, "an hour later: the configured rate, never above");
  }

  @Test
  void smallMovesAreNotReported() {
    CubicRate c = new CubicRate(10);
    c.throttled("h", 0, CEIL);
    assertTrue(Double.isNaN(c.accepted("h", 1, CEIL)), "a nanosecond later nothing moved");
    assertTrue(Double.isNaN(c.accepted("other", 5 * S, CEIL)),
        "an untouched key has nothing to report");
  }

  @Test
  void keysAreIndependentAndBounded() {
    CubicRate c = new CubicRate(2);
    c.throttled("a", 0, 10);
    assertEquals(10, c.rate("b", 10), 1e-9);
    c.throttled("b", 0, 10);
    assertTrue(Double.isNaN(c.throttled("c", 0, 10)), "past maxKeys a new key is not adapted");
    assertEquals(10, c.rate("c", 10), 1e-9);
    assertEquals(7, c.rate("a", 10), 1e-9, "keys already adapting keep their state");
    c.accepted("a", 3600 * S, 10);
    assertEquals(7, c.throttled("c", 3600 * S, 10), 1e-9, "a recovered key frees its place");
  }

  @Test
  void aLoweredCeilingCapsTheRateAtOnceAndEndsTheAdaptationWhenItIsBelowIt() {
    CubicRate c = new CubicRate(10);
    assertEquals(70, c.throttled("h", 0, 100), 1e-9);
    assertEquals(50, c.rate("h", 50), 1e-9, "under a ceiling of 50 the key may use 50");
    assertEquals(60, c.rate("h", 60), 1e-9);
    assertEquals(70, c.rate("h", 100), 1e-9);
    // The next answer under the lower ceiling: at the ceiling, so the key is done adapting.
    assertEquals(50, c.accepted("h", 1, 50), 1e-9);
    assertEquals(100, c.rate("h", 100), 1e-9, "a key done adapting follows its ceiling");
    // A throttle under the lowered ceiling cuts from it, and the floor is 1% of it.
    assertEquals(35, c.throttled("h", S, 50), 1e-9);
  }

  @Test
  void aRaisedCeilingLetsTheRateRecoverPastTheOldOneAndNoFurtherThanTheNew() {
    CubicRate c = new CubicRate(10);
    c.throttled("h", 0, 100);
    // Under a ceiling of 200 the rate goes on from 70 along the same curve, past 100 (CUBIC's
    // convex probing), and stops at 200.
    double k = Math.cbrt(100 * (1 - CubicRate.BETA) / CubicRate.C);
    double at = CubicRate.C * Math.pow(8 - k, 3) + 100;
    assertTrue(at > 100 && at < 200, "the curve 8 s on: " + at);
    assertEquals(at, c.accepted("h", 8 * S, 200), 1e-6);
    assertEquals(200, c.accepted("h", 60 * S, 200), 1e-9, "a minute on: the new ceiling");
    assertEquals(200, c.rate("h", 200), 1e-9);
  }

  @Test
  void anEndedAdaptationReadsAsNotAdaptingWhateverTheCeilingIsThen() {
    CubicRate c = new CubicRate(10);
    assertTrue(Double.isNaN(c.rate("h")), "never cut: not adapting");
    c.throttled("h", 0, 100);
    assertEquals(70, c.rate("h"), 1e-9);
    assertTrue(c.adapting("h"));
    // Recovered under a ceiling of 100 read before an operator raised the key to 200: what the
    // client then writes must not depend on that stale ceiling. The key is simply not adapting.
    assertEquals(100, c.accepted("h", 60 * S, 100), 1e-9);
    assertTrue(Double.isNaN(c.rate("h")), "done: the key follows whatever its ceiling is now");
    assertTrue(!c.adapting("h"));
    assertEquals(200, c.rate("h", 200), 1e-9);
  }

  @Test
  void aThrottleRacingTheAnswerThatEndsTheAdaptationIsNeverLost() throws Exception {
    // Two real threads: the cut a throttle reports must be the one in force afterwards.
    int lost = 0;
    for (int i = 0; i < 3_000; i++) {
      CubicRate c = new CubicRate(10);
      c.throttled("h", 0, 100);
      long t = 60 * S; // far enough on that accepted() ends the adaptation
      java.util.concurrent.CyclicBarrier go = new java.util.concurrent.CyclicBarrier(2);
      double[] cut = new double[1];
      Thread other = Thread.ofPlatform().start(() -> {
        try {
          go.await();
        } catch (Exception e) {
          throw new AssertionError(e);
        }
        cut[0] = c.throttled("h", t, 100);
      });
      go.await();
      c.accepted("h", t, 100);
      other.join();
      if (!Double.isNaN(cut[0]) && Double.compare(c.rate("h"), cut[0]) != 0) {
        lost++;
      }
    }
    assertEquals(0, lost, "cuts reported but not in force");
  }
}
