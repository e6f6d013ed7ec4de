package dev.outrigger.internal;

/**
 * The failures of a loop that must run every step whatever one throws (close hooks, a closing
 * client's breakers, a cancelled batch's queue): the first is thrown once the loop is done, the
 * others suppressed into it. Not thread-safe: one loop's own.
 */
public final class FirstFailure {
  private Throwable first;

  /** Keeps {@code t}: as the first, or suppressed into it. */
  public void add(Throwable t) {
    if (first == null) {
      first = t;
    } else if (first != t) {
      first.addSuppressed(t);
    }
  }

  /** Throws the first failure kept, if any (each caller catches only unchecked ones). */
  public void rethrow() {
    if (first instanceof RuntimeException r) {
      throw r;
    }
    if (first instanceof Error e) {
      throw e;
    }
    if (first != null) {
      throw new IllegalStateException(first);
    }
  }
}
