/**
 * The public API of Outrigger, a client-side resilience library for Java 21+. An
 * {@link dev.outrigger.ApiClient} wraps one pooled OkHttp transport, and every call goes through
 * its policy chain: a {@link dev.outrigger.Deadline} for the whole call,
 * {@link dev.outrigger.Retry} with backoff and {@link dev.outrigger.Jitter}, a per-host
 * {@link dev.outrigger.CircuitBreaker}, a {@link dev.outrigger.RateLimit} (whose limiter also
 * works alone, as a {@link dev.outrigger.RateLimiter}), and an in-flight limit, static or
 * {@link dev.outrigger.AdaptiveLimit adaptive}. A call is an {@link dev.outrigger.ApiRequest}:
 * {@code execute} returns the decoded body, {@code send} an {@link dev.outrigger.ApiResponse}.
 * {@link dev.outrigger.CallInterceptor} and {@link dev.outrigger.CallListener} let user code step
 * into the chain or observe it. {@link dev.outrigger.FanOut} and {@link dev.outrigger.WaitGroup}
 * run batches of calls on virtual threads, inside the caller's deadline scope. Every failure is
 * unchecked and extends {@link dev.outrigger.ApiException}.
 */
package dev.outrigger;
