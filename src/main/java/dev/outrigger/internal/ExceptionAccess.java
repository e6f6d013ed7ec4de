package dev.outrigger.internal;

import dev.outrigger.ApiException;

/**
 * Lets the internals finish an {@link ApiException} (the attempt count, a note on why the call
 * stopped) without making those setters public API. {@code ApiException} registers the accessor
 * in its static initializer (the JDK's "shared secrets" pattern).
 */
public final class ExceptionAccess {
  /** Implemented by {@code ApiException}. */
  public interface Accessor {
    void finish(ApiException e, int attempts, String note);
  }

  private static volatile Accessor accessor;

  private ExceptionAccess() {}

  public static void register(Accessor a) {
    accessor = a;
  }

  /**
   * Sets {@code e}'s attempt count and appends {@code note} (may be null) to its message.
   * Returns {@code e} so callers can {@code throw ExceptionAccess.finish(...)}.
   */
  public static <E extends ApiException> E finish(E e, int attempts, String note) {
    accessor.finish(e, attempts, note);
    return e;
  }
}
