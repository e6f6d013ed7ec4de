package dev.outrigger.internal.retry;

import java.io.IOException;
import java.util.List;
import okhttp3.Interceptor;
import okhttp3.Response;

/**
 * An OkHttp network interceptor that keeps OkHttp from re-sending a request on its own after a
 * {@code 503}, so that the retry policy alone decides what is sent again.
 *
 * <p>Why: OkHttp's {@code RetryAndFollowUpInterceptor} answers a {@code 503} carrying
 * {@code Retry-After: 0} by sending the same request once more at once, whatever its method and
 * even with {@code retryOnConnectionFailure(false)}: an unkeyed POST would reach the server
 * twice, and the policy would neither count the attempt nor consult the budget. The same code
 * parses an all-digit {@code Retry-After} with {@code Integer.valueOf}, so a value beyond
 * {@code Integer.MAX_VALUE} makes the call throw {@link NumberFormatException}, on a {@code 503}
 * and on a {@code 408} of a call whose {@code retryOnConnectionFailure} is on.
 *
 * <p>What: on a {@code 503}, an all-digit {@code Retry-After} equal to zero is rewritten as an
 * HTTP-date in the past (same meaning: retry now, which {@code RetryAfter.parse} reads as zero,
 * but not a number OkHttp acts on); on a {@code 503} or a {@code 408}, one too large for an
 * {@code int} gets a second value after it, an HTTP-date in the year 9999 (OkHttp reads only
 * the last value: a wait longer than any, which it does not act on). Every other response
 * passes untouched. Once OkHttp has let the response through, {@link #unguard} puts the
 * server's value back for the code above it. OkHttp's other silent re-sends are off in
 * Outrigger's client: {@code retryOnConnectionFailure(false)} covers connection failures and
 * {@code 408} (an interceptor that turns it back on for its call asks for them).
 *
 * <p>Install it with {@code OkHttpClient.Builder.addNetworkInterceptor(FollowUpGuard.INSTANCE)}
 * (a network interceptor runs below {@code RetryAndFollowUpInterceptor}, so its response is the
 * one OkHttp inspects), or call {@link #guard} from one. {@code ApiClient} does the latter from
 * its one network interceptor ({@code NetworkInterceptor}). Stateless and
 * thread-safe.
 */
public final class FollowUpGuard implements Interceptor {
  public static final FollowUpGuard INSTANCE = new FollowUpGuard();

  /** The epoch as an RFC 1123 date: a moment certainly past. */
  static final String PAST = "Thu, 01 Jan 1970 00:00:00 GMT";
  /** The last RFC 1123 date: a wait longer than any, as a value OkHttp does not parse. */
  static final String FAR = "Fri, 31 Dec 9999 23:59:59 GMT";

  private FollowUpGuard() {}

  @Override
  public Response intercept(Chain chain) throws IOException {
    return guard(chain.proceed(chain.request()));
  }

  /**
   * {@code response}, or on a {@code 503} (or {@code 408}) with a {@code Retry-After} OkHttp
   * would act on (or throw on), a copy with a value it does not act on (see the class comment).
   * For a network interceptor that does this among other things.
   */
  public static Response guard(Response response) {
    int code = response.code();
    if (code != 503 && code != 408) {
      return response;
    }
    String value = response.header("Retry-After");
    String safe = value == null ? null : safeValue(value.trim());
    if (safe == null) {
      return response;
    }
    if (safe == FAR) {
      // The server's digits stay, for unguard to put back: OkHttp reads only the last value.
      return response.newBuilder().header("Retry-After", value.trim())
          .addHeader("Retry-After", FAR).build();
    }
    if (code == 408) {
      // OkHttp re-sends a 408 only for a call that turned retryOnConnectionFailure back on:
      // it asked for that re-send, and a 0 must not stop it.
      return response;
    }
    return response.newBuilder().header("Retry-After", safe).build();
  }

  /**
   * {@code response} as the server sent it, once OkHttp has decided not to follow it up: a
   * {@code 503}'s {@code Retry-After} that {@link #guard} rewrote as {@link #PAST} reads
   * {@code 0} again (the same meaning), and one too large for an {@code int} (on a {@code 503}
   * or a {@code 408}) reads the server's
   * digits alone again, so that retry predicates, interceptors, listeners and messages above
   * OkHttp see the server's value, not a date in 1970 or 9999. For the code that called OkHttp;
   * any other response is returned as it is.
   */
  public static Response unguard(Response response) {
    int code = response.code();
    if (code != 503 && code != 408) {
      return response;
    }
    String value = response.header("Retry-After");
    if (code == 503 && PAST.equals(value)) {
      return response.newBuilder().header("Retry-After", "0").build();
    }
    if (FAR.equals(value)) {
      List<String> values = response.headers("Retry-After");
      if (values.size() >= 2) {
        return response.newBuilder()
            .header("Retry-After", values.get(values.size() - 2)).build();
      }
    }
    return response;
  }

  /**
   * The value to send up instead of {@code value}: {@link #PAST} for zero, {@link #FAR} (after
   * the server's own) for more seconds than an {@code int} holds, or null to keep it.
   */
  static String safeValue(String value) {
    if (value.isEmpty()) {
      return null;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < '0' || c > '9') {
        return null;
      }
    }
    int firstNonZero = 0;
    while (firstNonZero < value.length() && value.charAt(firstNonZero) == '0') {
      firstNonZero++;
    }
    String digits = value.substring(firstNonZero);
    if (digits.isEmpty()) {
      return PAST;
    }
    if (digits.length() > 10 || Long.parseLong(digits) > Integer.MAX_VALUE) {
      return FAR;
    }
    return null;
  }

  @Override
  public String toString() {
    return "FollowUpGuard";
  }
}
