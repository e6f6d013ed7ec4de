package dev.outrigger.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Time as messages write it: what a reader scans, not {@code Duration}'s ISO text. */
class DurationsTest {
  @Test
  void textIsWholeMillisecondsCutNotRounded() {
    assertEquals("0 ms", Durations.text(0));
    assertEquals("95 ms", Durations.text(95_185_103));
    assertEquals("302 ms", Durations.text(Duration.ofMillis(302).toNanos()));
    assertEquals("99999 ms", Durations.text(Duration.ofMillis(99_999).toNanos() + 999_999));
  }

  @Test
  void lessThanAMillisecondButMoreThanNoneIsUnderOne() {
    assertEquals("under 1 ms", Durations.text(1));
    assertEquals("under 1 ms", Durations.text(999_999));
    assertEquals("1 ms", Durations.text(1_000_000));
  }

  @Test
  void fromAHundredSecondsOnSecondsWithTheMillisecondsAsDecimals() {
    assertEquals("100 s", Durations.text(Duration.ofSeconds(100).toNanos()));
    assertEquals("150.5 s", Durations.text(Duration.ofMillis(150_500).toNanos()));
    assertEquals("150.001 s", Durations.text(Duration.ofMillis(150_001).toNanos() + 999_999));
    assertEquals("172800 s", Durations.text(Duration.ofDays(2).toNanos()));
  }

  @Test
  void aNegativeLengthKeepsItsSign() {
    assertEquals("-1000 ms", Durations.text(Duration.ofSeconds(-1).toNanos()));
  }
}
