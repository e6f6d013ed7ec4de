package dev.outrigger.micrometer;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Admits at most {@code max} distinct tag values, first come first served, and folds every later
 * one into {@link #OTHER}, so a client that talks to many hosts cannot flood the registry.
 * Thread-safe; a value once admitted stays admitted, and a value is either admitted or folded,
 * never both: threads admitting the same new value at once take one slot, and all get it.
 */
final class BoundedValues {
  static final String OTHER = "other";

  private final int max;
  private final ConcurrentHashMap<String, String> admitted = new ConcurrentHashMap<>();
  private final AtomicInteger slotsTaken = new AtomicInteger();
  /** The values in the map: reaches {@code max} only once every admitted value is in. */
  private final AtomicInteger admittedCount = new AtomicInteger();

  BoundedValues(int max) {
    this.max = max;
  }

  String bound(String value) {
    if (value == null) {
      return "none";
    }
    String known = admitted.get(value);
    if (known != null) {
      return known;
    }
    if (admittedCount.get() >= max) {
      // Full: a folded value costs two reads, no write. Every admitted value is in the map by
      // now (counted once it is in), so a value admitted since the first look is found here.
      known = admitted.get(value);
      return known != null ? known : OTHER;
    }
    // The slot is taken inside the map's one computation for the value: a thread admitting the
    // same value meanwhile waits for it and gets the value, not OTHER, and takes no slot.
    boolean[] took = new boolean[1];
    known = admitted.computeIfAbsent(value, v -> {
      if (slotsTaken.getAndUpdate(n -> n < max ? n + 1 : n) < max) {
        took[0] = true;
        return v;
      }
      return null;
    });
    if (took[0]) {
      admittedCount.incrementAndGet();
    }
    return known != null ? known : OTHER;
  }
}
