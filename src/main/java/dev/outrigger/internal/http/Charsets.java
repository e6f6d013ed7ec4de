package dev.outrigger.internal.http;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import okhttp3.MediaType;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The charset a response body is text in: its {@code Content-Type}'s charset (UTF-8 when it
 * names none, or one this JVM does not have), unless the body starts with a byte-order mark,
 * which wins, as in OkHttp's {@code ResponseBody.string()}. For the decoder and for the body
 * snippet of an {@code HttpStatusException} alike.
 */
public final class Charsets {
  private static final ConcurrentHashMap<String, Charset> CHARSETS = new ConcurrentHashMap<>();
  private static final int MAX_CONTENT_TYPES = 64;

  private Charsets() {}

  /**
   * The charset of the transport's body, from its Content-Type header. OkHttp's
   * {@code contentType()} parses the header with a regular expression on every call (~0.5 µs of
   * CPU per call measured at concurrency 64); the few distinct values a client sees are parsed
   * once, process-wide (bounded at {@link #MAX_CONTENT_TYPES}).
   */
  public static Charset of(Response response) {
    String header = response.header("Content-Type");
    if (header == null) {
      return StandardCharsets.UTF_8;
    }
    Charset cs = CHARSETS.get(header);
    if (cs == null) {
      MediaType type = MediaType.parse(header);
      cs = type == null ? StandardCharsets.UTF_8 : type.charset(StandardCharsets.UTF_8);
      if (CHARSETS.size() < MAX_CONTENT_TYPES && commonContentType(header)) {
        CHARSETS.putIfAbsent(header, cs);
      }
    }
    return cs;
  }

  /** Whether {@code cs} is UTF-8, UTF-16 or UTF-32, any byte order: what JSON may be in. */
  public static boolean isUnicode(Charset cs) {
    return cs == StandardCharsets.UTF_8 || cs.name().startsWith("UTF-");
  }

  /**
   * Whether {@code bytes} start as JSON in UTF-16 or UTF-32 without a byte-order mark does: a zero
   * among the first two bytes, its first character being ASCII (RFC 4627, section 3, the rule
   * Jackson detects them by). No JSON in an 8-bit charset starts with a zero byte.
   */
  public static boolean startsAsWideUnicode(byte[] bytes) {
    return bytes.length >= 2 && (bytes[0] == 0 || bytes[1] == 0);
  }

  /**
   * Whether {@code bytes} are well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
   * nothing above U+10FFFF), read in place.
   */
  public static boolean isUtf8(byte[] bytes) {
    int i = 0;
    int n = bytes.length;
    while (i < n) {
      int b = bytes[i] & 0xFF;
      if (b < 0x80) {
        i++;
        continue;
      }
      int more;
      int min;
      int max = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        more = 1;
        min = 0x80;
      } else if (b >= 0xE0 && b <= 0xEF) {
        more = 2;
        min = b == 0xE0 ? 0xA0 : 0x80;
        max = b == 0xED ? 0x9F : 0xBF;
      } else if (b >= 0xF0 && b <= 0xF4) {
        more = 3;
        min = b == 0xF0 ? 0x90 : 0x80;
        max = b == 0xF4 ? 0x8F : 0xBF;
      } else {
        return false;
      }
      if (i + more >= n) {
        // Cut short at the end.
        return false;
      }
      int second = bytes[i + 1] & 0xFF;
      if (second < min || second > max) {
        return false;
      }
      for (int k = 2; k <= more; k++) {
        int c = bytes[i + k] & 0xFF;
        if (c < 0x80 || c > 0xBF) {
          return false;
        }
      }
      i += more + 1;
    }
    return true;
  }

  /** The charset of a body an interceptor made (its content type may not be the header's). */
  public static Charset of(ResponseBody body) {
    MediaType ct = body.contentType();
    return ct == null ? StandardCharsets.UTF_8 : ct.charset(StandardCharsets.UTF_8);
  }

  /**
   * The first {@code n} bytes of {@code bytes} as text: in the charset of its byte-order mark,
   * which is skipped, if it starts with one, else in {@code declared}.
   */
  public static String text(byte[] bytes, int n, Charset declared) {
    Charset bom = n >= 2 && mayStartBom(bytes[0]) ? bom(bytes, n) : null;
    if (bom != null) {
      int skip = bomLength(bom);
      return new String(bytes, skip, n - skip, bom);
    }
    return new String(bytes, 0, n, declared);
  }

  /**
   * Whether {@code header} is worth remembering: short, with no parameter but a charset. A value
   * made per response (a multipart boundary) must not fill the cache for everyone else.
   */
  private static boolean commonContentType(String header) {
    if (header.length() > 64) {
      return false;
    }
    int semicolon = header.indexOf(';');
    if (semicolon < 0) {
      return true;
    }
    String rest = header.substring(semicolon + 1).strip();
    return rest.indexOf(';') < 0 && rest.regionMatches(true, 0, "charset=", 0, 8);
  }

  /**
   * The charset a byte-order mark at the start of {@code b} (its first {@code n} bytes) names,
   * or null.
   */
  public static Charset bom(byte[] b, int n) {
    if (n >= 3 && (b[0] & 0xff) == 0xEF && (b[1] & 0xff) == 0xBB && (b[2] & 0xff) == 0xBF) {
      return StandardCharsets.UTF_8;
    }
    if (n >= 4 && b[0] == 0 && b[1] == 0 && (b[2] & 0xff) == 0xFE && (b[3] & 0xff) == 0xFF) {
      return Charset.forName("UTF-32BE");
    }
    if (n >= 4 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xFE && b[2] == 0 && b[3] == 0) {
      return Charset.forName("UTF-32LE");
    }
    if (n >= 2 && (b[0] & 0xff) == 0xFE && (b[1] & 0xff) == 0xFF) {
      return StandardCharsets.UTF_16BE;
    }
    if (n >= 2 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xFE) {
      return StandardCharsets.UTF_16LE;
    }
    return null;
  }

  /** Whether a body starting with {@code first} may start with a byte-order mark. */
  public static boolean mayStartBom(byte first) {
    int b = first & 0xff;
    return b == 0xEF || b == 0xFE || b == 0xFF || b == 0;
  }

  /** The length of the byte-order mark of {@code bom}, a charset {@link #bom} returned. */
  public static int bomLength(Charset bom) {
    String name = bom.name();
    return name.startsWith("UTF-32") ? 4 : name.equals("UTF-8") ? 3 : 2;
  }
}
