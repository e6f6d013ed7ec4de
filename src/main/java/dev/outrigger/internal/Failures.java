package dev.outrigger.internal;

import dev.outrigger.CallContext;
import dev.outrigger.HttpStatusException;
import dev.outrigger.TransportException;
import dev.outrigger.internal.http.BufferedBody;
import dev.outrigger.internal.http.Charsets;
import dev.outrigger.internal.http.Transport;
import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import okhttp3.HttpUrl;
import okhttp3.Response;
import okhttp3.ResponseBody;

/** Builds and classifies failures the same way for every policy. */
public final class Failures {
  /** How much of an error body goes into an exception message. */
  public static final int SNIPPET_CHARS = 512;

  /**
   * Where in the JSON a mapping failed, as {@code " (at $.items[1].id)"}, or "" when {@code e}
   * does not say (a syntax error, whose message gives the position, or not Jackson's). Jackson's
   * own path names the Java classes on the way; this names the document's fields and indexes.
   */
  public static String jsonPath(IOException e) {
    if (!(e instanceof com.fasterxml.jackson.databind.JsonMappingException m)
        || m.getPath().isEmpty()) {
      return "";
    }
    StringBuilder at = new StringBuilder(" (at $");
    for (com.fasterxml.jackson.databind.JsonMappingException.Reference r : m.getPath()) {
      String name = r.getFieldName();
      if (name != null) {
        if (PLAIN_NAME.matcher(name).matches()) {
          at.append('.').append(name);
        } else {
          // Quoted, so a key with a dot or a bracket reads as one key; control characters
          // escaped, and not longer than a line.
          at.append("['");
          // A cut name ends its quote before the "...", so it cannot read as a whole key.
          at.append(quote(at, name) ? "'...]" : "']");
        }
      } else if (r.getIndex() >= 0) {
        at.append('[').append(r.getIndex()).append(']');
      }
      if (at.length() > SNIPPET_CHARS) {
        at.append("...");
        break;
      }
    }
    return at.append(')').toString();
  }

  /**
   * Appends {@code name} escaped (a quote or a backslash after a backslash, a control or
   * line-separating character as a backslash-u escape), at most its first 64 code points;
   * returns whether it was cut.
   */
  private static boolean quote(StringBuilder at, String name) {
    int shown = 0;
    for (int i = 0; i < name.length(); ) {
      int cp = name.codePointAt(i);
      i += Character.charCount(cp);
      if (++shown > 64) {
        return true;
      }
      if (cp == '\'' || cp == '\\') {
        at.append('\\').appendCodePoint(cp);
      } else if (Character.isISOControl(cp) || cp == 0x2028 || cp == 0x2029) {
        at.append(String.format(java.util.Locale.ROOT, "\\u%04x", cp));
      } else {
        at.appendCodePoint(cp);
      }
    }
    return false;
  }

  private static final java.util.regex.Pattern PLAIN_NAME =
      java.util.regex.Pattern.compile("[A-Za-z_$][A-Za-z0-9_$-]{0,63}");

  private Failures() {}

  /** Whether {@code status} is a success (2xx). */
  public static boolean isSuccess(int status) {
    return status >= 200 && status < 300;
  }

  /**
   * Whether {@code response} asks the client to slow down: a 429, a 503, or a 403 with
   * {@code Retry-After} (GitHub's secondary rate limits; a 403 without it is a refusal that says
   * nothing of the rate). The rate limiter's adaptive rate and the client-side throttle read it.
   */
  public static boolean asksToSlowDown(Response response) {
    int code = response.code();
    return code == 429 || code == 503
        || (code == 403 && response.header("Retry-After") != null);
  }

  /**
   * {@code failure} as a status of the host {@code ctx} calls, or null: an
   * {@link HttpStatusException} an attempt interceptor threw, unless its URL names another
   * {@code host:port} ({@link RealCallContext#hostKey}, as {@link CallContext#host()} keys it: an
   * IPv6 literal in brackets, a default port made explicit) than the call's and than the one the
   * attempt's answer came from ({@link RealCallContext#answeredUrl}: after a redirect OkHttp
   * followed to another origin, http to https say, a status thrown from that answer is the
   * call's host's, as that answer returned is). A status of another host (a user interceptor
   * that calls another API and lets its exception escape) says nothing of this one; the breaker,
   * the throttle and the in-flight limit judge it as any other exception. A URL that names no
   * host (a path, a redacted text that does not parse) cannot say it is another's: the status is
   * taken as this host's. Error path only: parses the URL.
   */
  public static HttpStatusException hostStatus(Throwable failure, CallContext ctx) {
    if (!(failure instanceof HttpStatusException h)) {
      return null;
    }
    HttpUrl url = HttpUrl.parse(h.url());
    if (url == null) {
      return h;
    }
    String key = RealCallContext.hostKey(url);
    HttpUrl answered = RealCallContext.answeredUrl(ctx);
    return key.equals(ctx.host())
        || answered != null && key.equals(RealCallContext.hostKey(answered)) ? h : null;
  }

