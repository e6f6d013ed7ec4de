package dev.outrigger;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * Supplies the {@code Authorization} header for every attempt. When the server answers 401, the
 * client asks once for a fresh value ({@code refresh = true}) and sends the attempt again; a
 * second 401 is returned to the caller. The value is never logged and never appears in exception
 * messages; it is not sent on a redirect to another origin (scheme, host or port).
 */
@FunctionalInterface
public interface Auth {

  /**
   * Returns the header value, for example {@code "Bearer abc"}.
   *
   * @param refresh true after the server rejected the previous value with 401: fetch a new one
   */
  String authorization(boolean refresh);

  /**
   * A bearer token from {@code token}, asked again on every attempt (cache inside the supplier
   * if fetching is expensive).
   */
  static Auth bearer(Supplier<String> token) {
    Objects.requireNonNull(token, "token");
    return refresh -> "Bearer " + token.get();
  }
}
