package dev.outrigger.internal.http;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
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
   * @throws IllegalArgumentException for {@code .} and {@code ..}, which every URL parser treats
   *     as path navigation however they are encoded ({@code %2E%2E} included)
   */
  public static String encodeSegment(String value) {
    if (value.equals(".") || value.equals("..") || value.isEmpty()) {
      throw new IllegalArgumentException("path argument '" + value + "' cannot be a path segment: "
          + (value.isEmpty() ? "it is empty" : "URL parsers treat it as navigation however it is "
          + "encoded, so it would change the path"));
    }
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    StringBuilder sb = new StringBuilder(bytes.length + 8);
    for (byte b : bytes) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '_' || c == '~') {
        sb.append((char) c);
      } else {
        sb.append('%').append(HEX[c >> 4]).append(HEX[c & 0xf]);
      }
    }
    return sb.toString();
  }

  /**
   * Replaces each {@code {name}} in {@code template}, in order, with the next argument encoded
   * as one path segment.
   *
   * @throws IllegalArgumentException when the placeholders and arguments do not match, or an
   *     argument is null
   */
  public static String expand(String template, Object... args) {
    StringBuilder sb = new StringBuilder(template.length() + 16);
    int used = 0;
    int i = 0;
    while (i < template.length()) {
      char c = template.charAt(i);
      if (c == '{') {
        int end = template.indexOf('}', i);
        if (end < 0) {
          throw new IllegalArgumentException("path template '" + template
              + "' has an unclosed '{' at index " + i);
        }
        if (used >= args.length) {
          throw new IllegalArgumentException("path template '" + template + "' has more {} "
              + "placeholders than the " + args.length + " argument(s) given");
        }
        Object arg = args[used++];
        if (arg == null) {
          throw new IllegalArgumentException("path argument " + used + " for '"
              + template.substring(i, end + 1) + "' in '" + template + "' is null");
        }
        sb.append(encodeSegment(String.valueOf(arg)));
        i = end + 1;
      } else {
        sb.append(c);
        i++;
      }
    }
    if (used != args.length) {
      throw new IllegalArgumentException("path template '" + template + "' has " + used
          + " placeholder(s) but " + args.length + " argument(s) were given");
    }
    return sb.toString();
  }

  /** Whether {@code s} is an absolute http(s) URL rather than a path. */
  public static boolean isAbsolute(String s) {
    String lower = s.length() >= 8 ? s.substring(0, 8).toLowerCase(Locale.ROOT) : s.toLowerCase(Locale.ROOT);
    return lower.startsWith("http://") || lower.startsWith("https://");
  }

  /**
   * {@code path} appended to {@code base}'s path (not RFC 3986 resolution, which would drop the
   * base's last segment: {@code /v1} + {@code /posts} is {@code /v1/posts}); an absolute URL is
   * used as is.
   *
   * @throws IllegalArgumentException when the result is not a valid http(s) URL or a relative
   *     path is used without a base URL
   */
  public static HttpUrl resolve(HttpUrl base, String path) {
    String full;
    if (isAbsolute(path)) {
      full = path;
    } else {
      if (base == null) {
        throw new IllegalArgumentException("'" + path + "' is a relative path but the client has "
            + "no baseUrl: set ApiClient.Builder.baseUrl or pass an absolute http(s) URL");
      }
      String b = base.toString();
      // Keep the base's query out of the join; a base URL with a query is rejected at build().
      if (b.endsWith("/")) {
        b = b.substring(0, b.length() - 1);
      }
      if (path.isEmpty()) {
        full = b;
      } else if (path.startsWith("/") || path.startsWith("?")) {
        full = b + path;
      } else {
        full = b + "/" + path;
      }
    }
    HttpUrl url = HttpUrl.parse(full);
    if (url == null) {
      throw new IllegalArgumentException("not a valid http(s) URL: '" + full + "'");
    }
    return url;
  }
}
