package dev.outrigger.internal;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.DateTimeException;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.Locale;
import java.util.function.LongSupplier;
import okhttp3.Response;

/**
 * Reads the server's hints about when to come back: {@code Retry-After} (delta-seconds or an
 * HTTP-date) and the {@code RateLimit-Reset} / {@code X-RateLimit-Reset} family. Whatever the
 * server sends, nothing here throws, and every delay returned is at most {@link #LONGEST}, so
 * it converts to nanoseconds without overflow; callers cap it further.
 */
public final class RetryAfter {
  /** The longest delay returned (about 146 years): longer hints are cut to it. */
  public static final Duration LONGEST = Duration.ofNanos(Long.MAX_VALUE / 2);

  private RetryAfter() {}

  /**
   * The delay a {@code Retry-After} value asks for, or null when the value is absent or garbage.
   * A date in the past gives {@link Duration#ZERO}.
   *
   * @param value the header value
   * @param wallMillis the current wall-clock time in epoch milliseconds (HTTP-dates are wall time)
   */
  public static Duration parse(String value, long wallMillis) {
    if (value == null) {
      return null;
    }
    String v = value.trim();
    if (v.isEmpty()) {
      return null;
    }
    if (isDigits(v)) {
      // Leading zeros mean nothing (1*DIGIT); absurdly long digit strings saturate instead of
      // overflowing, and callers cap the result.
      String digits = withoutLeadingZeros(v);
      return digits.length() > 12 ? LONGEST : atMost(Duration.ofSeconds(Long.parseLong(digits)));
    }
    Long at = httpDate(v, wallMillis);
    return at == null ? null : until(at, wallMillis);
  }

  /**
   * From {@code nowMillis} to {@code atMillis} (epoch milliseconds): zero if that is past, at
   * most {@link #LONGEST}.
   */
  private static Duration until(long atMillis, long nowMillis) {
    if (atMillis <= nowMillis) {
      return Duration.ZERO;
    }
    long ms = atMillis - nowMillis;
    // Negative only if the subtraction overflowed (a date near the end of time).
    return ms < 0 ? LONGEST : atMost(Duration.ofMillis(ms));
  }

  private static Duration atMost(Duration d) {
    return d.compareTo(LONGEST) > 0 ? LONGEST : d;
  }

  /**
   * RFC 850's obsolete HTTP-date, {@code Sunday, 06-Nov-94 08:49:37 GMT}, its two-digit year
   * read in the century that puts it at most 50 years after {@code wallMillis}'s year.
   */
  private static DateTimeFormatter rfc850(long wallMillis) {
    int year = Instant.ofEpochMilli(wallMillis).atZone(ZoneOffset.UTC).getYear();
    return new DateTimeFormatterBuilder()
        .appendPattern("EEEE, dd-MMM-")
        .appendValueReduced(ChronoField.YEAR, 2, 2, year - 49)
        .appendPattern(" HH:mm:ss 'GMT'")
        .toFormatter(Locale.US)
        .withZone(ZoneOffset.UTC);
  }
  /** C's asctime(), the other obsolete one: {@code Sun Nov  6 08:49:37 1994} (spaces folded). */
  private static final DateTimeFormatter ASCTIME =
      DateTimeFormatter.ofPattern("EEE MMM d HH:mm:ss yyyy", Locale.US).withZone(ZoneOffset.UTC);

  /**
   * An HTTP-date in any of the three formats a recipient must accept (RFC 9110 5.6.7), in epoch
   * milliseconds, or null. A two-digit year more than 50 years ahead is in the past century. A
   * date that parses but lies beyond what epoch milliseconds can hold (asctime's year accepts
   * any number of digits) is garbage too, not an {@link ArithmeticException}.
   */
  private static Long httpDate(String v, long wallMillis) {
    try {
      return ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant()
          .toEpochMilli();
    } catch (DateTimeException | ArithmeticException e) {
      // one of the obsolete formats, or garbage
    }
    try {
      return ZonedDateTime.parse(v, rfc850(wallMillis)).toInstant().toEpochMilli();
    } catch (DateTimeException | ArithmeticException e) {
      // asctime, or garbage
    }
    try {
      return ZonedDateTime.parse(v.replaceAll(" +", " "), ASCTIME).toInstant().toEpochMilli();
    } catch (DateTimeException | ArithmeticException e) {
      return null;
    }
  }

  /** {@code Retry-After} of {@code response}, or null. */
  public static Duration retryAfter(Response response, LongSupplier wallMillis) {
    return parse(response.header("Retry-After"), wallMillis.getAsLong());
  }

  /**
   * When the response says the quota is used up ({@code RateLimit-Remaining: 0} or
   * {@code X-RateLimit-Remaining: 0}), how long until it resets, from {@code RateLimit-Reset} /
   * {@code X-RateLimit-Reset} (delta-seconds, or epoch seconds when the number is larger than
   * 10^9, as GitHub and others send); null when the response says nothing of the kind.
   */
  public static Duration quotaReset(Response response, LongSupplier wallMillis) {
    String remaining = firstHeader(response, "RateLimit-Remaining", "X-RateLimit-Remaining");
    if (remaining == null || !remaining.trim().equals("0")) {
      return null;
    }
    String reset = firstHeader(response, "RateLimit-Reset", "X-RateLimit-Reset");
    if (reset == null) {
      return null;
    }
    String r = reset.trim();
    if (isDigits(r)) {
      r = withoutLeadingZeros(r);
    }
    if (!isDigits(r) || r.length() > 12) {
      return parse(r, wallMillis.getAsLong());
    }
    long n = Long.parseLong(r);
    if (n > 1_000_000_000L) {
      return until(n * 1000, wallMillis.getAsLong());
    }
    return atMost(Duration.ofSeconds(n));
  }

  private static String firstHeader(Response response, String... names) {
    for (String n : names) {
      String v = response.header(n);
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  /** {@code digits} without its leading zeros; {@code "0"} if it is all zeros. */
  private static String withoutLeadingZeros(String digits) {
    int i = 0;
    while (i < digits.length() - 1 && digits.charAt(i) == '0') {
      i++;
    }
    return digits.substring(i);
  }

  private static boolean isDigits(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }
}
