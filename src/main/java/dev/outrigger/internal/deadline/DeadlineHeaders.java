package dev.outrigger.internal.deadline;

import java.util.Locale;

/**
 * Formats and parses the remaining budget sent on the wire: gRPC's {@code grpc-timeout}
 * ({@code 250m}, {@code 3S}: at most 8 digits and a unit of H, M, S, m, u, n) or a plain number of
 * milliseconds under any other header name.
 */
public final class DeadlineHeaders {
  public static final String GRPC_TIMEOUT = "grpc-timeout";
  private static final long MAX_GRPC_VALUE = 99_999_999L;
  /** Nanoseconds per gRPC unit, finest first, and the units. */
  private static final long[] PER_UNIT =
      {1L, 1_000L, 1_000_000L, 1_000_000_000L, 60_000_000_000L, 3_600_000_000_000L};
  private static final char[] UNITS = {'n', 'u', 'm', 'S', 'M', 'H'};

  private DeadlineHeaders() {}

  public static boolean isGrpc(String headerName) {
    return GRPC_TIMEOUT.equalsIgnoreCase(headerName);
  }

  /**
   * The header value for {@code nanos} remaining, rounded down: the receiver is never told of
   * time the client will not wait (grpc-java truncates too). Less than one unit is sent as one
   * ({@code 1}, {@code 1n}): gRPC requires a positive value, and many receivers read a zero
   * timeout as none at all.
   */
  public static String format(String headerName, long nanos) {
    // At most where deadlines saturate (~146 years).
    long n = Math.min(Math.max(1, nanos), Long.MAX_VALUE / 2);
    if (!isGrpc(headerName)) {
      return Long.toString(Math.max(1, n / 1_000_000));
    }
    // The finest unit whose value fits in 8 digits.
    for (int i = 0; i < UNITS.length; i++) {
      long v = n / PER_UNIT[i];
      if (v <= MAX_GRPC_VALUE) {
        return "" + v + UNITS[i];
      }
    }
    return MAX_GRPC_VALUE + "H";
  }

  /**
   * Nanoseconds a header value grants, or -1 when the value is missing or malformed. A value too
   * large for a deadline (any number of milliseconds past about 146 years, or 8 digits of hours)
   * is capped there, not refused; a {@code grpc-timeout} of more than 8 digits is malformed, as
   * gRPC's format allows at most 8.
   */
  public static long parse(String headerName, String value) {
    if (value == null) {
      return -1;
    }
    String v = value.trim();
    if (v.isEmpty()) {
      return -1;
    }
    if (!isGrpc(headerName)) {
      if (!digits(v, v.length())) {
        return -1;
      }
      int first = 0;
      while (first < v.length() - 1 && v.charAt(first) == '0') {
        first++;
      }
      // 14 digits of ms are past the cap (~146 years) already, and a long holds no more than
      // 18: cap a longer number unparsed, as grpc-timeout's hours are, rather than drop it.
      if (v.length() - first > 15) {
        return Long.MAX_VALUE / 2;
      }
      long ms = Long.parseLong(v, first, v.length(), 10);
      return ms > (Long.MAX_VALUE / 2) / 1_000_000L ? Long.MAX_VALUE / 2 : ms * 1_000_000L;
    }
    int len = v.length();
    if (len < 2 || len > 9 || !digits(v, len - 1)) {
      return -1;
    }
    long amount = Long.parseLong(v.substring(0, len - 1));
    long perUnit = switch (v.charAt(len - 1)) {
      case 'n' -> 1L;
      case 'u' -> 1_000L;
      case 'm' -> 1_000_000L;
      case 'S' -> 1_000_000_000L;
      case 'M' -> 60_000_000_000L;
      case 'H' -> 3_600_000_000_000L;
      default -> -1L;
    };
    if (perUnit < 0) {
      return -1;
    }
    // At most 8 digits of hours is about 10^19 ns, past a long: cap as the ms form does.
    return amount > (Long.MAX_VALUE / 2) / perUnit ? Long.MAX_VALUE / 2 : amount * perUnit;
  }

  private static boolean digits(String s, int end) {
    if (end == 0) {
      return false;
    }
    for (int i = 0; i < end; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }

  static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }
}
