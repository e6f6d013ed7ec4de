package dev.outrigger.internal;

import dev.outrigger.internal.http.BytesBody;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.FormBody;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * Removes secrets from what Outrigger logs or puts in messages: the values of sensitive headers
 * and of configured query parameters (and of path parameters and form fields of those names, a
 * servlet's {@code ;jsessionid=}, an OAuth token request's {@code client_secret}), and any user
 * info in URLs.
 */
public final class Redactor {
  /** Always redacted, whatever the configuration. */
  public static final Set<String> ALWAYS_HEADERS =
      Set.of("authorization", "proxy-authorization", "cookie", "set-cookie");
  /**
   * Query parameters redacted by default; more can be configured. Besides the usual names, a
   * pre-signed link's credentials (AWS SigV4's and Google Cloud Storage's query authentication),
   * which let anyone holding the link use it until it expires, and a servlet container's session
   * id, which it writes into a URL as a path parameter ({@code /cart;jsessionid=...}) for a
   * client without cookies. A path parameter ({@code ;name=value} in a path segment) of any of
   * these names is redacted as the query parameter is, and so is a form body's field where an
   * error body quotes it (OAuth's {@code refresh_token} is sent in one).
   */
  public static final Set<String> DEFAULT_QUERY = Set.of(
      "access_token", "api_key", "apikey", "client_secret", "jsessionid", "password",
      "refresh_token", "secret", "signature", "sig", "token", "x-amz-signature",
      "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential");
  public static final String MASK = "REDACTED";
  /** The default names only, for messages made where no client's configuration is at hand. */
  public static final Redactor DEFAULTS = new Redactor(Set.of(), Set.of());

  private final Set<String> headers;
  private final Set<String> query;

  public Redactor(Set<String> extraHeaders, Set<String> extraQuery) {
    Set<String> h = new TreeSet<>(ALWAYS_HEADERS);
    extraHeaders.forEach(n -> h.add(n.toLowerCase(Locale.ROOT)));
    Set<String> q = new TreeSet<>(DEFAULT_QUERY);
    extraQuery.forEach(n -> q.add(n.toLowerCase(Locale.ROOT)));
    this.headers = Set.copyOf(h);
    this.query = Set.copyOf(q);
  }

  public boolean isSecretHeader(String name) {
    return headers.contains(name.toLowerCase(Locale.ROOT));
  }

  public boolean isSecretQuery(String name) {
    return query.contains(name.toLowerCase(Locale.ROOT));
  }

  /**
   * The URL with user info removed, secret query and path parameter values and any fragment
   * masked, and those values masked too where the rest of the path or query quotes them (a
   * {@code callback} parameter carrying the call's own {@code token}), as {@link Secrets}
   * masks them. The rest of the query stays as written (not escaped anew, OkHttp's way): a
   * secret another parameter quotes as it is still reads as it did, for {@link Secrets#url} to
   * find.
   */
  public String url(HttpUrl url) {
    if (url == null) {
      return "null";
    }
    String query = url.encodedQuery();
    String maskedQuery = query == null ? null : maskedQuery(query);
    String path = url.encodedPath();
    String maskedPath = maskedPath(path);
    boolean secretParameters = !Objects.equals(query, maskedQuery) || path != maskedPath;
    if (url.username().isEmpty() && url.password().isEmpty() && url.encodedFragment() == null
        && !secretParameters) {
      return url.toString();
    }
    HttpUrl.Builder b = url.newBuilder().username("").password("").encodedPath(maskedPath)
        .encodedQuery(maskedQuery);
    if (url.encodedFragment() != null) {
      // Never sent to a server, and where OAuth's implicit flow puts its access token.
      b.fragment(MASK);
    }
    String shown = b.build().toString();
    return secretParameters ? ownQuotesMasked(shown, path, query) : shown;
  }

