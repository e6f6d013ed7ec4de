package dev.outrigger;

/**
 * The call's deadline ran out: during an attempt (the in-flight exchange is cancelled and its
 * socket closed), a backoff, or a wait for a permit. The cause is the last failure, if any.
 */
public class DeadlineExceededException extends ApiException {
  private static final long serialVersionUID = 1L;

  public DeadlineExceededException(String message, Throwable cause, int attempts) {
    super(message, cause, attempts);
  }
}
