package dev.outrigger;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * Supplies the {@code Authorization} header for every attempt. When the server answers 401, the
 * client asks once for a fresh value ({@code refresh = true}; first signing again when another
 * call refreshed since, below) and sends the attempt again; the 401 of the attempt with the
 * fresh value is returned to the caller, as is the first when the fresh value is null or the
 * same as the one the server refused, and the 401 of a request whose body is
 * {@linkplain okhttp3.RequestBody#isOneShot() one-shot} (it cannot be sent again; the hook is
 * not asked). The value is never logged and never appears in
 * exception messages; it is not sent on a redirect to another origin (scheme, host or port), and
 * that origin's 401 is returned to the caller without asking for a fresh value.
 *
 * <p>A fresh value ({@code refresh = true}) is fetched on a platform daemon thread
 * ({@code outrigger-auth-refresh}), one fetch at a time for all the clients that share this
 * {@code Auth} (built from the builder it was set on, or derived from them with
 * {@link ApiClient#newBuilder()}): calls that meet a 401 while it runs wait for it and share its
 * value (or what it throws: the same exception reaches each of them, except an
 * {@link ApiException}, another call's failure, for which each call gets the
 * {@link HttpStatusException} of its 401, that failure suppressed in it and named in its
 * message), and a call's attempts after its refresh carry the value it got. Each call waits at
 * most until its own deadline, then fails with {@link DeadlineExceededException} ("deadline
 * exceeded while waiting for the credentials refresh"; its cause, the 401); a fetch that hangs
 * so goes on, and the calls that meet a 401 before it ends take its value.
 *
 * <p>Once a fetch has ended, a 401 for an attempt signed before it ended (a call sent with the
 * expired token while another call's refresh ran, its 401 late) starts no other: the call is
 * sent again, its attempts signed anew ({@code refresh = false}) as they go out. So the late
 * 401s of one expired token share one fetch, and a rotating refresh token (each fetch spends the
 * one the last handed out) is not spent twice. A 401 for an attempt signed since the fetch ended
 * (a token the server revoked) starts another fetch, whether the call was signed again or not,
 * as does one whose refused value is still the one {@code authorization(false)} gives (asked
 * once more to tell: an {@code Auth} that signs each attempt anew, with a nonce say, spends one
 * value on that question); a call signed again whose 401 finds yet another fetch ended since gets
 * that 401. A client's {@code close()} ends its calls' waits with a {@code CANCELLED}
 * {@link TransportException}; the {@code close()} of the last client sharing the fetch
 * interrupts it (one that ignores interrupts ends when it returns), and that of an earlier one
 * leaves it to the others, even if its call started it (cut short, it might have spent a
 * rotating refresh token for nothing). The fetch does not run on the caller's thread, so it sees
 * none of its thread-locals.
 *
 * <p>{@code authorization(false)} runs on the calling thread, on every attempt, and the deadline
 * cannot cut it: keep it to handing out a value held in memory, without a lock the refresh
 * holds while it fetches (a {@code synchronized} cache would hold every caller for as long as
 * the token endpoint takes; keep the value in a volatile field). A token that expires is best
 * fetched anew on {@code refresh = true}, which the server's 401 for the expired token asks
 * for, rather than on the calling thread when the cache finds it stale. Must be thread-safe.
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
   * if fetching is expensive), on the calling thread, and on the client's refresh thread after a
   * 401. A null token sends no {@code Authorization} (not {@code "Bearer null"}), and on a 401
   * means there is no fresh one, as does the token the server just refused (a cache that has not
   * yet let it go): the 401 is returned. A supplier that fetches when its cache runs out does so
   * on the calling thread, which the call's deadline cannot cut (see above).
   */
  static Auth bearer(Supplier<String> token) {
    Objects.requireNonNull(token, "token");
    return refresh -> {
      String t = token.get();
      return t == null ? null : "Bearer " + t;
    };
  }
}
