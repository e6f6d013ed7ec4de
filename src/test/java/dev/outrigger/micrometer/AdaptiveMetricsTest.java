package dev.outrigger.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** The adaptive values as gauges, fed by the listener events the client sends. */
class AdaptiveMetricsTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @Test
  void adaptiveLimitAndThrottleProbabilityAreGaugesPerHostFollowingTheLastEvent() {
    OutriggerMetrics m = OutriggerMetrics.of(registry);
    m.adaptiveLimitChanged("a:80", 20, 27);
    m.adaptiveLimitChanged("a:80", 27, 13);
    m.throttleProbability("a:80", 0.25, 40, 15);
    m.throttleProbability("a:80", 0.5, 60, 15);
    assertEquals(13, registry.get("outrigger.inflight.limit").tag("host", "a:80").gauge().value());
    assertEquals(0.5,
        registry.get("outrigger.throttle.probability").tag("host", "a:80").gauge().value());
  }

  @Test
  void hostsBeyondTheBoundGetNoGauge() {
    OutriggerMetrics m = OutriggerMetrics.builder(registry).maxHosts(1).build();
    m.adaptiveLimitChanged("a:80", 20, 27);
    m.adaptiveLimitChanged("b:80", 20, 10);
    assertEquals(1, registry.find("outrigger.inflight.limit").gauges().size());
    assertNull(registry.find("outrigger.inflight.limit").tag("host", "other").gauge());
  }
}
