package dev.outrigger;

/**
 * The server answered with a status outside 2xx. The message names the status, the method and
 * the redacted URL, and includes a bounded snippet of the error body.
 */
public class HttpStatusException extends ApiException {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final String method;
  private final String url;
  private final String bodySnippet;

  /**
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

  public int status() {
    return status;
  }

  public String method() {
    return method;
  }

  /** The request URL with secrets redacted. */
  public String url() {
    return url;
  }

  /** The start of the error body, bounded in size; empty when the server sent none. */
  public String bodySnippet() {
    return bodySnippet;
  }
}
