package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.internal.deadline.DeadlineHeaders;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class DeadlineTest {
  private final AtomicLong now = new AtomicLong(5_000_000_000L);

  @Test
  void remainingCountsDownOnTheGivenClockAndNeverGoesNegative() {
    Deadline d = Deadline.after(Duration.ofMillis(300), now::get);
    assertEquals(Duration.ofMillis(300), d.remaining());
    now.addAndGet(100_000_000L);
    assertEquals(Duration.ofMillis(200), d.remaining());
    assertFalse(d.isExpired());
    now.addAndGet(200_000_000L);
    assertTrue(d.isExpired());
    now.addAndGet(1_000_000_000L);
    assertEquals(Duration.ZERO, d.remaining());
    assertEquals(-1_000_000_000L, d.remainingNanos());
  }

  @Test
  void minIsTheTighterOfTwo() {
    Deadline near = Deadline.after(Duration.ofMillis(100), now::get);
    Deadline far = Deadline.after(Duration.ofMillis(900), now::get);
    assertSame(near, near.min(far));
    assertSame(near, far.min(near));
    assertSame(far, far.min(null));
    assertTrue(near.compareTo(far) < 0);
  }

  @Test
  void survivesTheNanoTimeWrapAround() {
    now.set(Long.MAX_VALUE - 50_000_000L);
    Deadline d = Deadline.after(Duration.ofMillis(100), now::get);
    now.addAndGet(60_000_000L);
    assertEquals(Duration.ofMillis(40), d.remaining());
  }

  @Test
  void hugeTimeoutsSaturateInsteadOfOverflowing() {
    Deadline d = Deadline.after(Duration.ofSeconds(Long.MAX_VALUE), now::get);
    assertFalse(d.isExpired());
    assertTrue(d.remaining().toDays() > 365 * 100);
  }

  @Test
  void aNoLimitDurationOfLongMaxNanosNeverOverflows() {
    // Duration.ofNanos(Long.MAX_VALUE) converts to nanoseconds without an exception, so it
    // used to pass unclamped: an expired deadline then compared later than it.
    Deadline expired = Deadline.after(Duration.ofMillis(10), now::get);
    now.addAndGet(1_000_000_000L);
    Deadline forever = Deadline.after(Duration.ofNanos(Long.MAX_VALUE), now::get);
    assertTrue(expired.isExpired());
    assertFalse(forever.isExpired());
    assertSame(expired, expired.min(forever));
    assertSame(expired, forever.min(expired));
    assertTrue(expired.compareTo(forever) < 0);
    assertTrue(forever.remainingNanos() > 0);
    assertTrue(forever.remainingNanos() <= Long.MAX_VALUE / 2);
  }

  @Test
  void aNestedNoLimitScopeNeverLoosensAnExpiredOne() {
    Deadline expired = Deadline.after(Duration.ZERO);
    boolean stillExpired = Deadline.within(expired, () -> Deadline.within(
        Duration.ofNanos(Long.MAX_VALUE), () -> Deadline.current().orElseThrow().isExpired()));
    assertTrue(stillExpired);
  }

  @Test
  void rejectsANegativeTimeout() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Deadline.after(Duration.ofMillis(-1)));
    assertTrue(e.getMessage().contains("negative"));
  }

  @Test
  void nestedScopesCanOnlyTighten() {
    Deadline.within(Duration.ofMillis(200), () -> {
      Deadline outer = Deadline.current().orElseThrow();
      Deadline.within(Duration.ofSeconds(60), () -> {
        assertSame(outer, Deadline.current().orElseThrow(), "a looser inner scope changes nothing");
        return null;
      });
      Deadline.within(Duration.ofMillis(10), () -> {
        assertTrue(Deadline.current().orElseThrow().remaining().toMillis() <= 10);
        return null;
      });
      assertSame(outer, Deadline.current().orElseThrow());
      return null;
    });
    assertTrue(Deadline.current().isEmpty());
  }

  @Test
  void theBodysCheckedExceptionPropagatesAndTheScopeIsRestored() {
    IOException e = assertThrows(IOException.class, () -> Deadline.within(Duration.ofSeconds(1),
        () -> {
          throw new IOException("boom");
        }));
    assertEquals("boom", e.getMessage());
    assertTrue(Deadline.current().isEmpty());
  }

  @Test
  void scopesDoNotLeakAcrossTasksOnAReusedThread() throws Exception {
    try (ExecutorService one = Executors.newSingleThreadExecutor()) {
      one.submit(() -> Deadline.within(Duration.ofSeconds(5), () -> {
        throw new IllegalStateException("fails inside the scope");
      }));
      boolean leaked = one.submit(() -> Deadline.current().isPresent()).get();
      assertFalse(leaked);
    }
  }

  @Test
  void formatsTheBudgetInMillisecondsOrGrpcUnits() {
    assertEquals("250", DeadlineHeaders.format("X-Deadline-Ms", 250_000_000L));
    assertEquals("1", DeadlineHeaders.format("X-Deadline-Ms", 1L));
    assertEquals("250000u", DeadlineHeaders.format("grpc-timeout", 250_000_000L));
    assertEquals("3000000u", DeadlineHeaders.format("grpc-timeout", 3_000_000_000L));
    assertEquals("100000m", DeadlineHeaders.format("grpc-timeout", 100_000_000_000L));
    assertEquals("1n", DeadlineHeaders.format("grpc-timeout", 0));
    // Rounded down, so the receiver is never told of time the client will not wait; less than
    // a unit is sent as one (gRPC wants a positive value; a 0 reads as "no limit" to many).
    assertEquals("1", DeadlineHeaders.format("X-Deadline-Ms", 1_999_999L));
    assertEquals("1", DeadlineHeaders.format("X-Deadline-Ms", -5L));
    assertEquals("99999999n", DeadlineHeaders.format("grpc-timeout", 99_999_999L));
    assertEquals("100000u", DeadlineHeaders.format("grpc-timeout", 100_000_999L));
    // The longest is where deadlines saturate (~146 years).
    assertEquals("4611686018427", DeadlineHeaders.format("X-Deadline-Ms", Long.MAX_VALUE));
    assertEquals("76861433M", DeadlineHeaders.format("grpc-timeout", Long.MAX_VALUE));
  }

  @Test
  void parsesGrpcAndMillisecondHeaders() {
    assertEquals(250_000_000L, DeadlineHeaders.parse("grpc-timeout", "250m"));
    assertEquals(3_000_000_000L, DeadlineHeaders.parse("grpc-timeout", "3S"));
    assertEquals(7_200_000_000_000L, DeadlineHeaders.parse("grpc-timeout", "2H"));
    assertEquals(120_000_000_000L, DeadlineHeaders.parse("GRPC-TIMEOUT", "2M"));
    assertEquals(5L, DeadlineHeaders.parse("grpc-timeout", "5n"));
    assertEquals(1500L * 1_000_000L, DeadlineHeaders.parse("X-Deadline-Ms", " 1500 "));
    for (long nanos : new long[] {1, 999, 1_000_000, 123_456_789, 10_000_000_000L}) {
      String v = DeadlineHeaders.format("grpc-timeout", nanos);
      long back = DeadlineHeaders.parse("grpc-timeout", v);
      assertTrue(back <= nanos, v + " must not lengthen " + nanos);
    }
  }

  @Test
  void ignoresGarbageInboundHeadersWithoutThrowing() {
    String[] garbage = {null, "", "  ", "abc", "12", "-5m", "123456789m", "1x", "1.5S", "m",
        "99999999999999999999"};
    for (String g : garbage) {
      assertTrue(Deadline.fromHeader("grpc-timeout", g).isEmpty(), "grpc-timeout " + g);
    }
    for (String g : new String[] {null, "", "abc", "-1", "1.5", "9999999999999999999m"}) {
      assertTrue(Deadline.fromHeader("X-Deadline-Ms", g).isEmpty(), "ms " + g);
    }
    Deadline d = Deadline.fromHeader("X-Deadline-Ms", "2000").orElseThrow();
    assertTrue(d.remaining().toMillis() <= 2000 && d.remaining().toMillis() > 1000);
  }

  @Test
  void aHugeInboundBudgetIsCappedNeverWrappedIntoATinyOne() {
    // 15 digits of milliseconds, or 8 of hours, overflow a long in nanoseconds: such a caller
    // offers centuries, and must not get a deadline that has all but passed.
    for (String[] h : new String[][] {
        {"X-Deadline-Ms", "18446744073710"}, {"X-Deadline-Ms", "999999999999999"},
        {"grpc-timeout", "3000000H"}, {"grpc-timeout", "99999999H"}}) {
      Deadline d = Deadline.fromHeader(h[0], h[1]).orElseThrow();
      assertTrue(d.remaining().toDays() > 365 * 100, h[0] + ": " + h[1] + " gave "
          + d.remaining());
    }
  }

  @Test
  void millisecondsOfSixteenDigitsOrMoreAreCappedAsGrpcTimeoutHoursAre() {
    // Such a caller offers centuries, as one sending 99999999H does: no deadline to speak of,
    // not a malformed header to drop.
    for (String ms : new String[] {"1000000000000000", "9999999999999999999",
        "123456789012345678901234567890"}) {
      assertEquals(Long.MAX_VALUE / 2, DeadlineHeaders.parse("X-Deadline-Ms", ms), ms);
      Deadline d = Deadline.fromHeader("X-Deadline-Ms", ms).orElseThrow();
      assertTrue(d.remaining().toDays() > 365 * 100, ms + " gave " + d.remaining());
    }
    assertEquals(Long.MAX_VALUE / 2, DeadlineHeaders.parse("grpc-timeout", "99999999H"));
    // Leading zeros are not magnitude.
    assertEquals(1500L * 1_000_000L,
        DeadlineHeaders.parse("X-Deadline-Ms", "00000000000000001500"));
  }

  @Test
  void deadlinesOnDifferentClocksAreComparedByTheTimeEachHasLeft() {
    // Test clocks far from System.nanoTime(): their instants say nothing about the real ones.
    java.util.concurrent.atomic.AtomicLong ahead =
        new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE / 4);
    java.util.concurrent.atomic.AtomicLong behind =
        new java.util.concurrent.atomic.AtomicLong(Long.MIN_VALUE / 4);
    Deadline soonOnAhead = Deadline.after(Duration.ofMillis(10), ahead::get);
    Deadline laterOnReal = Deadline.after(Duration.ofHours(1));
    assertTrue(soonOnAhead.compareTo(laterOnReal) < 0);
    assertTrue(laterOnReal.compareTo(soonOnAhead) > 0);
    assertEquals(soonOnAhead, laterOnReal.min(soonOnAhead));
    assertEquals(soonOnAhead, soonOnAhead.min(laterOnReal));
    Deadline laterOnBehind = Deadline.after(Duration.ofHours(2), behind::get);
    assertEquals(laterOnReal, laterOnBehind.min(laterOnReal));
    assertTrue(laterOnBehind.compareTo(laterOnReal) > 0);
  }
}
