package dev.outrigger;

/**
 * How a retry delay is randomised, as defined in Marc Brooker's "Exponential Backoff And Jitter"
 * (AWS Architecture Blog, 2015). With {@code base} the initial delay, {@code cap} the maximum,
 * {@code n} the retry number (1 for the first retry) and
 * {@code exp = min(cap, base * multiplier^(n-1))}:
 * <ul>
 *   <li>{@link #NONE}: {@code exp}</li>
 *   <li>{@link #FULL} (the default): uniform in {@code [0, exp]}</li>
 *   <li>{@link #EQUAL}: {@code exp/2 + uniform in [0, exp/2]}</li>
 *   <li>{@link #DECORRELATED}: {@code min(cap, uniform in [base, previous * 3])}, where
 *   {@code previous} is the delay before this one ({@code base} before the first retry); the
 *   multiplier does not apply</li>
 * </ul>
 *
 * <p>Jitter spreads the retries of many clients that failed together, so they do not return in
 * synchronised waves. In Brooker's contention simulation FULL and DECORRELATED both need far
 * less work than NONE; FULL finishes with the fewest calls, DECORRELATED a little sooner.
 * A server's {@code Retry-After} replaces the jittered delay.
 */
public enum Jitter {
  /** No randomness: the exponential delay itself. */
  NONE,
  /** Uniform between zero and the exponential delay (the default). */
  FULL,
  /** Half the exponential delay plus a uniform share of the other half. */
  EQUAL,
  /** Uniform between the base and three times the previous delay, capped. */
  DECORRELATED
}
