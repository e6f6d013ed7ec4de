package dev.outrigger.internal.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * The durations in retry messages and log lines read as their unit's next one where they round up
 * to it, and a wait that is not zero never reads as zero. 999.95 ms used to read "1000.0ms", and
 * 40 µs "0.0ms".
 */
class RetryDelayFormatTest {
  private static final long MS = 1_000_000L;

  @Test
  void aWaitThatRoundsToASecondReadsAsOne() {
    assertEquals("999.9ms", RetryInterceptor.format(999_949_999L));
    assertEquals("1s", RetryInterceptor.format(999_950_000L));
    assertEquals("1s", RetryInterceptor.format(999_999_999L));
    assertEquals("1s", RetryInterceptor.format(1000 * MS));
  }

  @Test
  void aWaitUnderATenthOfAMillisecondReadsInMicrosecondsOrNanoseconds() {
    assertEquals("0ms", RetryInterceptor.format(0));
    assertEquals("999ns", RetryInterceptor.format(999));
    assertEquals("40µs", RetryInterceptor.format(40_000));
    assertEquals("49µs", RetryInterceptor.format(49_999));
    assertEquals("0.1ms", RetryInterceptor.format(50_000));
    assertEquals("1.5ms", RetryInterceptor.format(1_500_000));
    assertEquals("250ms", RetryInterceptor.format(250 * MS));
  }
}