  /**
   * {@code shown}, a URL as shown, with the values of the secret parameters of its
   * {@code path} and {@code query} (null for none), as written, masked where the rest of its
   * path and query quotes them, as {@link Secrets} masks them.
   */
  private String ownQuotesMasked(String shown, String path, String query) {
    Secrets own = new Secrets();
    own.parameters(path, query);
    return own.masked(shown, pathStart(shown));
  }

  /**
   * Where the path starts in {@code text}, a URL as shown or written: after "scheme://" and the
   * host and port, which hold no '/', '?' or '#' (up to the query when there is no path); 0 for
   * text that starts with no scheme (a path, which may quote a URL in its query).
   */
  private static int pathStart(String text) {
    int i = partEnd(text, 0);
    boolean scheme = i > 0 && text.charAt(i - 1) == ':' && text.startsWith("//", i);
    return scheme ? partEnd(text, i + 2) : 0;
  }

  /** The first '/', '?' or '#' of {@code text} from {@code from} on, or its length. */
  private static int partEnd(String text, int from) {
    int i = from;
    while (i < text.length() && "/?#".indexOf(text.charAt(i)) < 0) {
      i++;
    }
    return i;
  }

  /**
   * {@link #url(HttpUrl)} for text that is not a valid URL (for the message that says so): user
   * info dropped, secret query and path parameter values and any fragment masked, and those
   * values where the rest of the path or query quotes them, as far as the text's shape tells.
   */
  public String text(String url) {
    if (url == null) {
      return "null";
    }
    // User info first: a password may hold '/', '?' or '#', which would hide it from the rest.
    String s = withoutUserInfo(url);
    String fragment = "";
    int hash = s.indexOf('#');
    if (hash >= 0) {
      s = s.substring(0, hash);
      fragment = "#" + MASK;
    }
    int q = s.indexOf('?');
    String path = q < 0 ? s : s.substring(0, q);
    String query = q < 0 ? null : s.substring(q + 1);
    String maskedPath = maskedPath(path);
    String maskedQuery = query == null ? null : maskedQuery(query);
    String shown = maskedPath + (query == null ? "" : "?" + maskedQuery) + fragment;
    return path == maskedPath && Objects.equals(query, maskedQuery)
        ? shown : ownQuotesMasked(shown, path, query);
  }

  /**
   * {@code path}, a URL's path as written, with the value of each path parameter of a secret
   * name masked ({@code /cart;jsessionid=1A2B} is {@code /cart;jsessionid=REDACTED}); the same
   * instance when there is none.
   */
  private String maskedPath(String path) {
    int semicolon = path.indexOf(';');
    if (semicolon < 0) {
      return path;
    }
    StringBuilder sb = null;
    int copied = 0;
    for (int i = semicolon; i >= 0; i = path.indexOf(';', i + 1)) {
      int end = parameterEnd(path, i + 1);
      int eq = path.indexOf('=', i + 1);
      if (eq >= 0 && eq < end && isSecretQuery(decoded(path.substring(i + 1, eq)))) {
        if (sb == null) {
          sb = new StringBuilder(path.length());
        }
        sb.append(path, copied, eq + 1).append(MASK);
        copied = end;
      }
    }
    return sb == null ? path : sb.append(path, copied, path.length()).toString();
  }

