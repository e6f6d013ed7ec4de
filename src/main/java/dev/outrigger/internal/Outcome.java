package dev.outrigger.internal;

import dev.outrigger.CircuitOpenException;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.DeserializationException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimitedException;
import dev.outrigger.TransportException;

/**
 * The few words metrics and JFR events use to say how a call or attempt ended. The set is closed
 * (it never grows with the input), so it is safe as a metric tag.
 */
public final class Outcome {
  private static final String[] STATUS = new String[600];

  static {
    for (int i = 100; i < STATUS.length; i++) {
      STATUS[i] = Integer.toString(i);
    }
  }

  private Outcome() {}

  /**
   * {@code SUCCESS}, {@code INFORMATIONAL}, {@code REDIRECTION}, {@code CLIENT_ERROR} or
   * {@code SERVER_ERROR} when the call (or attempt) ended with a response; otherwise what stopped
   * it: a {@link TransportException.Kind} name ({@code CONNECT}, {@code TLS}, {@code TIMEOUT},
   * {@code IO}, {@code CANCELLED}, {@code PROTOCOL}), {@code DEADLINE_EXCEEDED}, {@code RATE_LIMITED},
   * {@code CIRCUIT_OPEN}, {@code DESERIALIZATION}, or {@code ERROR} for anything else.
   *
   * @param status the HTTP status, or a negative number when none arrived
   * @param error null when the call succeeded or a response ended the attempt
   */
  public static String of(int status, Throwable error) {
    if (error == null || error instanceof HttpStatusException) {
      if (status >= 100 && status < 600) {
        return switch (status / 100) {
          case 1 -> "INFORMATIONAL";
          case 2 -> "SUCCESS";
          case 3 -> "REDIRECTION";
          case 4 -> "CLIENT_ERROR";
          default -> "SERVER_ERROR";
        };
      }
      // A status outside 100-599 (HTTP/1.1 600, say): ERROR, for the attempt as for its call.
      return "ERROR";
    }
    if (error instanceof TransportException te) {
      return te.kind().name();
    }
    if (error instanceof DeadlineExceededException) {
      return "DEADLINE_EXCEEDED";
    }
    if (error instanceof RateLimitedException) {
      return "RATE_LIMITED";
    }
    if (error instanceof CircuitOpenException) {
      return "CIRCUIT_OPEN";
    }
    if (error instanceof DeserializationException) {
      return "DESERIALIZATION";
    }
    return "ERROR";
  }

  /** The status as a tag: {@code "200"}, or {@code "NONE"} when no valid status arrived. */
  public static String status(int status) {
    return status >= 100 && status < 600 ? STATUS[status] : "NONE";
  }
}
