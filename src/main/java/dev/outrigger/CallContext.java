package dev.outrigger;

import okhttp3.HttpUrl;

/**
 * What the policy chain knows about one logical call: its target, its deadline, which attempt is
 * running, and attributes that interceptors share. One instance per call, used by one thread at a
 * time (the calling thread).
 */
public interface CallContext {

  /** The HTTP method, upper case. */
  String method();

  /** The resolved request URL (before attempt interceptors change it). */
  HttpUrl url();

  /**
   * The target as {@code host:port} (an IPv6 literal in brackets: {@code [::1]:8080}), the
   * default key of rate limits, breakers and budgets.
   */
  String host();

  /** The attempt in progress, from 1; 0 before the first attempt starts. */
  int attempt();

  /** How many attempts were actually sent to the network so far. */
  int attemptsSent();

  /**
   * Whether the current (or last) attempt's request may have reached the server: OkHttp had a
   * connection and began writing it. False when the attempt failed before that (connection
   * refused, deadline spent while connecting), in which case the server cannot have acted on it.
   * Known once the attempt's OkHttp call has returned or failed (as an attempt interceptor's
   * {@code proceed} returns, and before the listener's {@code attemptEnd}).
   */
  boolean requestWritten();

  /**
   * The call's deadline: its own ({@code ApiRequest.deadline}, or the client's default when it
   * sets none), tightened by the enclosing {@link Deadline#within} scope, if any.
   */
  Deadline deadline();

  /**
   * Whether the call may be sent more than once: its method is idempotent, or it carries an
   * {@code Idempotency-Key}, or the caller opted in with {@link ApiRequest#retryable()}.
   */
  boolean idempotent();

  /**
   * An attribute set by the caller or an interceptor, or null. Names that begin with
   * {@code outrigger.} or {@code dev.outrigger.} are the library's own (its auth step and
   * Micrometer binder keep a call's state under them): do not set those.
   */
  Object attribute(String name);

  /** Sets an attribute visible to later interceptors of this call (see {@link #attribute}). */
  void attribute(String name, Object value);
}
