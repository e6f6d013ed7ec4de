package dev.outrigger;

/**
 * The response arrived but its body could not be turned into the requested type: malformed or
 * mismatched JSON, nesting or size beyond the configured bounds. Never retried.
 */
public class DeserializationException extends ApiException {
  private static final long serialVersionUID = 1L;

  public DeserializationException(String message, Throwable cause, int attempts) {
    super(message, cause, attempts);
  }
}
