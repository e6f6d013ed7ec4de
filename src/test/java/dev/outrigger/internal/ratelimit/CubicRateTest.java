package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CubicRateTest {
  private static final long MS = 1_000_000L;
  private static final long S = 1_000_000_000L;

  @Test
  void aThrottleCutsTheRateToSeventyPercentOncePerBurst() {
    CubicRate c = new CubicRate(100, 10);
    assertEquals(100, c.rate("h"), 1e-9);
    assertEquals(70, c.throttled("h", 10 * S), 1e-9);
    assertTrue(Double.isNaN(c.throttled("h", 10 * S + 50 * MS)), "one cut per 100 ms");
    assertEquals(70, c.rate("h"), 1e-9);
    // 100 ms later the rate had begun to recover along the curve; the next cut takes 70% of that.
    double k = Math.cbrt(100 * (1 - CubicRate.BETA) / CubicRate.C);
    double recovered = CubicRate.C * Math.pow(0.1 - k, 3) + 100;
    assertEquals(0.7 * recovered, c.throttled("h", 10 * S + 100 * MS), 1e-6,
        "a later throttle cuts again");
  }

  @Test
  void theRateRecoversAlongCubicsCurveAndReachesTheLastThrottledRateAtK() {
    CubicRate c = new CubicRate(100, 10);
    c.throttled("h", 0);
    double k = Math.cbrt(100 * (1 - CubicRate.BETA) / CubicRate.C); // about 4.2 s
    double early = c.accepted("h", (long) (1 * S));
    double expectedEarly = CubicRate.C * Math.pow(1 - k, 3) + 100;
    assertEquals(expectedEarly, early, 1e-6);
    assertTrue(early > 70 && early < 100, "climbs fast at first: " + early);
    double atK = c.accepted("h", (long) (k * S));
    assertEquals(100, atK, 1e-6, "back at the configured rate at K");
    assertEquals(100, c.rate("h"), 1e-9);
  }

  @Test
  void neverExceedsTheConfiguredRateNorFallsBelowOnePercent() {
    CubicRate c = new CubicRate(100, 10);
    long t = 0;
    for (int i = 0; i < 50; i++) {
      c.throttled("h", t);
      t += 200 * MS;
    }
    assertEquals(1, c.rate("h"), 1e-9, "floor: 1% of the configured rate");
    double r = c.accepted("h", t + 3600 * S);
    assertEquals(100, r, 1e-9, "an hour later: the configured rate, never above");
  }

  @Test
  void smallMovesAreNotReported() {
    CubicRate c = new CubicRate(100, 10);
    c.throttled("h", 0);
    assertTrue(Double.isNaN(c.accepted("h", 1)), "a nanosecond later nothing moved");
    assertTrue(Double.isNaN(c.accepted("other", 5 * S)), "an untouched key has nothing to report");
  }

  @Test
  void keysAreIndependentAndBounded() {
    CubicRate c = new CubicRate(10, 2);
    c.throttled("a", 0);
    assertEquals(10, c.rate("b"), 1e-9);
    c.throttled("b", 0);
    assertTrue(Double.isNaN(c.throttled("c", 0)), "past maxKeys a new key is not adapted");
    assertEquals(10, c.rate("c"), 1e-9);
    assertEquals(7, c.rate("a"), 1e-9, "keys already adapting keep their state");
    c.accepted("a", 3600 * S);
    assertEquals(7, c.throttled("c", 3600 * S), 1e-9, "a recovered key frees its place");
  }
}
