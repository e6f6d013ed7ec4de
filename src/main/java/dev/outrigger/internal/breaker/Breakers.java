package dev.outrigger.internal.breaker;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The breakers of one client, one per key, at most {@link CircuitBreaker#maxBreakers()} of them.
 *
 * <p>Breakers are created on first use. When a new key arrives and the map is full, the thread
 * that gets there first drops the least recently used eighth of the breakers: an O(n log n) pass
 * once every n/8 new keys, no background thread. Never dropped: a breaker forced open or
 * disabled by hand (kept even beyond the maximum), and one open or half-open that was used
 * within its {@code waitInOpenState} (dropping it would let a failing host's calls through
 * before its wait is over). A dropped breaker's in-flight calls still record into it; its next
 * call starts a fresh one. If no breaker can be dropped, a new key gets a breaker that is not
 * kept.
 *
 * <p>Thread-safe.
 */
public final class Breakers {
  private static final Logger LOG = LoggerFactory.getLogger(CircuitBreaker.class);

  private final CircuitBreaker config;
  private final CallListener listener;
  private final int max;
  /** The longest an open breaker may wait (its wait grows with a multiplier), saturated. */
  private final long maxOpenWaitNanos;
  private final ConcurrentHashMap<String, BreakerStateMachine> map = new ConcurrentHashMap<>();
  private final AtomicBoolean evicting = new AtomicBoolean();
  private volatile boolean warned;

  private record Candidate(String key, BreakerStateMachine breaker, long lastUsedNanos) {}

  public Breakers(CircuitBreaker config, CallListener listener) {
    this.config = config;
    this.listener = listener;
    this.max = config.maxBreakers();
    this.maxOpenWaitNanos = BreakerStateMachine.saturatedNanos(config.maxWaitInOpenState());
  }

  /** The breaker of {@code key}, created if needed, marked as used at {@code nowNanos}. */
  public BreakerStateMachine get(String key, long nowNanos) {
    BreakerStateMachine b = map.get(key);
    if (b == null) {
      b = create(key, nowNanos);
    }
    b.touch(nowNanos);
    return b;
  }

  /**
   * Sets {@code key}'s breaker by hand with {@code op} ({@code forceOpen}, {@code disable}): the
   * breaker is kept, even beyond the maximum, and replaces one a racing call made meanwhile.
   */
  public void setByHand(String key, long nowNanos,
      java.util.function.Consumer<BreakerStateMachine> op) {
    BreakerStateMachine b = map.computeIfAbsent(
        key, k -> new BreakerStateMachine(k, config, listener, nowNanos));
    b.touch(nowNanos);
    op.accept(b);
    // An eviction between the two steps (it was not yet set by hand) must not lose it.
    map.put(key, b);
  }

  /** The breaker of {@code key} if there is one. */
  public BreakerStateMachine find(String key) {
    return map.get(key);
  }

  /** Every breaker now kept. */
  public List<BreakerStateMachine> all() {
    return List.copyOf(map.values());
  }

  public int size() {
    return map.size();
  }

  public CircuitBreaker config() {
    return config;
  }

  private BreakerStateMachine create(String key, long now) {
    if (map.size() >= max) {
      evict(now);
    }
    BreakerStateMachine fresh = new BreakerStateMachine(key, config, listener, now);
    if (map.size() >= max && !map.containsKey(key)) {
      // Still full: every breaker was set by hand, or other threads just filled the room.
      return fresh;
    }
    BreakerStateMachine raced = map.putIfAbsent(key, fresh);
    return raced == null ? fresh : raced;
  }

  private void evict(long now) {
    if (!evicting.compareAndSet(false, true)) {
      return;
    }
    try {
      long wait = maxOpenWaitNanos;
      // Last-use times are copied first: they move while we sort.
      List<Candidate> candidates = new ArrayList<>();
      for (Map.Entry<String, BreakerStateMachine> e : map.entrySet()) {
        BreakerStateMachine b = e.getValue();
        long lastUsed = b.lastUsedNanos();
        CircuitBreaker.State state = b.state();
        boolean tripped = state == CircuitBreaker.State.OPEN
            || state == CircuitBreaker.State.HALF_OPEN;
        if (!b.isManual() && !(tripped && now - lastUsed < wait)) {
          candidates.add(new Candidate(e.getKey(), b, lastUsed));
        }
      }
      candidates.sort(Comparator.comparingLong(Candidate::lastUsedNanos));
      int drop = Math.min(candidates.size(), Math.max(1, max / 8));
      for (int i = 0; i < drop; i++) {
        map.remove(candidates.get(i).key(), candidates.get(i).breaker());
      }
      if (drop == 0 && !warned) {
        warned = true;
        LOG.warn("all {} circuit breakers are set by hand or open; breakers of new keys are not "
            + "kept until one can go (raise CircuitBreaker maxBreakers)", map.size());
      }
    } finally {
      evicting.set(false);
    }
  }
}
