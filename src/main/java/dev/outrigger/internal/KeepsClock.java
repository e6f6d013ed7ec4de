package dev.outrigger.internal;

/**
 * Marks an interceptor of Outrigger's own chain that does not block or do I/O, or that calls
 * {@link RealCallContext#staleClock()} after anything that may (a wait for a permit or a slot,
 * a backoff sleep): a clock reading taken before it still stands for "now" after it, give or
 * take the user callbacks it runs (a key function, a listener), which are expected to be quick.
 * The chain marks the shared reading stale around every other interceptor (a user's
 * interceptor, an auth refresh, a shared rate-limit store), since those may take any time.
 *
 * <p>Why: {@code System.nanoTime()} costs ~30 ns on these virtual machines, and the breaker and
 * the rate limiter each need "now" when an attempt starts, the breaker again when it ends. They
 * share the call's start reading and the transport's end reading
 * ({@link RealCallContext#recentNanos()}) instead of taking three of their own. The transport
 * always reads the clock itself before sending, so a slow callback can at worst skew a policy's
 * own measure (a breaker's slow-call time, a token bucket's "now", which only errs towards
 * granting fewer permits), never the deadline a request is sent with.
 */
public interface KeepsClock {}
