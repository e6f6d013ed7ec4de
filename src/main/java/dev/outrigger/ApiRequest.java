package dev.outrigger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JavaType;
import dev.outrigger.internal.http.BytesBody;
import dev.outrigger.internal.http.Urls;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;

/**
 * One request being prepared, from {@link ApiClient#get}, {@link ApiClient#post} and friends,
 * and sent by {@link #execute(Class)} or {@link #send(Class)}. Each setter checks its argument at
 * once. Not thread-safe: build and send it on one thread; the client it came from is shared.
 * It may be sent again ({@code execute} twice): each send is a call of its own, with the same
 * URL, headers and body. With {@link ApiClient.Builder#generateIdempotencyKeys}, each send of a
 * write gets a key of its own; give it {@link #idempotencyKey} to let the server tell a send
 * again from a new write.
 *
 * {@snippet :
 * Post p = client.get("/posts/{id}", 42).header("X-Trace", "t1")
 *     .deadline(Duration.ofMillis(500)).execute(Post.class);
 * }
 *
 * <p>{@code execute} and {@code send} return for a 2xx status and throw
 * {@link HttpStatusException} for any other. {@code String.class} gives the body as text,
 * {@code byte[].class} the bytes, {@code Void.class} discards it; any other type is mapped from
 * JSON by the client's {@code ObjectMapper}.
 */
public final class ApiRequest {
  private static final MediaType JSON = MediaType.get("application/json; charset=utf-8");
  private static final String TYPE_NULL = "type must not be null: give the type to map the body "
      + "to (String.class for its text), or call execute() to discard it";

  private final ApiClient client;
  private final String method;
  /**
   * Where it goes: the client's {@link ApiClient.Resolved} entry for an argument-free path (its
   * URL, {@code host:port} key and plain GET), else the URL resolved for this request. One
   * field rather than three: a request object per call, kept small.
   */
  private final Object target;
  /** Created only when a query parameter is added: most calls never need to rebuild the URL. */
  private HttpUrl.Builder url;
  private Headers.Builder headers;
  /** The body's bytes and the type {@link #json} or {@link #body} gave them; null: none. */
  private byte[] bodyBytes;
  private MediaType bodyType;
  private String idempotencyKey;
  private boolean retryable;
  private Duration deadline;
  private Map<String, Object> attributes;

  /** A request to {@code target}: an {@link ApiClient.Resolved} entry, or an {@link HttpUrl}. */
  ApiRequest(ApiClient client, String method, Object target) {
    this.client = client;
    this.method = method;
    this.target = target;
  }

  /** The URL as resolved, before any query parameter added here. */
  private HttpUrl resolved() {
    return target instanceof ApiClient.Resolved known ? known.url : (HttpUrl) target;
  }

