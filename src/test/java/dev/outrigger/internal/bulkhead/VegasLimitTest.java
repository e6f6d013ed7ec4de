package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The Vegas estimator against scripted latencies on a clock moved by hand. */
class VegasLimitTest {
  private static final long MS = 1_000_000L;

  private final AtomicLong now = new AtomicLong(1_000 * MS);

  /** One attempt sent now with {@code inFlight} in flight, answered after {@code rttMs}. */
  private int answer(VegasLimit v, long rttMs, int inFlight, boolean dropped) {
    long start = now.get();
    now.addAndGet(rttMs * MS);
    return v.onSample(start, inFlight, dropped);
  }

  /**
   * One round trip of a fully used limit: {@code limit()} attempts sent together, all answered
   * after {@code rttMs}.
   */
  private int busy(VegasLimit v, long rttMs) {
    return round(v, rttMs, v.limit());
  }

  private int round(VegasLimit v, long rttMs, int inFlight) {
    long start = now.get();
    now.addAndGet(rttMs * MS);
    int n = v.limit();
    int limit = n;
    for (int i = 0; i < n; i++) {
      limit = v.onSample(start, inFlight, false);
    }
    return limit;
  }

  private VegasLimit vegas(AdaptiveLimit cfg) {
    return new VegasLimit(cfg, now::get);
  }

  @Test
  void growsWhileLatencyStaysAtItsMinimum() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().min(1).max(1000).initial(20));
    int previous = v.limit();
    for (int i = 0; i < 10; i++) {
      int next = busy(v, 10);
      assertTrue(next > previous, "sample " + i + ": " + previous + " -> " + next);
      previous = next;
    }
    // Without queueing each round trip adds 6 x log10(limit): 20 -> 27 -> 36 ...
    assertTrue(previous >= 100, "after ten healthy round trips: " + previous);
  }

  @Test
  void oneRoundTripWithoutQueueingGrowsByTheNoQueueStep() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().initial(20));
    // The first answer sets the floor to its own latency: no queue. Each of the round's 20
    // answers adds its share of 6 x log10(20) = 7.8.
    assertEquals(20, answer(v, 10, 20, false));
    assertEquals(10 * MS, v.noLoadRttNanos());
    assertEquals(27, busy(v, 10));
  }

  @Test
  void shrinksWhenQueueingShowsUntilTheQueueFitsTheTargetBand() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().min(1).max(1000).initial(100));
    busy(v, 10); // floor 10 ms; limit grows to 112
    int before = v.limit();
    // 30 ms at a 10 ms floor: two thirds of the attempts in flight were queued, ~75 of 112;
    // one round trip drains about half the excess.
    int after = busy(v, 30);
    assertTrue(after < before - 25, before + " -> " + after);
    for (int i = 0; i < 20; i++) {
      busy(v, 30);
    }
    // Settled where two thirds of the limit is at most 6 x max(1, log10 L): L <= 9.
    int settled = v.limit();
    assertTrue(settled >= 6 && settled <= 9, "settled at " + settled);
    assertEquals(settled, busy(v, 30));
  }

  @Test
  void holdsInTheTargetBand() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().min(1).max(1000).initial(100));
    busy(v, 10);
    int limit = v.limit(); // 112, log10 ~ 2.05: band of 6.1 to 12.3 queued
    // queue = 112 x (1 - 10/11) = 10.2: inside the band, no change.
    assertEquals(limit, busy(v, 11));
    assertEquals(limit, busy(v, 11));
  }

  @Test
  void dropCutsTheLimitMultiplicativelyOncePerRoundTrip() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().min(1).max(1000).initial(100).backoffRatio(0.5));
    long sentBeforeCut = now.get();
    assertEquals(50, answer(v, 10, 100, true));
    // Sent before that cut: the overload it saw was already answered.
    now.addAndGet(MS);
    assertEquals(50, v.onSample(sentBeforeCut, 100, true));
    // Sent after the cut: cut again.
    assertEquals(25, answer(v, 10, 50, true));
  }

  @Test
  void respectsTheMinimumAndTheMaximum() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().min(5).max(40).initial(20).backoffRatio(0.5));
    for (int i = 0; i < 10; i++) {
      answer(v, 1, 20, true);
    }
    assertEquals(5, v.limit());
    for (int i = 0; i < 50; i++) {
      busy(v, 10);
    }
    assertEquals(40, v.limit());
    for (int i = 0; i < 60; i++) {
      assertTrue(busy(v, 100) >= 5);
    }
    // Latency alone stops at 6: 6 x (1 - 10/100) = 5.4 queued is inside the 3..6 target band.
    assertEquals(6, v.limit());
    answer(v, 1, 6, true);
    assertEquals(5, v.limit());
  }

  @Test
  void recoversAfterDropsOnceLatencyIsBackAtItsFloor() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().min(2).max(500).initial(200));
    busy(v, 10);
    for (int i = 0; i < 30; i++) {
      answer(v, 10, 200, true); // each sent after the previous cut
    }
    int cut = v.limit();
    assertTrue(cut < 20, "after 30 drops: " + cut);
    for (int i = 0; i < 40; i++) {
      busy(v, 10);
    }
    assertTrue(v.limit() >= 200, "recovered to " + v.limit());
  }

  @Test
  void doesNotGrowWhileLessThanHalfTheSlotsAreUsed() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().initial(20));
    for (int i = 0; i < 5; i++) {
      assertEquals(20, round(v, 10, 9));
    }
    assertEquals(27, busy(v, 10));
  }

  @Test
  void forgetsAnOldLatencyFloorAfterTwoWindows() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().min(1).max(1000).initial(100)
        .rttWindow(Duration.ofSeconds(1)));
    busy(v, 10);
    assertEquals(10 * MS, v.noLoadRttNanos());
    // The host is now slower for good: 40 ms. The old 10 ms floor makes that look like queueing.
    int shrunk = busy(v, 40);
    assertTrue(shrunk < 112);
    for (int i = 0; i < 60; i++) { // 2.4 s of 40 ms answers
      busy(v, 40);
    }
    assertEquals(40 * MS, v.noLoadRttNanos());
    int relearnt = v.limit();
    assertTrue(busy(v, 40) > relearnt, "grows again at the new floor");
  }

  @Test
  void smoothingMovesPartWayTowardsTheEstimate() {
    VegasLimit v = vegas(AdaptiveLimit.vegas().initial(100).smoothing(0.5).backoffRatio(0.5));
    // Estimate 50, smoothed halfway: 75.
    assertEquals(75, answer(v, 10, 100, true));
  }
}
