package dev.outrigger;

/**
 * The response arrived but its body could not be turned into the requested type: malformed or
 * mismatched JSON, nesting or size beyond the configured bounds. Never retried.
 */
public class DeserializationException extends ApiException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception for a body that could not be decoded.
   *
   * @param message what could not be decoded and why (method, redacted URL, status)
   * @param cause the decoder's failure, or null
   * @param attempts attempts sent to the network so far
   */
  public DeserializationException(String message, Throwable cause, int attempts) {
    super(message, cause, attempts);
  }
}
