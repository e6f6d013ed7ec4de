package dev.outrigger;

/**
 * The call's deadline ran out: during an attempt (the in-flight exchange is cancelled and its
 * socket closed), a backoff, or a wait for a permit. The cause is the last failure, if any.
 */
public class DeadlineExceededException extends ApiException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception for a call whose deadline ran out.
   *
   * @param message where the deadline ran out (method, redacted URL)
   * @param cause the call's last failure, or null
   * @param attempts attempts sent to the network before the deadline ran out
   */
  public DeadlineExceededException(String message, Throwable cause, int attempts) {
    super(message, cause, attempts);
  }
}
