package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WatchdogKeeperTest {
  @Test
  void theSentinelRunsWhileAnyUserHoldsItAndStopsAfterTheLastRelease() {
    boolean before = WatchdogKeeper.running();
    WatchdogKeeper.acquire();
    WatchdogKeeper.acquire();
    assertTrue(WatchdogKeeper.running());
    WatchdogKeeper.release();
    assertTrue(WatchdogKeeper.running(), "one user still holds it");
    WatchdogKeeper.release();
    assertEquals(before, WatchdogKeeper.running(), "back to how it was before this test");
  }
}
