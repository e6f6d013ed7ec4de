package dev.outrigger.internal.breaker;

import dev.outrigger.CircuitBreaker;
import dev.outrigger.internal.NanoClock;
import java.time.Duration;

/**
 * {@link CircuitBreaker.Handle} over a client's {@link Breakers}: resolves its key on every use,
 * so it survives eviction. Looking does not create a breaker; taking it over by hand does.
 */
final class BreakerHandle implements CircuitBreaker.Handle {
  private final Breakers breakers;
  private final String key;
  private final NanoClock clock;

  BreakerHandle(Breakers breakers, String key, NanoClock clock) {
    this.breakers = breakers;
    this.key = key;
    this.clock = clock;
  }

  @Override
  public String key() {
    return key;
  }

  @Override
  public CircuitBreaker.Snapshot snapshot() {
    BreakerStateMachine b = breakers == null ? null : breakers.find(key);
    if (b != null) {
      return b.snapshot(clock.nanoTime());
    }
    CircuitBreaker.State s = breakers == null
        ? CircuitBreaker.State.DISABLED
        : CircuitBreaker.State.CLOSED;
    return new CircuitBreaker.Snapshot(key, s, 0, 0, 0, 0, 0, Duration.ZERO);
  }

  @Override
  public void forceOpen() {
    byHand().setByHand(key, clock.nanoTime(), BreakerStateMachine::forceOpen, "forced open");
  }

  @Override
  public void disable() {
    byHand().setByHand(key, clock.nanoTime(), BreakerStateMachine::disable, "disabled");
  }

  @Override
  public void reset() {
    if (breakers == null) {
      return;
    }
    breakers.checkOpen(key, "reset");
    BreakerStateMachine b = breakers.find(key);
    if (b != null) {
      b.reset(clock.nanoTime());
    }
  }

  private Breakers byHand() {
    if (breakers == null) {
      throw new IllegalStateException(
          "circuit breaking is off (CircuitBreaker.none()): there is no breaker for " + key);
    }
    return breakers;
  }

  @Override
  public String toString() {
    return "CircuitBreaker.Handle[" + key + "]";
  }
}
