package dev.outrigger;

/**
 * The call failed below HTTP: the connection was refused or reset, TLS failed, the host is
 * unknown, an attempt timed out, or the body could not be read. The cause is the underlying
 * {@link java.io.IOException}; {@link #kind()} classifies it. A call whose thread was interrupted
 * ends with kind {@link Kind#CANCELLED}, and the thread's interrupt status is kept; so does a
 * call whose client was closed while it waited, its thread's interrupt status left as it was.
 */
public class TransportException extends ApiException {
  private static final long serialVersionUID = 1L;

  /** What kind of transport failure this was. */
  public enum Kind {
    /** No connection was made: refused, unreachable, unknown host, connect timeout. */
    CONNECT,
    /** The TLS handshake failed (for example an untrusted certificate). Never retried. */
    TLS,
    /** The attempt's own timeout (not the call's deadline) ran out. */
    TIMEOUT,
    /** The connection broke during the exchange: reset, truncated body, unexpected end. */
    IO,
    /**
     * The calling thread was interrupted, or the client closed while the call waited; the call
     * was cancelled. Never retried.
     */
    CANCELLED,
    /**
     * The server's answer broke HTTP: a malformed status line or headers, or more redirects than
     * OkHttp follows (20); or a request that must be sent once (not idempotent, not opted in)
     * would have gone a second time to the same method and URL within its attempt (a redirect
     * loop, a re-send by OkHttp or an OkHttp interceptor), and was refused. Never retried: the
     * same request would break the same way.
     */
    PROTOCOL
  }

  /** What kind of transport failure this was. */
  private final Kind kind;

  /**
   * Creates the exception for a failure below HTTP.
   *
   * @param message what failed and where (method, redacted URL)
   * @param cause the underlying {@link java.io.IOException}, or null
   * @param attempts attempts sent to the network so far
   * @param kind what kind of transport failure this was
   */
  public TransportException(String message, Throwable cause, int attempts, Kind kind) {
    super(message, cause, attempts);
    this.kind = kind;
  }

  /** What kind of transport failure this was. */
  public Kind kind() {
    return kind;
  }
}
