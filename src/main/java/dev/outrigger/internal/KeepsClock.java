package dev.outrigger.internal;

/**
 * Marks an interceptor of Outrigger's own chain that takes no time of its own beyond a few
 * instructions, or that calls {@link RealCallContext#staleClock()} after anything that may
 * (a wait for a permit or a slot, a backoff sleep): a clock reading taken before it still holds
 * after it. The chain marks the shared reading stale around every other interceptor (a user's
 * interceptor, an auth refresh, a shared rate-limit store), since those may take any time.
 *
 * <p>Why: {@code System.nanoTime()} costs ~30 ns on these virtual machines, and the breaker, the
 * rate limiter and the transport each need "now" at the start of an attempt. They share one
 * reading ({@link RealCallContext#recentNanos()}) instead of taking three.
 */
public interface KeepsClock {}
