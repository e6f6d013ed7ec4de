package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.AdaptiveLimit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Two samples of one host racing to move its slots to the estimator's limit: the slots end at
 * the latest limit, whichever caller's compare-and-set lands last. The race is played on one
 * thread, at the one point where it matters: the second caller runs inside the first one's
 * read of the limit, as another thread would between that read and the first caller's CAS.
 */
class AdaptiveApplyRaceTest {
  @Test
  void aLimitReadBeforeAnotherSampleAppliedANewerOneDoesNotStand() {
    AtomicInteger estimator = new AtomicInteger(10);
    InFlightLimiter.Host[] host = new InFlightLimiter.Host[1];
    boolean[] second = new boolean[1];
    boolean[] raced = new boolean[1];
    host[0] = new InFlightLimiter.Host(10,
        new VegasLimit(AdaptiveLimit.vegas().min(2).initial(10), () -> 0L),
        () -> {
          int read = estimator.get();
          if (read == 11 && !raced[0]) {
            raced[0] = true;
            // The second sample moves the estimator to 12 and applies it, all before the
            // first caller's CAS.
            estimator.set(12);
            second[0] = host[0].apply();
          }
          return read;
        });

    estimator.set(11); // the first sample moved the estimator to 11
    boolean first = host[0].apply();

    assertTrue(second[0], "the second caller applied 12");
    assertEquals(12, host[0].limitNow(), "the slots follow the latest limit, not the stale 11");
    assertEquals(12, host[0].slots.availablePermits());
    // The first caller moved it to 11 and back to 12 itself: a report made in between may have
    // carried its 11, so it must look at what was reported too.
    assertTrue(first, "the first caller's moves count, though they cancel out");
  }
}
