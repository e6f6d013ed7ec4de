package dev.outrigger;

import dev.outrigger.internal.ExceptionAccess;

/**
 * The root of every failure an Outrigger call reports. Unchecked, like OkHttp's callers expect
 * of a high-level client; catch a subclass to react to one kind of failure.
 *
 * <p>{@link #attempts()} tells how many attempts were actually sent to the network before the
 * call failed: 0 for a call refused before sending (an open circuit breaker, a rate-limit wait
 * that cannot fit in the deadline). When retries run out, the call throws its last failure with
 * the earlier ones attached as {@linkplain #getSuppressed() suppressed} exceptions, and the
 * message says how many attempts were made.
 *
 * <p>Messages never contain secrets: credentials, cookies and configured query parameters are
 * redacted before they reach a message.
 */
public class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  static {
    ExceptionAccess.register((e, attempts, note) -> {
      e.attempts = attempts;
      if (note != null && !note.isEmpty()) {
        e.note = e.note == null ? note : e.note + "; " + note;
      }
    });
  }

  /** Attempts sent to the network before the call failed. */
  private volatile int attempts;
  /** A note appended to the message (why the call stopped, say), or null. */
  private volatile String note;

  /**
   * Creates an exception for a failed call.
   *
   * @param message what happened and where (method, redacted URL)
   * @param cause the underlying failure, or null
   * @param attempts attempts sent to the network before this failure
   */
  protected ApiException(String message, Throwable cause, int attempts) {
    super(message, cause);
    this.attempts = attempts;
  }

  /** How many attempts the call sent to the network before it failed (0 when none was sent). */
  public int attempts() {
    return attempts;
  }

  @Override
  public String getMessage() {
    String m = super.getMessage();
    String n = note;
    return n == null ? m : m + " (" + n + ")";
  }
}
