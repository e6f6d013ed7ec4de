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
}
