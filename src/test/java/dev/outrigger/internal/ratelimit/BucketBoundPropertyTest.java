package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The bucket's promise over random sequences of non-blocking takes and server pauses on a
 * hand-moved clock: between any two grants, at most {@code burst + rate x T} permits (for every
 * bandwidth), nothing granted while a pause is on, and under saturation the bucket grants what
 * the bound allows (no lost capacity). Waits, and the permits they reserve, shift and give back,
 * are tested one by one in {@link RealRateLimiterTest} and {@link PauseAndReconfigureTest}.
 */
class BucketBoundPropertyTest {
  private static final long MS = 1_000_000L;

  private record Grant(long at, int n) {}

  private static void check(RateLimit limit, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    long now = 1_000 * MS;
    RealRateLimiter l = new RealRateLimiter(limit, now);
    List<Grant> grants = new ArrayList<>();
    List<long[]> pauses = new ArrayList<>();
    for (int step = 0; step < 3_000; step++) {
      now += r.nextLong(0, 40 * MS);
      int op = r.nextInt(20);
      if (op == 0) {
        long p = l.pause("k", now, r.nextLong(1, 3_000) * MS);
        pauses.add(new long[] {now, now + l.pausedForNanos("k", now)});
        assertTrue(p >= 0);
      } else {
        int n = 1 + r.nextInt(Math.min(3, limit.burst()));
        if (l.tryAcquire("k", n, now)) {
          grants.add(new Grant(now, n));
        }
      }
    }
    for (Grant g : grants) {
      for (long[] p : pauses) {
        if (g.at() > p[0] && g.at() < p[1]) {
          fail("seed " + seed + ": granted at " + g.at() + " during a pause " + p[0] + ".." + p[1]);
        }
      }
    }
    for (RateLimit band : limit.bandwidths()) {
      double perNano = band.permits() / (double) band.period().toNanos();
      for (int i = 0; i < grants.size(); i++) {
        int sum = 0;
        for (int j = i; j < grants.size(); j++) {
          sum += grants.get(j).n();
          double bound = band.burst() + perNano * (grants.get(j).at() - grants.get(i).at());
          if (sum > bound + 1e-6) {
            fail("seed " + seed + ", band " + band + ": " + sum + " permits in "
                + (grants.get(j).at() - grants.get(i).at()) + " ns, bound " + bound);
          }
        }
      }
    }
  }

  @Test
  void neverMoreThanTheBoundNorDuringAPause() {
    RateLimit[] limits = {
        RateLimit.perSecond(10).burst(5),
        RateLimit.perSecond(0.5).burst(2),
        RateLimit.perSecond(3).burst(7),
        RateLimit.perSecond(10).burst(10).and(RateLimit.per(50, Duration.ofSeconds(10)).burst(20)),
        RateLimit.perSecond(200).burst(3),
    };
    for (int i = 0; i < limits.length; i++) {
      for (long seed = 1; seed <= 5; seed++) {
        check(limits[i], seed * 31 + i);
      }
    }
  }

  @Test
  void underSaturationItGrantsWhatTheBoundAllows() {
    // Asking every millisecond for 10 s at 10/s, burst 5: 5 + 10 x 10 permits, give or take one.
    long now = 1_000 * MS;
    RealRateLimiter l = new RealRateLimiter(RateLimit.perSecond(10).burst(5), now);
    int granted = 0;
    for (long t = now; t <= now + 10_000 * MS; t += MS) {
      if (l.tryAcquire("k", 1, t)) {
        granted++;
      }
    }
    assertTrue(granted >= 104 && granted <= 105, "granted " + granted);
  }
}
