package dev.outrigger;

/**
 * The call's deadline ran out: during an attempt (the in-flight exchange is cancelled and its
 * socket closed), a backoff, a wait for a permit or a slot, or a wait for fresh credentials
 * after a 401 (the 401 is then the cause). The cause is the last failure, if any. An
 * attempt the deadline cut is no failure: the message says where it was cut ("while attempt 1
 * read the response body"), and the exception of the exchange the client cancelled, which says
 * nothing of the server, is suppressed; the cause is then the failure before it, or none. A
 * permit a rate limit refused as the deadline ran out is named too ("while waiting for a
 * rate-limit permit"), the {@link RateLimitedException} its cause.
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
