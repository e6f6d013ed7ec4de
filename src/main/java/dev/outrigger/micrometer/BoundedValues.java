package dev.outrigger.micrometer;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Admits at most {@code max} distinct tag values, first come first served, and folds every later
 * one into {@link #OTHER}, so a client that talks to many hosts cannot flood the registry.
 * Thread-safe; a value once admitted stays admitted. Two threads racing to admit the same new
 * value may both take a slot, so a few slots can go unused; the bound holds regardless.
 */
final class BoundedValues {
  static final String OTHER = "other";

  private final int max;
  private final ConcurrentHashMap<String, String> admitted = new ConcurrentHashMap<>();
  private final AtomicInteger slotsTaken = new AtomicInteger();

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
    int slot = slotsTaken.getAndUpdate(n -> n < max ? n + 1 : n);
    if (slot >= max) {
      return OTHER;
    }
    admitted.putIfAbsent(value, value);
    return value;
  }
}
