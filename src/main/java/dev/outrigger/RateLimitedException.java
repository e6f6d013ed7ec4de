package dev.outrigger;

import java.time.Duration;

/**
 * A rate limit refused a permit: the wait for it could not fit in the caller's deadline (or the
 * standalone {@link RateLimiter}'s timeout), or more permits were asked than the burst allows.
 * Nothing was consumed. {@link #wouldWait()} says how long the wait would have been; it is null
 * when no wait would do: more permits than the burst, a refusal by the client-side throttle, or
 * by a shared store (Redis did not answer in the time the call had left, or it is down and the
 * store fails fast).
 */
public class RateLimitedException extends ApiException {
  private static final long serialVersionUID = 1L;

  /** How long the wait for a permit would have been, or null. */
  private final Duration wouldWait;

  /**
   * Creates the exception for a refused permit.
   *
   * @param message what was refused and why
   * @param wouldWait how long the wait would have been; {@code null} when no wait could ever do
   * @param attempts attempts sent to the network before this refusal
   */
  public RateLimitedException(String message, Duration wouldWait, int attempts) {
    super(message, null, attempts);
    this.wouldWait = wouldWait;
  }

  /** How long the wait for a permit would have been; {@code null} when no wait could ever do. */
  public Duration wouldWait() {
    return wouldWait;
  }
}
