package dev.outrigger;

/**
 * How a retry delay is randomised, as defined in Marc Brooker's "Exponential Backoff And Jitter"
 * (AWS Architecture Blog). With {@code base} the initial delay, {@code cap} the maximum and
 * {@code exp = min(cap, base * multiplier^(retry-1))}:
 * <ul>
 *   <li>{@link #NONE}: {@code exp}</li>
 *   <li>{@link #FULL} (the default): uniform in {@code [0, exp]}</li>
 *   <li>{@link #EQUAL}: {@code exp/2 + uniform in [0, exp/2]}</li>
 *   <li>{@link #DECORRELATED}: {@code min(cap, uniform in [base, previous * 3])}</li>
 * </ul>
 */
public enum Jitter {
  NONE,
  FULL,
  EQUAL,
  DECORRELATED
}
