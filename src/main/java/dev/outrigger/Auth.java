package dev.outrigger;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * Supplies the {@code Authorization} header for every attempt. When the server answers 401, the
 * client asks once for a fresh value ({@code refresh = true}) and sends the attempt again; a
 * second 401 is returned to the caller, as is the first when the fresh value is null or the same
 * as the one the server refused, and the 401 of a request whose body is
 * {@linkplain okhttp3.RequestBody#isOneShot() one-shot} (it cannot be sent again; the hook is not
 * asked). The value is never logged and never appears in exception messages; it is not sent on a
 * redirect to another origin (scheme, host or port), and that origin's 401 is returned to the
 * caller without asking for a fresh value.
 *
 * <p>Each call asks for itself: calls that meet a 401 at the same time each ask for a fresh
 * value, once per call, and a call's attempts after its refresh carry the value it got. When
 * fetching a fresh value is costly (a token endpoint), let concurrent refreshes share one fetch
 * inside the implementation. Called on the calling thread; must be thread-safe.
 */
@FunctionalInterface
public interface Auth {

  /**
   * Returns the header value, for example {@code "Bearer abc"}, or null for none: the attempt
   * is sent without {@code Authorization}, and on a refresh the 401 is returned to the caller
   * without another attempt. On a refresh, the value the server just refused means the same.
   *
   * @param refresh true after the server rejected the previous value with 401: fetch a new one
   */
  String authorization(boolean refresh);

  /**
   * A bearer token from {@code token}, asked again on every attempt (cache inside the supplier
   * if fetching is expensive). A null token sends no {@code Authorization} (not
   * {@code "Bearer null"}), and on a 401 means there is no fresh one, as does the token the
   * server just refused (a cache that has not yet let it go): the 401 is returned.
   */
  static Auth bearer(Supplier<String> token) {
    Objects.requireNonNull(token, "token");
    return refresh -> {
      String t = token.get();
      return t == null ? null : "Bearer " + t;
    };
  }
}