  /**
   * Adds query parameter {@code name=value}, both percent-encoded; a null value adds the bare
   * name. An {@code Iterable} or an array adds the parameter once per element, in order
   * ({@code query("id", List.of(1, 2))} is {@code ?id=1&id=2}, as Retrofit sends it), and
   * nothing when empty.
   *
   * @throws IllegalArgumentException if {@code name} is null or empty, or an element is null
   */
  public ApiRequest query(String name, Object value) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("query parameter name must not be null or empty");
    }
    if (url == null) {
      url = resolved().newBuilder();
    }
    if (value instanceof Iterable<?> values) {
      values.forEach(v -> addQuery(name, v));
    } else if (value != null && value.getClass().isArray()) {
      for (int i = 0; i < java.lang.reflect.Array.getLength(value); i++) {
        addQuery(name, java.lang.reflect.Array.get(value, i));
      }
    } else {
      url.addQueryParameter(name, value == null ? null : String.valueOf(value));
    }
    return this;
  }

  private void addQuery(String name, Object element) {
    if (element == null) {
      throw new IllegalArgumentException("query parameter '" + name + "' has a null element");
    }
    url.addQueryParameter(name, String.valueOf(element));
  }

  /**
   * Adds a header. {@code Idempotency-Key} (in any case) is {@link #idempotencyKey} by another
   * name: it makes a POST or PATCH retryable, is sent once, and a key generated for every write
   * ({@link ApiClient.Builder#generateIdempotencyKeys}) never replaces it. A
   * {@code Content-Type} set here is sent as it is, whatever type {@link #json} or
   * {@link #body} gives the body ({@code application/merge-patch+json}, a vendor type).
   *
   * @throws IllegalArgumentException if the name is empty or either contains a character not
   *     allowed in a header (CR and LF included, which would let a value inject headers), or if
   *     an {@code Idempotency-Key} is blank
   * @throws NullPointerException if {@code name} or {@code value} is null
   */
  public ApiRequest header(String name, String value) {
    Objects.requireNonNull(name, "header name must not be null");
    if (value == null) {
      throw new NullPointerException("header value for " + name + " must not be null: leave the "
          + "header out to send none, or give \"\" for an empty one");
    }
    if (name.equalsIgnoreCase("Idempotency-Key")) {
      return idempotencyKey(value);
    }
    checkHeader(name, value, client.redactor().isSecretHeader(name));
    if (headers == null) {
      headers = new Headers.Builder();
    }
    headers.add(name, value);
    return this;
  }

  /**
   * Sends {@code body} as JSON ({@code application/json; charset=utf-8}, unless a
   * {@code Content-Type} {@linkplain #header header} says otherwise), serialized now with the
   * client's mapper.
   *
   * @throws IllegalArgumentException if {@code body} is null (to send the JSON literal
   *     {@code null}, use {@link #body(byte[], String)}) or cannot be serialized, or if this is a
   *     GET or a HEAD, which OkHttp sends without a body
   */
  public ApiRequest json(Object body) {
    checkBodyAllowed();
    if (body == null) {
      throw new IllegalArgumentException("json body must not be null: to send the JSON literal "
          + "null, use body(\"null\".getBytes(StandardCharsets.UTF_8), \"application/json\")");
    }
    try {
      this.bodyBytes = client.mapper().writeValueAsBytes(body);
      this.bodyType = JSON;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot serialize " + body.getClass().getName()
          + " as JSON: " + e.getOriginalMessage(), e);
    }
    return this;
  }

  /**
   * Sends {@code bytes} with the given content type (for example {@code text/plain}; null for
   * none), unless a {@code Content-Type} {@linkplain #header header} says otherwise.
   *
   * @throws IllegalArgumentException if {@code contentType} is not a media type, or if this is a
   *     GET or a HEAD, which OkHttp sends without a body
   * @throws NullPointerException if {@code bytes} is null
   */
  public ApiRequest body(byte[] bytes, String contentType) {
    Objects.requireNonNull(bytes, "bytes must not be null: give new byte[0] for an empty body");
    checkBodyAllowed();
    MediaType type = contentType == null ? null : MediaType.parse(contentType);
    if (contentType != null && type == null) {
      throw new IllegalArgumentException("not a valid content type: '" + contentType + "'");
    }
    this.bodyBytes = bytes;
    this.bodyType = type;
    return this;
  }

  /** Refuses a body here rather than at execute(), where OkHttp would refuse it. */
  private void checkBodyAllowed() {
    if (method.equals("GET") || method.equals("HEAD")) {
      throw new IllegalArgumentException("a " + method + " request cannot have a body (OkHttp "
          + "refuses it): send it with post(...), put(...) or request(method, ...), or put the "
          + "values in query(...)");
    }
  }

  /**
   * Sends {@code Idempotency-Key: key}, which makes a POST or PATCH safe to retry: every attempt
   * carries the same key, and a server that honours it applies the write once.
   *
   * @throws IllegalArgumentException if the key is blank or not a valid header value
   */
  public ApiRequest idempotencyKey(String key) {
    if (key == null || key.isBlank()) {
      throw new IllegalArgumentException("idempotencyKey must not be null or blank");
    }
    checkHeader("Idempotency-Key", key, false);
    this.idempotencyKey = key;
    return this;
  }

  /**
   * Declares this request safe to send more than once although its method is not idempotent
   * (POST, PATCH): the retry policy may then retry it. Off by default.
   */
  public ApiRequest retryable() {
    this.retryable = true;
    return this;
  }

  /**
   * This call's own deadline (the client's default otherwise); a {@link Deadline#within} scope
   * can only tighten it.
   *
   * @throws IllegalArgumentException if not positive
   * @throws NullPointerException if {@code deadline} is null (leave this out for the client's)
   */
  public ApiRequest deadline(Duration deadline) {
    Objects.requireNonNull(deadline, "deadline must not be null: give a positive Duration, or "
        + "leave deadline(...) out for the client's default");
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline must be positive, but was " + deadline);
    }
    this.deadline = deadline;
    return this;
  }

  /**
   * An attribute the client's interceptors can read from {@link CallContext#attribute}.
   *
   * @throws NullPointerException if {@code name} is null
   */
  public ApiRequest attribute(String name, Object value) {
    Objects.requireNonNull(name, "attribute name must not be null");
    if (attributes == null) {
      attributes = new LinkedHashMap<>();
    }
    attributes.put(name, value);
    return this;
  }

  /** Sends the request and returns the body as {@code type}. */
  public <T> T execute(Class<T> type) {
    Objects.requireNonNull(type, TYPE_NULL);
    return client.run(this, client.mapper().constructType(type), false);
  }

  /** Sends the request and returns the body as {@code type}, for generic types. */
  public <T> T execute(TypeReference<T> type) {
    Objects.requireNonNull(type, TYPE_NULL);
    return client.run(this, client.mapper().constructType(type), false);
  }

  /** Sends the request, discarding the body. */
  public void execute() {
    client.run(this, client.mapper().constructType(Void.class), false);
  }

  /** Sends the request and returns status, headers, body, attempts and elapsed time. */
  public <T> ApiResponse<T> send(Class<T> type) {
    Objects.requireNonNull(type, TYPE_NULL);
    return client.run(this, client.mapper().constructType(type), true);
  }

  /** Sends the request and returns status, headers, body, attempts and elapsed time. */
  public <T> ApiResponse<T> send(TypeReference<T> type) {
    Objects.requireNonNull(type, TYPE_NULL);
    return client.run(this, client.mapper().constructType(type), true);
  }

  String method() {
    return method;
  }

  /** The prebuilt request to send when nothing was added to the URL; null otherwise. */
  Request template() {
    return url == null && target instanceof ApiClient.Resolved known && method.equals("GET")
        ? known.get(client) : null;
  }

  /** The URL's {@code host:port} key, or null to work it out (query parameters keep it). */
  String hostKey() {
    return target instanceof ApiClient.Resolved known ? known.hostKey : null;
  }

  HttpUrl url() {
    return url == null ? resolved() : url.build();
  }

  /** The headers set on this request, or null when none were. */
  Headers headers() {
    return headers == null ? null : headers.build();
  }

  /**
   * The body to send, or null: typed as {@link #json} or {@link #body} said, unless a
   * {@code Content-Type} header was set, which OkHttp then sends as it is (it replaces the header
   * with a typed body's own type).
   */
  RequestBody body() {
    if (bodyBytes == null) {
      return null;
    }
    boolean typed = headers != null && headers.get("Content-Type") != null;
    return new BytesBody(bodyBytes, typed ? null : bodyType);
  }

  String idempotencyKey() {
    return idempotencyKey;
  }

  boolean isRetryable() {
    return retryable;
  }

  Duration deadline() {
    return deadline;
  }

  Map<String, Object> attributes() {
    return attributes;
  }

  static void checkHeader(String name, String value, boolean secret) {
    if (name.isEmpty()) {
      throw new IllegalArgumentException("header name must not be empty");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c <= ' ' || c >= 0x7f || c == ':') {
        // Only the name up to it: what follows may be a value glued on ("Authorization: Bearer
        // ..."), or control characters meant for a log.
        throw new IllegalArgumentException("header name '" + name.substring(0, i)
            + "' is followed by a character not allowed in a header name (code " + (int) c
            + ") at index " + i + "; the rest is not shown: give the name alone, and the value as"
            + " the second argument");
      }
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if ((c < ' ' && c != '\t') || c == 0x7f) {
        throw new IllegalArgumentException("value of header " + name + " has a control character"
            + " (code " + (int) c + ") at index " + i
            + (secret ? "" : "; CR and LF are never allowed: they would inject headers"));
      }
      if (c > 0x7f) {
        // OkHttp refuses it too, quoting the value: say so here, and never show the value.
        throw new IllegalArgumentException("value of header " + name + " has a non-ASCII"
            + " character (code " + (int) c + ") at index " + i
            + "; header values are ASCII: encode it (percent-encoding, Base64, RFC 8187)");
      }
    }
  }

  @Override
  public String toString() {
    return "ApiRequest[" + method + " " + client.redactor().url(url()) + "]";
  }
}
