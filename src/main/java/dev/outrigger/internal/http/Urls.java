package dev.outrigger.internal.http;

import dev.outrigger.internal.Redactor;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import okhttp3.HttpUrl;

/** Path templates and URL resolution. */
public final class Urls {
  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private Urls() {}

  /**
   * Percent-encodes {@code value} as exactly one path segment: everything but RFC 3986's
   * unreserved characters is encoded, so {@code /}, {@code ?}, {@code #}, CR/LF and non-ASCII can
   * never change the path or reach a header.
   *
   * @throws IllegalArgumentException for the empty string, and for {@code .} and {@code ..},
   *     which every URL parser treats as path navigation however they are encoded
   *     ({@code %2E%2E} included)
   */
  public static String encodeSegment(String value) {
    String refused = refusal(value);
    if (refused != null) {
      throw new IllegalArgumentException("path argument " + refused);
    }
    StringBuilder sb = new StringBuilder(value.length() + 8);
    appendEncoded(sb, value);
    return sb.toString();
  }

  /** Why {@code value} cannot be a path segment, to follow "path argument ..."; null if it can. */
  private static String refusal(String value) {
    if (value.isEmpty()) {
      return "is empty, which cannot be a path segment";
    }
    if (value.equals(".") || value.equals("..")) {
      return "is '" + value + "', which URL parsers treat as navigation however it is encoded, so"
          + " it would change the path";
    }
    return null;
  }

