package dev.outrigger.internal.breaker;

import dev.outrigger.CircuitBreaker;
import dev.outrigger.internal.NanoClock;
import java.time.Duration;

/**
 * {@link CircuitBreaker.Handle} over a client's {@link Breakers}: resolves its key on every use,
 * so it survives eviction. Looking does not create a breaker; taking it over by hand does.
 */
final class BreakerHandle implements CircuitBreaker.Handle {
  private final BreakerInterceptor owner;
  private final Breakers breakers;
  private final String key;
  private final NanoClock clock;

  /** {@code breakers} is {@code owner}'s, null when circuit breaking is off. */
  BreakerHandle(BreakerInterceptor owner, Breakers breakers, String key, NanoClock clock) {
    this.owner = owner;
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
    byHand("forced open")
        .setByHand(key, clock.nanoTime(), BreakerStateMachine::forceOpen, "forced open");
  }

  @Override
  public void disable() {
    byHand("disabled")
        .setByHand(key, clock.nanoTime(), BreakerStateMachine::disable, "disabled");
  }

  @Override
  public void reset() {
    if (breakers == null) {
      // Nothing to reset, but a closed client's handle refuses as one with breakers does.
      checkClientOpen("reset");
      return;
    }
    breakers.checkOpen(key, "reset");
    BreakerStateMachine b = breakers.find(key);
    if (b != null) {
      b.reset(clock.nanoTime());
    }
  }

  /** The breakers to set {@code what} ("forced open") by hand in; throws when there are none. */
  private Breakers byHand(String what) {
    if (breakers == null) {
      // A closed client says so first, whether or not it has breakers.
      checkClientOpen(what);
      throw new IllegalStateException(
          "circuit breaking is off (CircuitBreaker.none()): there is no breaker for " + key);
    }
    return breakers;
  }

  /** Throws, as {@link Breakers#checkOpen} does, if the client closed (breaking off). */
  private void checkClientOpen(String what) {
    if (owner.isClientClosed()) {
      throw Breakers.closedClient(key, what);
    }
  }

  @Override
  public String toString() {
    return "CircuitBreaker.Handle[" + key + "]";
  }
}
