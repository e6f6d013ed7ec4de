package dev.outrigger;

/**
 * The server answered with a status outside 2xx. The message names the status, the method and
 * the redacted URL, and includes a bounded snippet of the error body, in which the secrets the
 * request carried (secret headers' values, secret query parameters' values) are masked where
 * the server quotes them; after a redirect, those of every request of the call, in the URL too
 * (a login page's {@code ?next=} quoting the call's own).
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

  /**
   * Creates the exception for a response outside 2xx.
   *
   * @param status the HTTP status
   * @param method the request method
   * @param url the request URL, already redacted
   * @param bodySnippet the start of the error body (bounded), or an empty string
   * @param attempts attempts sent so far
   */
  public HttpStatusException(
      int status, String method, String url, String bodySnippet, int attempts) {
    super(
        "HTTP " + status + " from " + method + " " + url
            + (bodySnippet == null || bodySnippet.isEmpty() ? "" : ": " + bodySnippet),
        null,
        attempts);
    this.status = status;
    this.method = method;
    this.url = url;
    this.bodySnippet = bodySnippet == null ? "" : bodySnippet;
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
}
