package dev.outrigger.internal.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Jitter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

class BackoffTest {
  private static final long MS = 1_000_000L;
  private static final int SAMPLES = 20_000;

  @Test
  void noJitterIsTheExponentialCappedAtTheMaximum() {
    Backoff b = new Backoff(100 * MS, 1000 * MS, 2.0, Jitter.NONE);
    Random r = new Random(1);
    assertEquals(List.of(100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS),
        List.of(b.next(1, 0, r), b.next(2, 0, r), b.next(3, 0, r), b.next(4, 0, r),
            b.next(5, 0, r), b.next(60, 0, r)));
  }

  @Test
  void multiplierSetsTheGrowth() {
    Backoff b = new Backoff(10 * MS, 10_000 * MS, 3.0, Jitter.NONE);
    assertEquals(10 * MS, b.exponential(1));
    assertEquals(30 * MS, b.exponential(2));
    assertEquals(90 * MS, b.exponential(3));
  }

  @Test
  void hugeRetryNumbersSaturateAtTheCapInsteadOfOverflowing() {
    Backoff b = new Backoff(1, Long.MAX_VALUE, 10.0, Jitter.NONE);
    assertEquals(Long.MAX_VALUE, b.exponential(Integer.MAX_VALUE));
    assertTrue(new Backoff(1, Long.MAX_VALUE, 10.0, Jitter.FULL)
        .next(10_000, 0, new Random(3)) >= 0);
  }

  @Test
  void fullJitterIsUniformBetweenZeroAndTheExponential() {
    Backoff b = new Backoff(100 * MS, 1000 * MS, 2.0, Jitter.FULL);
    Random r = new Random(42);
    for (int retry = 1; retry <= 6; retry++) {
      int n = retry;
      long exp = b.exponential(n);
      Stats s = sample(() -> b.next(n, 0, r));
      assertTrue(s.min >= 0 && s.max <= exp, () -> "range " + s);
      // Uniform on [0, exp]: it reaches both ends' neighbourhoods and its mean is exp/2.
      assertTrue(s.min < exp / 100 && s.max > exp - exp / 100, () -> "spread " + s);
      assertEquals(exp / 2.0, s.mean, exp * 0.02, () -> "mean " + s);
    }
  }

  @Test
  void equalJitterKeepsHalfTheExponentialAndRandomisesTheOtherHalf() {
    Backoff b = new Backoff(100 * MS, 1000 * MS, 2.0, Jitter.EQUAL);
    Random r = new Random(7);
    for (int retry = 1; retry <= 6; retry++) {
      int n = retry;
      long exp = b.exponential(n);
      Stats s = sample(() -> b.next(n, 0, r));
      assertTrue(s.min >= exp / 2 && s.max <= exp, () -> "range " + s);
      assertTrue(s.min < exp / 2 + exp / 100 && s.max > exp - exp / 100, () -> "spread " + s);
      assertEquals(exp * 0.75, s.mean, exp * 0.02, () -> "mean " + s);
    }
  }

  @Test
  void equalJitterReachesTheExponentialForOddValues() {
    Backoff b = new Backoff(3, 3, 2.0, Jitter.EQUAL);
    Random r = new Random(11);
    Stats s = sample(() -> b.next(1, 0, r));
    assertEquals(1, s.min);
    assertEquals(3, s.max);
  }

  @Test
  void decorrelatedJitterIsBetweenTheBaseAndThreeTimesThePreviousDelay() {
    Backoff b = new Backoff(100 * MS, 1000 * MS, 2.0, Jitter.DECORRELATED);
    Random r = new Random(5);
    // First retry: previous is the base, so [base, 3 * base].
    Stats first = sample(() -> b.next(1, 0, r));
    assertTrue(first.min >= 100 * MS && first.max <= 300 * MS, () -> "first " + first);
    assertEquals(200 * MS, first.mean, 6 * MS);
    // After 250 ms: [100, 750] ms.
    Stats after250 = sample(() -> b.next(2, 250 * MS, r));
    assertTrue(after250.min >= 100 * MS && after250.max <= 750 * MS, () -> "" + after250);
    assertEquals(425 * MS, after250.mean, 10 * MS);
  }

  @Test
  void decorrelatedJitterIsCappedAtTheMaximum() {
    Backoff b = new Backoff(100 * MS, 1000 * MS, 2.0, Jitter.DECORRELATED);
    Random r = new Random(9);
    // After 900 ms the draw is in [100, 2700] ms; everything above 1000 ms is cut to 1000.
    Stats s = sample(() -> b.next(5, 900 * MS, r));
    assertEquals(1000 * MS, s.max);
    assertTrue(s.min >= 100 * MS);
    assertTrue(s.atMax > SAMPLES / 2, () -> "most draws hit the cap: " + s);
  }

  @Test
  void decorrelatedChainStaysInItsRangeWhateverTheHistory() {
    Backoff b = new Backoff(50 * MS, 2000 * MS, 2.0, Jitter.DECORRELATED);
    Random r = new Random(13);
    long previous = 0;
    for (int i = 1; i <= SAMPLES; i++) {
      long d = b.next(i, previous, r);
      long high = Math.min(2000 * MS, 3 * (previous == 0 ? 50 * MS : previous));
      assertTrue(d >= 50 * MS && d <= high, "retry " + i + ": " + d + " after " + previous);
      previous = d;
    }
  }

  @Test
  void sameSeedGivesTheSameDelays() {
    for (Jitter j : Jitter.values()) {
      Backoff b = new Backoff(10 * MS, 5000 * MS, 2.0, j);
      assertEquals(sequence(b, new Random(99)), sequence(b, new Random(99)), j.name());
    }
  }

  private static List<Long> sequence(Backoff b, Random r) {
    List<Long> out = new ArrayList<>();
    long previous = 0;
    for (int i = 1; i <= 8; i++) {
      previous = b.next(i, previous, r);
      out.add(previous);
    }
    return out;
  }

  private static Stats sample(LongSupplier draw) {
    Stats s = new Stats();
    s.min = Long.MAX_VALUE;
    double sum = 0;
    List<Long> values = new ArrayList<>(SAMPLES);
    for (int i = 0; i < SAMPLES; i++) {
      long v = draw.getAsLong();
      values.add(v);
      s.min = Math.min(s.min, v);
      s.max = Math.max(s.max, v);
      sum += v;
    }
    s.mean = sum / SAMPLES;
    for (long v : values) {
      if (v == s.max) {
        s.atMax++;
      }
    }
    return s;
  }

  private static final class Stats {
    long min;
    long max;
    double mean;
    int atMax;

    @Override
    public String toString() {
      return "min " + min + ", max " + max + ", mean " + mean + ", at max " + atMax;
    }
  }
}
