package dev.outrigger;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import okhttp3.Headers;

/**
 * A successful (2xx) response with its body mapped to {@code T}, as returned by
 * {@link ApiRequest#send(Class)}. Immutable; the body is already read and the connection
 * released.
 *
 * @param <T> the body type
 */
public final class ApiResponse<T> {
  private final int status;
  private final Headers headers;
  private final T body;
  private final int attempts;
  private final Duration elapsed;

  ApiResponse(int status, Headers headers, T body, int attempts, Duration elapsed) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.attempts = attempts;
    this.elapsed = elapsed;
  }

  /** The HTTP status, always 2xx. */
  public int status() {
    return status;
  }

  /**
   * The body as {@code T}: null for {@code Void}; for an empty body of a 204, a 205 or a HEAD,
   * null when mapped from JSON, {@code ""} for {@code String} and an empty array for
   * {@code byte[]}.
   */
  public T body() {
    return body;
  }

  /**
   * The first value of header {@code name} (case-insensitive), or null. (OkHttp's
   * {@code Headers.get} gives the last one; {@link #headers(String)} gives all of them.)
   *
   * @throws NullPointerException if {@code name} is null
   */
  public String header(String name) {
    return firstValue(headers, name);
  }

  /** The first value of header {@code name} (case-insensitive) in {@code headers}, or null. */
  static String firstValue(Headers headers, String name) {
    Objects.requireNonNull(name, "header name");
    for (int i = 0, n = headers.size(); i < n; i++) {
      if (headers.name(i).equalsIgnoreCase(name)) {
        return headers.value(i);
      }
    }
    return null;
  }

  /**
   * Every value of header {@code name} (case-insensitive).
   *
   * @throws NullPointerException if {@code name} is null
   */
  public List<String> headers(String name) {
    Objects.requireNonNull(name, "header name");
    return headers.values(name);
  }

  /** Every response header, as OkHttp's {@link Headers}. */
  public Headers headers() {
    return headers;
  }

  /** How many attempts the call sent, the successful one included. */
  public int attempts() {
    return attempts;
  }

  /** Time from the start of the call to the end of the body, waits and retries included. */
  public Duration elapsed() {
    return elapsed;
  }

  @Override
  public String toString() {
    return "ApiResponse[" + status + ", " + attempts + " attempt(s), " + elapsed.toMillis()
        + " ms]";
  }
}