  /** Appends {@code value} with everything but RFC 3986's unreserved characters encoded. */
  private static void appendEncoded(StringBuilder sb, String value) {
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    for (byte b : bytes) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '_' || c == '~') {
        sb.append((char) c);
      } else {
        sb.append('%').append(HEX[c >> 4]).append(HEX[c & 0xf]);
      }
    }
  }

  /**
   * Replaces each {@code {name}} in {@code template}, in order, with the next argument encoded
   * as one path segment.
   *
   * @param redactor what the messages hide of {@code template} (it may be a whole URL, with a
   *     secret query parameter or user info)
   * @throws IllegalArgumentException when the placeholders and arguments do not match, or an
   *     argument is null, empty, {@code .} or {@code ..} (the message names which)
   */
  public static String expand(Redactor redactor, String template, Object... args) {
    if (args.length == 0 && template.indexOf('{') < 0) {
      return template;
    }
    StringBuilder sb = new StringBuilder(template.length() + 16);
    int used = 0;
    int i = 0;
    while (i < template.length()) {
      char c = template.charAt(i);
      if (c == '{') {
        int end = template.indexOf('}', i);
        if (end < 0) {
          throw new IllegalArgumentException("path template '" + redactor.text(template)
              + "' has an unclosed '{' at index " + i);
        }
        if (used >= args.length) {
          throw new IllegalArgumentException("path template '" + redactor.text(template)
              + "' has more {} placeholders than the " + args.length + " argument(s) given");
        }
        Object arg = args[used++];
        String value = arg == null ? null : String.valueOf(arg);
        String refused = value == null ? "is null" : refusal(value);
        if (refused != null) {
          // Which of the arguments, for which placeholder: a template may take several.
          throw new IllegalArgumentException("path argument " + used + " for '"
              + template.substring(i, end + 1) + "' in '" + redactor.text(template) + "' "
              + refused);
        }
        appendEncoded(sb, value);
        i = end + 1;
      } else {
        sb.append(c);
        i++;
      }
    }
    if (used != args.length) {
      throw new IllegalArgumentException("path template '" + redactor.text(template) + "' has "
          + used + " placeholder(s) but " + args.length + " argument(s) were given");
    }
    return sb.toString();
  }

  /** Whether {@code s} is an absolute http(s) URL rather than a path. */
  public static boolean isAbsolute(String s) {
    return s.regionMatches(true, 0, "http://", 0, 7) || s.regionMatches(true, 0, "https://", 0, 8);
  }

  /**
   * Whether {@code s} starts with a URL scheme and {@code ://} (RFC 3986: a letter, then letters,
   * digits, {@code +}, {@code -} or {@code .}): an absolute URL, of a scheme other than http(s)
   * when {@link #isAbsolute} said no. A path's first segment may hold a colon ({@code a:b}), not
   * {@code ://}.
   */
  private static boolean hasOtherScheme(String s) {
    int n = s.length();
    if (n == 0 || !isAsciiLetter(s.charAt(0))) {
      return false;
    }
    for (int i = 1; i < n; i++) {
      char c = s.charAt(i);
      if (c == ':') {
        return s.startsWith("//", i + 1);
      }
      if (!isAsciiLetter(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') {
        return false;
      }
    }
    return false;
  }

  private static boolean isAsciiLetter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  /**
   * {@code url} unless it carries a user name or password, which a client on a transport of
   * its own refuses: OkHttp sends no credentials from a URL (Go's net/http and curl would send
   * them as Basic auth), so they would be dropped without a word. ({@code what} names the URL in
   * the message: "baseUrl", or nothing for a call's.) A client given an {@code OkHttpClient}
   * lets them through, for an interceptor or authenticator of its own to read.
   */
  public static HttpUrl withoutCredentials(HttpUrl url, String what, Redactor redactor) {
    if (url.username().isEmpty() && url.password().isEmpty()) {
      return url;
    }
    throw new IllegalArgumentException(what + "'" + redactor.url(url) + "' has a user name or"
        + " password, which would not be sent (OkHttp sends no credentials from a URL): drop"
        + " them from the URL and give them with ApiClient.builder().auth(refresh ->"
        + " okhttp3.Credentials.basic(user, password))");
  }

  /** Parsed origins ({@code scheme://authority}) of absolute URLs: hosts canonicalised once. */
  private static final ConcurrentHashMap<String, HttpUrl> ORIGINS = new ConcurrentHashMap<>();
  private static final int MAX_ORIGINS = 1024;

  /**
   * {@code path} appended to {@code base}'s path (not RFC 3986 resolution, which would drop the
   * base's last segment: {@code /v1} + {@code /posts} is {@code /v1/posts}); an absolute URL is
   * used as is.
   *
   * @param redactor what the messages hide of {@code path}
   * @throws IllegalArgumentException when the result is not a valid http(s) URL, {@code path} is
   *     an absolute URL of another scheme ({@code ws://}, {@code ftp://}), or a relative path is
   *     used without a base URL
   */
  public static HttpUrl resolve(HttpUrl base, String path, Redactor redactor) {
    if (isAbsolute(path)) {
      int authority = path.indexOf("://") + 3;
      int end = authority;
      while (end < path.length() && "/?#".indexOf(path.charAt(end)) < 0) {
        end++;
      }
      String origin = path.substring(0, end);
      HttpUrl parsed = ORIGINS.get(origin);
      if (parsed == null) {
        parsed = HttpUrl.parse(origin);
        if (parsed == null || !parsed.username().isEmpty() || !parsed.password().isEmpty()) {
          // Not cached: user info or garbage goes through the full parser every time.
          HttpUrl full = HttpUrl.parse(path);
          if (full == null) {
            throw new IllegalArgumentException("not a valid http(s) URL: '"
                + redactor.text(path) + "'");
          }
          return full;
        }
        if (ORIGINS.size() >= MAX_ORIGINS) {
          ORIGINS.clear();
        }
        ORIGINS.put(origin, parsed);
      }
      return append(parsed, path.substring(end));
    }
    if (hasOtherScheme(path)) {
      // Appended to the base URL, it would go to the base's host as a path ("/v1/ws://...").
      throw new IllegalArgumentException("'" + redactor.text(path) + "' is an absolute URL of "
          + "a scheme other than http or https, which this client cannot call");
    }
    if (base == null) {
      throw new IllegalArgumentException("'" + redactor.text(path)
          + "' is a relative path but the client has "
          + "no baseUrl: set ApiClient.Builder.baseUrl or pass an absolute http(s) URL");
    }
    return append(base, path);
  }

  /** Appends an encoded path, query and fragment to a base without re-parsing the host. */
  private static HttpUrl append(HttpUrl base, String rest) {
    int hash = rest.indexOf('#');
    String fragment = hash >= 0 ? rest.substring(hash + 1) : null;
    String beforeHash = hash >= 0 ? rest.substring(0, hash) : rest;
    int q = beforeHash.indexOf('?');
    String query = q >= 0 ? beforeHash.substring(q + 1) : null;
    String p = q >= 0 ? beforeHash.substring(0, q) : beforeHash;
    if (p.isEmpty() && query == null && fragment == null) {
      return base;
    }
    HttpUrl.Builder b = base.newBuilder();
    if (!p.isEmpty()) {
      if (p.startsWith("/")) {
        p = p.substring(1);
      }
      b.addEncodedPathSegments(p);
    }
    if (query != null) {
      b.encodedQuery(query);
    }
    if (fragment != null) {
      b.encodedFragment(fragment);
    }
    return b.build();
  }

  /**
   * Where the path of the absolute URL {@code text} starts: its first '/' or '\\' (which OkHttp
   * reads as '/') after the scheme's "://"; -1 when it has none.
   */
  public static int pathStart(String text) {
    int authority = text.indexOf("://");
    authority = authority < 0 ? 0 : authority + 3;
    for (int i = authority; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '/' || c == '\\') {
        return i;
      }
    }
    return -1;
  }
}
