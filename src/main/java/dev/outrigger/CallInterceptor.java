package dev.outrigger;

import okhttp3.Request;
import okhttp3.Response;

/**
 * A step in Outrigger's policy chain: it sees the request, may change it, calls
 * {@link Chain#proceed} to go on, and returns the response. It may proceed more than once (send,
 * look, send again: each time is one more pass through the steps inside it, and, from a
 * call-level interceptor, one more round of attempts), or not at all (an answer of its own).
 *
 * <p>The chain, outer to inner, is
 * {@code deadline -> call interceptors -> retry -> circuit breaker -> rate limiter -> in-flight
 * limit -> attempt interceptors -> OkHttp}. Interceptors added with
 * {@link ApiClient.Builder#addCallInterceptor} run once per logical call; those added with
 * {@link ApiClient.Builder#addAttemptInterceptor} run once per attempt, retries included.
 *
 * <p>Responses that reach an interceptor have their body already buffered in memory (bounded by
 * {@link ApiClient.Builder#maxResponseBytes}), so an interceptor may read it or drop it freely.
 * To fail, throw an {@link ApiException}; any other runtime exception propagates to the caller
 * unchanged.
 */
@FunctionalInterface
public interface CallInterceptor {

  /**
   * Handles one call (or one attempt, for an attempt interceptor).
   *
   * @param chain the request, the call's context, and the rest of the chain
   * @return the response, usually the one {@link Chain#proceed} returned
   */
  Response intercept(Chain chain);

  /**
   * What an interceptor sees: the request so far, the call's context, and the rest. It is the
   * call's own state, not a copy per step: use it on the calling thread, within
   * {@code intercept}. {@link #request()} returns the request this interceptor was given, before
   * and after it proceeds, whatever the interceptors inside it did with theirs.
   */
  interface Chain {
    /** The request this interceptor was given, before and after it proceeds. */
    Request request();

    /** The call's context: method, URL, host, attempt, deadline and attributes. */
    CallContext context();

    /** Runs the rest of the chain with {@code request}. */
    Response proceed(Request request);
  }
}