  /**
   * The exception for a response whose status is not 2xx. Reads (buffered) body text for the
   * snippet, with the secrets the request carried masked ({@link Redactor#scrub}), and closes
   * the response.
   */
  public static HttpStatusException statusException(Response response, RealCallContext ctx) {
    // The transport's copy of the body, whole even if an interceptor read or closed it; one
    // over 64 KiB, or cut to the limit, is its own array (as the decoder reads it).
    ResponseBody body = response.body();
    byte[] whole = body instanceof BufferedBody b ? b.array() : ctx.bufferedBytes(body);
    okio.Buffer inPlace = whole == null ? ctx.bufferInPlace(body) : null;
    // From the transport's bytes: a peek would share Okio's segments, which then never go back
    // to its pool.
    String text = whole != null ? text(whole, Charsets.of(response))
        : inPlace != null
            ? text(Transport.copyOf(inPlace, SNIPPET_CHARS * 4L), Charsets.of(response))
            : text(response);
    response.close();
    // Masked before the cut, so a secret the cut would split is not shown in part.
    // With the secrets of every request of the call's redirects: a page may quote the call's own.
    String snippet = flatten(ctx.redactor().scrub(text, response));
    return new HttpStatusException(
        response.code(),
        response.request().method(),
        ctx.redactor().url(response),
        snippet,
        ctx.redactor().headers(response),
        ctx.attemptsSent());
  }

  /** The start of the body as text: as many bytes as the snippet's characters may take. */
  private static String text(Response response) {
    ResponseBody body = response.body();
    try {
      // Bodies reaching the policies are buffered; peeking does not consume them.
      return response.peekBody(SNIPPET_CHARS * 4L).string();
    } catch (IOException | IllegalStateException e) {
      return body == null ? "" : "<unreadable body>";
    }
  }

  /**
   * The start of a body already in memory as text, in {@code charset} unless it starts with a
   * byte-order mark (as the decoder reads it).
   */
  private static String text(byte[] body, Charset charset) {
    int n = (int) Math.min(body.length, SNIPPET_CHARS * 4L);
    return Charsets.text(body, n, charset);
  }

  /**
   * The first {@link #SNIPPET_CHARS} characters of {@code text}, control characters and line
   * separators flattened to spaces.
   */
  public static String flatten(String text) {
    if (text.length() > SNIPPET_CHARS) {
      text = text.substring(0, SNIPPET_CHARS) + "...";
    }
    StringBuilder sb = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      // The line and paragraph separators too: some log viewers break lines at them.
      sb.append(Character.isISOControl(c) || c == '\u2028' || c == '\u2029' ? ' ' : c);
    }
    return sb.toString().strip();
  }

  /** Whether the failure is the caller's cancellation (interrupt), which no policy counts. */
  public static boolean isCancellation(Throwable t) {
    return t instanceof TransportException te && te.kind() == TransportException.Kind.CANCELLED;
  }

  /**
   * The failure for a wait (backoff, permit, slot) interrupted by the caller: the interrupt
   * status is restored and the call ends as cancelled. A wait that the client's
   * {@code close()} cut short ({@link Closing.ClosedException}) ends as cancelled too, with the
   * interrupt status left clear, unless the caller's own interrupt was pending as well: that one
   * is restored.
   */
  public static TransportException cancelled(RealCallContext ctx, InterruptedException e) {
    if (e instanceof Closing.ClosedException closed) {
      // close() cut a wait short. Its own interrupt stays taken back; a caller's own, pending
      // when close() came (close() then interrupted nothing), is restored.
      if (closed.callersInterrupt) {
        Thread.currentThread().interrupt();
      }
      return new TransportException(ctx.describe() + " was cancelled: " + e.getMessage(), e,
          ctx.attemptsSent(), TransportException.Kind.CANCELLED);
    }
    Thread.currentThread().interrupt();
    java.io.InterruptedIOException cause = new java.io.InterruptedIOException("interrupted");
    cause.initCause(e);
    return new TransportException(
        ctx.describe() + " was interrupted", cause, ctx.attemptsSent(),
        TransportException.Kind.CANCELLED);
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
