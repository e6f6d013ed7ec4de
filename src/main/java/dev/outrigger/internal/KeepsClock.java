package dev.outrigger.internal;

/**
 * Marks an interceptor of Outrigger's own chain that does not block or do I/O, or that calls
 * {@link RealCallContext#staleClock()} after anything that may (a wait for a permit or a slot,
 * a backoff sleep, a user's key function, a listener called before the attempt goes on): a clock
 * reading taken before it still stands for "now" after it. The chain marks the shared reading
 * stale around every other interceptor (a user's interceptor, an auth refresh, a shared
 * rate-limit store) and when such an interceptor proceeds, since those may take any time; the
 * client marks it stale after a user's {@code callStart} listener.
 *
 * <p>Why: {@code System.nanoTime()} costs ~20-30 ns on these virtual machines, and the breaker,
 * the rate limiter and the transport each need "now" when an attempt starts, the breaker and
 * the transport again when it ends. They share the call's start reading and the transport's end
 * reading ({@link RealCallContext#recentNanos()}) instead of taking five of their own.
 *
 * <p>The bound this accepts: Outrigger's own work between two readings (building the request
 * and the context, walking the chain; microseconds at worst, when the thread is descheduled)
 * is not seen by the deadline check before sending, nor by the budget a propagated deadline
 * header carries. A client with a user listener or interceptor, where user code may run
 * anywhere, has the transport read the clock itself before every attempt.
 */
public interface KeepsClock {}