  /** Where the path parameter that starts at {@code from} in {@code path} ends. */
  private static int parameterEnd(String path, int from) {
    for (int i = from; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == ';' || c == '/') {
        return i;
      }
    }
    return path.length();
  }

  /** {@code query}, a URL's query as written, with the value of each secret parameter masked. */
  private String maskedQuery(String query) {
    StringBuilder sb = new StringBuilder(query.length());
    String[] params = query.split("&", -1);
    for (int i = 0; i < params.length; i++) {
      String p = params[i];
      int eq = p.indexOf('=');
      if (i > 0) {
        sb.append('&');
      }
      sb.append(eq >= 0 && isSecretQuery(decoded(p.substring(0, eq)))
          ? p.substring(0, eq + 1) + MASK : p);
    }
    return sb.toString();
  }

  /**
   * A query parameter's name as a server reads it ({@code api%5Fkey} is {@code api_key}, a
   * {@code +} a space), or as it is when its escapes are malformed.
   */
  private static String decoded(String name) {
    if (name.indexOf('%') < 0 && name.indexOf('+') < 0) {
      return name;
    }
    try {
      return URLDecoder.decode(name, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return name;
    }
  }

  /**
   * {@code url} without the user info of its authority ({@code user:password@}), if any: for
   * text that did not parse, everything from the scheme to the last {@code @}, since a password
   * may hold any character. (An {@code @} later in the path takes more with it: in a message,
   * too much hidden is better than a password shown.)
   */
  public static String withoutUserInfo(String url) {
    int scheme = url.indexOf("://");
    int start = scheme < 0 ? 0 : scheme + 3;
    int at = url.lastIndexOf('@');
    return at < start ? url : url.substring(0, start) + url.substring(at + 1);
  }

  /** A secret shorter than this is not looked for in text: it would mask ordinary words. */
  private static final int MIN_SECRET = 4;
  /**
   * A secret this long is no ordinary word: it is masked wherever it appears, inside a longer
   * word too, and a word of a secret header's value this long is looked for on its own (the
   * token after {@code Bearer}). A shorter secret is masked only as a whole word.
   */
  private static final int LONG_SECRET = 8;
  /**
   * An auth parameter ({@code name=value}, the value perhaps quoted); a token68 (base64, its
   * padding {@code =} after it) is not one.
   */
  private static final Pattern AUTH_PARAM =
      Pattern.compile("\\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\\s*=\\s*([^=\\s].*)", Pattern.DOTALL);

  /**
   * {@code text} that a server wrote (the start of an error body, a decoder's message quoting
   * it) with the secrets of every request that led to {@code response} masked, since a server
   * may quote what it was sent (a 401 naming the token it refused, a 400 echoing its query), and
   * after a redirect what an earlier hop sent or handed out (a login page quoting the call's
   * URL, a cookie the redirect set): see {@link Secrets}. Called on the error path only.
   */
  public String scrub(String text, Response response) {
    return text.isEmpty() ? text : secretsOf(response).scrub(text);
  }

  /**
   * {@link #url(HttpUrl)} of the request {@code response} answers, and after a redirect with
   * the secrets of every request that led to it masked too ({@link #scrub(String, Response)}):
   * a redirect's URL may quote the call's own, secret query values and all, in a parameter of
   * its own.
   */
  public String url(Response response) {
    HttpUrl url = response.request().url();
    return response.priorResponse() == null ? url(url) : secretsOf(response).url(url);
  }

  /**
   * The headers of {@code response} as an error shows them: a secret header's values masked
   * whole, and in the others the secrets of every request that led to it masked where they are
   * quoted, as {@link #scrub(String, Response)} masks an error body (a {@code WWW-Authenticate}
   * naming the token it refused, a {@code Location} quoting the call's URL); a
   * {@code Location} or {@code Content-Location} also as a URL is shown ({@link #text}: a
   * pre-signed link's own credentials). {@code response.headers()} itself when nothing is
   * masked. Called on the error path only.
   */
  public Headers headers(Response response) {
    Headers headers = response.headers();
    Secrets secrets = secretsOf(response);
    Headers.Builder masked = null;
    for (int i = 0, n = headers.size(); i < n; i++) {
      String name = headers.name(i);
      String value = headers.value(i);
      String shown;
      if (isSecretHeader(name)) {
        shown = MASK;
      } else if (name.equalsIgnoreCase("Location")
          || name.equalsIgnoreCase("Content-Location")) {
        String url = text(value);
        shown = secrets.masked(url, pathStart(url));
      } else {
        shown = secrets.scrub(value);
      }
      if (masked == null && !shown.equals(value)) {
        masked = new Headers.Builder();
        for (int j = 0; j < i; j++) {
          masked.addUnsafeNonAscii(headers.name(j), headers.value(j));
        }
      }
      if (masked != null) {
        // As received, or masked: a value OkHttp took from the server, checked already.
        masked.addUnsafeNonAscii(name, shown);
      }
    }
    return masked == null ? headers : masked.build();
  }

  /** A new, empty {@link Secrets} that masks with this redactor's names. */
  public Secrets secrets() {
    return new Secrets();
  }

  /** The secrets of {@code response} and of every response before it in its call. */
  private Secrets secretsOf(Response response) {
    Secrets secrets = new Secrets();
    for (Response r = response; r != null; r = r.priorResponse()) {
      secrets.add(r);
    }
    return secrets;
  }

  /**
   * The secret values gathered from a call's requests and answers, to mask where text quotes
   * them: each value of a secret header and each word of it of {@value #LONG_SECRET}
   * characters or more (the token after {@code Bearer}; of a {@code Cookie}, the words of its
   * cookies' values, not their names), of a {@code Set-Cookie} the cookie it sets (not its
   * attributes, nor its name, nor one it clears); each value of
   * a secret query parameter, as sent and decoded. Each also escaped, as another URL's parameter
   * quotes it.
   *
   * <p>A value of {@value #LONG_SECRET} characters or more is masked wherever it appears; a
   * shorter one only as a whole word, where no letter or digit touches it (an API key
   * {@code demo} is masked in {@code key=demo refused}, not in {@code /v1/demos}); one shorter
   * than {@value #MIN_SECRET} is left alone. A URL's scheme, host and port are never masked: a
   * key that is also a word of the host name would leave no telling where the call went. Made
   * on the error path, for a DEBUG line only when DEBUG is on, and to show a URL that has a
   * secret parameter ({@link #url(HttpUrl)}). Not thread-safe.
   */
  public final class Secrets {
    private final List<String> values = new ArrayList<>();

    /**
     * Adds the secrets of {@code response}'s exchange: its request's, the request as written on
     * the network if OkHttp added to it there (a cookie jar's {@code Cookie}), and the secret
     * headers {@code response} hands out (a {@code Set-Cookie}).
     */
    public Secrets add(Response response) {
      add(response.request());
      Response network = response.networkResponse();
      if (network != null && network.request() != response.request()) {
        add(network.request());
      }
      headers(response.headers());
      return this;
    }

    /** Adds the secrets {@code request} carries, in its URL, its headers and a form body. */
    public Secrets add(Request request) {
      headers(request.headers());
      parameters(request.url().encodedPath(), request.url().encodedQuery());
      RequestBody body = request.body();
      if (body != null) {
        form(body, request.header("Content-Type"));
      }
      return this;
    }

    /**
     * Adds the value of each field of a secret name of {@code body}, if it is a form
     * ({@code application/x-www-form-urlencoded}, by its own type or else
     * {@code contentType}, the request's header) held in memory: OkHttp's {@code FormBody}, or
     * the bytes the client sends ({@link BytesBody}). A server may echo a form it refuses (an
     * OAuth token endpoint's 400 quoting {@code client_secret=...}). Any other body is not read:
     * it may stream (from a file, say), and writing it again here would read it twice.
     */
    private void form(RequestBody body, String contentType) {
      if (body instanceof FormBody form) {
        for (int i = 0; i < form.size(); i++) {
          if (isSecretQuery(form.name(i))) {
            quotable(form.encodedValue(i));
            values.add(form.value(i));
          }
        }
        return;
      }
      if (!(body instanceof BytesBody bytes)) {
        return;
      }
      MediaType type = bytes.contentType();
      if (type == null && contentType != null) {
        type = MediaType.parse(contentType);
      }
      if (type != null && type.type().equals("application")
          && type.subtype().equals("x-www-form-urlencoded")) {
        String text = new String(bytes.array(), type.charset(StandardCharsets.UTF_8));
        parameters(text.split("&"), 0);
      }
    }

    /**
     * Adds the value of each secret parameter of a URL's {@code path} and {@code query} (null
     * for none), as written.
     */
    private void parameters(String path, String query) {
      if (query != null) {
        parameters(query.split("&"), 0);
      }
      if (path.indexOf(';') >= 0) {
        for (String segment : path.split("/")) {
          // The first is the segment itself, no parameter.
          parameters(segment.split(";"), 1);
        }
      }
    }

    /** Adds the value of each of {@code params} from {@code from} on that has a secret name. */
    private void parameters(String[] params, int from) {
      for (int i = from; i < params.length; i++) {
        String p = params[i];
        int eq = p.indexOf('=');
        if (eq >= 0 && isSecretQuery(decoded(p.substring(0, eq)))) {
          String value = p.substring(eq + 1);
          quotable(value);
          values.add(decoded(value));
        }
      }
    }

    private void headers(Headers h) {
      for (int i = 0; i < h.size(); i++) {
        String name = h.name(i);
        if (!isSecretHeader(name)) {
          continue;
        }
        String value = h.value(i);
        boolean setCookie = name.equalsIgnoreCase("Set-Cookie");
        if (setCookie) {
          // The cookie, not the attributes after it (HttpOnly, a date): those are no secret.
          int semicolon = value.indexOf(';');
          value = semicolon < 0 ? value : value.substring(0, semicolon);
          if (value.substring(value.indexOf('=') + 1).isBlank()) {
            // A cookie cleared ("session=; Max-Age=0"): its name alone is no secret.
            continue;
          }
        }
        quotable(value);
        if (setCookie || name.equalsIgnoreCase("Cookie")) {
          // Its name=value pairs: a cookie's value is a secret, its name (sessionid,
          // preferences) an ordinary word that would be masked wherever text used it.
          for (String pair : value.split(";")) {
            longWords(pair.substring(pair.indexOf('=') + 1));
          }
        } else if (name.equalsIgnoreCase("Authorization")
            || name.equalsIgnoreCase("Proxy-Authorization")) {
          credentials(value);
        } else {
          longWords(value);
        }
      }
    }

    /**
     * Adds the long words of an {@code Authorization} value's credentials (RFC 9110, 11.4): a
     * token after the scheme whole (Bearer's, Basic's), or its parameters' values, not the
     * scheme ({@code AWS4-HMAC-SHA256}) nor the parameters' names ({@code username},
     * {@code response}, {@code Credential}, {@code Signature}): ordinary words, which would be
     * masked wherever text used them. A value without a scheme is a token of its own.
     */
    private void credentials(String value) {
      String v = value.strip();
      int space = v.indexOf(' ');
      if (space < 0) {
        longWords(v);
        return;
      }
      // Parameters are separated by commas outside quoted strings (qop="auth,auth-int").
      boolean quoted = false;
      int from = space + 1;
      for (int i = from; i <= v.length(); i++) {
        char c = i < v.length() ? v.charAt(i) : ',';
        if (c == '"') {
          quoted = !quoted;
        } else if (c == ',' && !quoted) {
          String part = v.substring(from, i);
          Matcher param = AUTH_PARAM.matcher(part);
          longWords(param.matches() ? param.group(1) : part);
          from = i + 1;
        }
      }
    }

    /**
     * Adds each word of {@code text} of {@value #LONG_SECRET} characters or more: a word ends at
     * a space, {@code ;}, {@code ,}, {@code =} or a double quote (a cookie's value may come in
     * quotes, and a page quote it bare).
     */
    private void longWords(String text) {
      for (String word : text.split("[\\s;,=\"]+")) {
        if (word.length() >= LONG_SECRET) {
          quotable(word);
        }
      }
    }

    /**
     * Adds {@code value}, and {@code value} as a URL's parameter quotes it, escaped (a base64
     * key's {@code +}, {@code /} and {@code =} as {@code %2B}, {@code %2F} and {@code %3D}), with
     * the escapes' hex digits in upper case and in lower case: some encoders write {@code %2b}
     * (.NET's {@code HttpUtility.UrlEncode}), which OkHttp keeps as the server wrote it. And
     * escaped twice ({@code %252B}), as a URL quoted in another's parameter quotes it (a login
     * page's {@code ?next=} of a URL whose own parameter carried the value): only a value that
     * escaping changes, so a plain token adds nothing more to look for.
     */
    private void quotable(String value) {
      String escaped = URLEncoder.encode(value, StandardCharsets.UTF_8);
      String lower = withLowerCaseEscapes(escaped);
      values.add(value);
      values.add(escaped);
      values.add(lower);
      if (!escaped.equals(value)) {
        values.add(URLEncoder.encode(escaped, StandardCharsets.UTF_8));
        values.add(URLEncoder.encode(lower, StandardCharsets.UTF_8));
      }
    }

    /**
     * {@link #url(HttpUrl)} of {@code url}, with each secret masked where its path, query or
     * fragment quotes it (a login page's {@code ?next=}), its scheme, host and port as they are.
     */
    public String url(HttpUrl url) {
      String shown = Redactor.this.url(url);
      return masked(shown, pathStart(shown));
    }

    /** {@code text} with each secret masked. */
    public String scrub(String text) {
      return masked(text, 0);
    }

    /** {@code text} with each secret masked from {@code from} on. */
    private String masked(String text, int from) {
      // Longest first: a whole value goes before a word of it. Each once.
      Set<String> secrets = new TreeSet<>(
          Comparator.comparingInt(String::length).reversed().thenComparing(s -> s));
      for (String v : values) {
        if (v.length() >= MIN_SECRET) {
          secrets.add(v);
        }
      }
      String rest = text.substring(from);
      for (String secret : secrets) {
        rest = secret.length() >= LONG_SECRET
            ? rest.replace(secret, MASK) : wholeWordsMasked(rest, secret);
      }
      return text.substring(0, from) + rest;
    }
  }

  /** {@code text} with each occurrence of {@code secret} that no letter or digit touches masked. */
  private static String wholeWordsMasked(String text, String secret) {
    StringBuilder sb = null;
    int copied = 0;
    for (int i = text.indexOf(secret); i >= 0; ) {
      int end = i + secret.length();
      if (!wordEndsAt(text, i - 1)
          && (end == text.length() || !Character.isLetterOrDigit(text.charAt(end)))) {
        if (sb == null) {
          sb = new StringBuilder(text.length());
        }
        sb.append(text, copied, i).append(MASK);
        copied = end;
        i = text.indexOf(secret, end);
      } else {
        i = text.indexOf(secret, i + 1);
      }
    }
    return sb == null ? text : sb.append(text, copied, text.length()).toString();
  }

  /**
   * Whether {@code text} has a letter or digit at {@code i} that does not end a percent escape:
   * in a URL, {@code %3Ddemo} quotes {@code =demo}.
   */
  private static boolean wordEndsAt(String text, int i) {
    if (i < 0 || !Character.isLetterOrDigit(text.charAt(i))) {
      return false;
    }
    return i < 2 || text.charAt(i - 2) != '%' || !isHex(text.charAt(i - 1))
        || !isHex(text.charAt(i));
  }

  /** {@code s} with the hex digits of its percent escapes in lower case. */
  private static String withLowerCaseEscapes(String s) {
    int i = s.indexOf('%');
    if (i < 0) {
      return s;
    }
    char[] c = s.toCharArray();
    for (; i >= 0 && i + 2 < c.length; i = s.indexOf('%', i + 1)) {
      if (isHex(c[i + 1]) && isHex(c[i + 2])) {
        c[i + 1] = Character.toLowerCase(c[i + 1]);
        c[i + 2] = Character.toLowerCase(c[i + 2]);
      }
    }
    return new String(c);
  }

  private static boolean isHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  public Set<String> headerNames() {
    return headers;
  }

  public Set<String> queryNames() {
    return query;
  }
}
