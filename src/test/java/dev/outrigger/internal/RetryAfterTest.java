package dev.outrigger.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** RFC 9110 5.6.7: a recipient must accept all three HTTP-date formats. */
class RetryAfterTest {
  /** 30 s before Sunday, 6 November 1994, 08:49:37 UTC (RFC 9110's example date). */
  private static final long BEFORE_1994 =
      Instant.parse("1994-11-06T08:49:37Z").toEpochMilli() - 30_000;
  /** 30 s before Friday, 27 November 2026, 08:00:00 UTC. */
  private static final long BEFORE_2026 =
      Instant.parse("2026-11-27T08:00:00Z").toEpochMilli() - 30_000;

  @Test
  void readsTheImfFixdate() {
    assertEquals(Duration.ofSeconds(30),
        RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", BEFORE_1994));
  }

  @Test
  void readsTheObsoleteRfc850Date() {
    assertEquals(Duration.ofSeconds(30),
        RetryAfter.parse("Sunday, 06-Nov-94 08:49:37 GMT", BEFORE_1994));
    assertEquals(Duration.ofSeconds(30),
        RetryAfter.parse("Friday, 27-Nov-26 08:00:00 GMT", BEFORE_2026));
  }

  @Test
  void readsTheAsctimeDate() {
    assertEquals(Duration.ofSeconds(30), RetryAfter.parse("Sun Nov  6 08:49:37 1994", BEFORE_1994));
    assertEquals(Duration.ofSeconds(30), RetryAfter.parse("Fri Nov 27 08:00:00 2026", BEFORE_2026));
  }

  @Test
  void readsSecondsAndRefusesGarbage() {
    assertEquals(Duration.ofSeconds(120), RetryAfter.parse(" 120 ", BEFORE_2026));
    assertEquals(Duration.ZERO, RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", BEFORE_2026),
        "a date in the past: now");
    assertNull(RetryAfter.parse("soon", BEFORE_2026));
    assertNull(RetryAfter.parse("Mon, 06 Nov 1994 08:49:37 GMT", BEFORE_1994),
        "the wrong day of the week");
    assertNull(RetryAfter.parse("-5", BEFORE_2026));
  }

  @Test
  void leadingZerosMeanNothing() {
    assertEquals(Duration.ofSeconds(2), RetryAfter.parse("00000000000002", BEFORE_2026));
    assertEquals(Duration.ZERO, RetryAfter.parse("0000000000000000", BEFORE_2026));
    assertEquals(RetryAfter.LONGEST, RetryAfter.parse("0000099999999999", BEFORE_2026));
    assertEquals(Duration.ofSeconds(5), RetryAfter.quotaReset(usedUp("00000000000005"),
        () -> BEFORE_2026), "a delta");
    assertEquals(Duration.ofSeconds(30), RetryAfter.quotaReset(
        usedUp("0000" + (BEFORE_2026 / 1000 + 30)), () -> BEFORE_2026), "epoch seconds");
  }

  private static okhttp3.Response usedUp(String reset) {
    return new okhttp3.Response.Builder()
        .request(new okhttp3.Request.Builder().url("http://api.test/").build())
        .protocol(okhttp3.Protocol.HTTP_1_1).code(429).message("Too Many Requests")
        .header("RateLimit-Remaining", "0").header("RateLimit-Reset", reset).build();
  }

  /** An asctime HTTP-date in year 300,000,000: it parses, but no epoch millisecond holds it. */
  static String farAsctime() {
    String day = java.time.LocalDate.of(300_000_000, 11, 6).getDayOfWeek()
        .getDisplayName(java.time.format.TextStyle.SHORT, java.util.Locale.US);
    return day + " Nov  6 08:49:37 +300000000";
  }

  @Test
  void aDateBeyondEpochMillisecondsIsGarbageNotAnException() {
    assertNull(RetryAfter.parse(farAsctime(), BEFORE_2026));
  }

  @Test
  void everyDelayFitsInNanoseconds() {
    // 10 to 12 digits parse as seconds that may overflow Duration.toNanos(); longer ones
    // saturated beyond it too. Every delay returned converts, and none is longer than LONGEST.
    for (String v : new String[] {"4611686019", "99999999999", "999999999999",
        "9999999999999999999999"}) {
      Duration d = RetryAfter.parse(v, BEFORE_2026);
      assertEquals(RetryAfter.LONGEST, d, v);
      assertEquals(Long.MAX_VALUE / 2, d.toNanos(), v);
    }
    assertEquals(Duration.ofSeconds(4_000_000_000L), RetryAfter.parse("4000000000", BEFORE_2026),
        "a delay within LONGEST is kept");
    assertEquals(RetryAfter.LONGEST,
        RetryAfter.parse("Fri, 31 Dec 9999 23:59:59 GMT", BEFORE_2026), "a date 8,000 years on");
  }
}
