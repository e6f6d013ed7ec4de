package dev.outrigger;

import java.util.List;
import java.util.Objects;
import okhttp3.Headers;

/**
 * The server answered with a status outside 2xx. The message names the status, the method and
 * the redacted URL, and includes a bounded snippet of the error body, in which the secrets the
 * request carried (secret headers' values, secret query parameters' values, a form body's
 * secret fields) are masked where the server quotes them. In the URL, secret parameters' values
 * are masked, also where another of its parameters quotes them (a {@code callback} URL); after
 * a redirect, the secrets of every request of the call, in the URL too (a login page's
 * {@code ?next=} quoting the call's own). The response's {@linkplain #headers()
 * headers} are kept ({@code Retry-After}, {@code Content-Type}, a problem's own), the values of
 * secret ones masked, and the request's secrets masked where the others quote them, as in the
 * snippet.
 */
public class HttpStatusException extends ApiException {
  private static final long serialVersionUID = 1L;

  /** The HTTP status. */
  private final int status;
  /** The request method. */
  private final String method;
  /** The request URL, redacted. */
  private final String url;
  /** The start of the error body, bounded; empty when none. */
  private final String bodySnippet;
  /** The response's headers, secret values masked; null once deserialized (not serializable). */
  private final transient Headers headers;

  /**
   * Creates the exception for a response outside 2xx, without its headers.
   *
   * @param status the HTTP status
   * @param method the request method
   * @param url the request URL, already redacted
   * @param bodySnippet the start of the error body (bounded), or an empty string
   * @param attempts attempts sent so far
   */
  public HttpStatusException(
      int status, String method, String url, String bodySnippet, int attempts) {
    this(status, method, url, bodySnippet, Headers.EMPTY, attempts);
  }

  /**
   * Creates the exception for a response outside 2xx.
   *
   * @param status the HTTP status
   * @param method the request method
   * @param url the request URL, already redacted
   * @param bodySnippet the start of the error body (bounded), or an empty string
   * @param headers the response's headers, the values of secret ones already masked
   * @param attempts attempts sent so far
   * @throws NullPointerException if {@code headers} is null
   */
  public HttpStatusException(int status, String method, String url, String bodySnippet,
      Headers headers, int attempts) {
    super(
        "HTTP " + status + " from " + method + " " + url
            + (bodySnippet == null || bodySnippet.isEmpty() ? "" : ": " + bodySnippet),
        null,
        attempts);
    this.status = status;
    this.method = method;
    this.url = url;
    this.bodySnippet = bodySnippet == null ? "" : bodySnippet;
    this.headers = Objects.requireNonNull(headers,
        "headers must not be null: give Headers.EMPTY for none");
  }

  /** The HTTP status the server answered with, outside 2xx. */
  public int status() {
    return status;
  }

  /**
   * The method of the request the server answered ({@code GET}, {@code POST}, ...): after a
   * redirect, the follow-up's (a POST answered by a 303 and then a 404 says {@code GET}).
   */
  public String method() {
    return method;
  }

  /**
   * The URL of the request the server answered, secrets redacted: after a redirect, the URL it
   * led to.
   */
  public String url() {
    return url;
  }

  /**
   * The start of the error body, bounded in size, the request's secrets masked; empty when the
   * server sent none.
   */
  public String bodySnippet() {
    return bodySnippet;
  }

  /**
   * The first value of the response's header {@code name} (case-insensitive), or null, as
   * {@link ApiResponse#header(String)}: {@code Retry-After}, or the {@code Content-Type} of an
   * error body to decode. A secret header's value reads {@code REDACTED}.
   *
   * @throws NullPointerException if {@code name} is null
   */
  public String header(String name) {
    return ApiResponse.firstValue(headers(), name);
  }

  /**
   * Every value of the response's header {@code name} (case-insensitive).
   *
   * @throws NullPointerException if {@code name} is null
   */
  public List<String> headers(String name) {
    Objects.requireNonNull(name, "header name");
    return headers().values(name);
  }

  /**
   * The headers of the response the server answered (after a redirect, the last one's), as
   * OkHttp's {@link Headers}. The values of secret headers read {@code REDACTED}:
   * {@code Set-Cookie}, {@code Authorization}, {@code Proxy-Authorization}, {@code Cookie}, and
   * those named by {@link ApiClient.Builder#redactHeader}. In the others, the secrets of the
   * call's requests are masked where the server quotes them, as in {@link #bodySnippet()} (a
   * {@code WWW-Authenticate} naming the token it refused, a {@code Location} quoting the call's
   * URL), and a {@code Location}'s or {@code Content-Location}'s secret parameters as in
   * {@link #url()}. Empty for an exception made without them (by an interceptor of yours), and
   * once this exception has been serialized.
   */
  public Headers headers() {
    return headers == null ? Headers.EMPTY : headers;
  }
}
