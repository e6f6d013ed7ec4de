package dev.outrigger.internal.ratelimit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.outrigger.RateLimit;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A use of a key that takes from the overflow bucket while the same key's own bucket is being
 * built from it: that permit counts against the key's own bucket, so the key is granted no
 * more than {@code burst + rate * T} over any interval {@code T}, whichever comes first, the
 * take or the building. The hooks run the other use where another thread could.
 *
 * <p>1/s, burst 2, one key. At t0 "a" takes 1 from its own bucket (full again at t0 + 1 s), so
 * "k" shares the overflow bucket, and takes 1 from it at t0 + 0.5 s. After the race, "k" takes
 * every permit it can, each millisecond up to t0 + 4 s, and no two of its grants may be further
 * apart in count than the bound allows.
 */
class OverflowTakeRaceTest {
  private static final long MS = 1_000_000L;
  private final long t0 = 1_000 * MS;
  private final RealRateLimiter l =
      new RealRateLimiter(RateLimit.perSecond(1).burst(2).maxKeys(1), t0);

  private final List<Long> grants = new ArrayList<>();

  private boolean take(String key, long at) {
    boolean ok = l.tryAcquire(key, 1, at);
    if (ok && key.equals("k")) {
      grants.add(at);
    }
    return ok;
  }

  private void kSharesTheOverflowBucket() {
    assertTrue(take("a", t0));
    assertTrue(take("k", t0 + 500 * MS)); // the shared bucket: 1 left
  }

  /** k takes all it can until t0 + 4 s; between any two grants, at most burst + rate * T. */
  private void assertTheBoundHolds(long from) {
    for (long t = from; t <= t0 + 4_000 * MS; t += MS) {
      take("k", t);
    }
    List<Long> g = new ArrayList<>(grants);
    g.sort(null);
    for (int i = 0; i < g.size(); i++) {
      for (int j = i; j < g.size(); j++) {
        long most = 2 + (g.get(j) - g.get(i)) / (1_000 * MS);
        if (j - i + 1 > most) {
          fail((j - i + 1) + " permits from " + (g.get(i) - t0) / MS + " ms to "
              + (g.get(j) - t0) / MS + " ms, more than burst + rate * T = " + most
              + "; grants (ms after t0): " + g.stream().map(x -> (x - t0) / MS).toList());
        }
      }
    }
  }

  @Test
  void aTakeFromTheOverflowBucketWhileTheKeysBucketIsBuiltFromItCounts() {
    kSharesTheOverflowBucket();
    long t1 = t0 + 1_000 * MS;
    boolean[] racer = {false};
    l.beforeInsert = () -> {
      l.beforeInsert = null;
      // "b" fills the table the sweep just made room in, and another use of "k" takes from
      // the shared bucket after k's own was built from it, before it is published.
      assertTrue(take("b", t1));
      racer[0] = take("k", t1);
    };
    take("k", t1); // the sweep drops a; k gets a bucket of its own
    assertTrue(racer[0], "the racing use took from the shared bucket");
    assertTheBoundHolds(t1);
  }

  @Test
  void aTakeFromTheOverflowBucketJustAfterTheKeysBucketWasPublishedCounts() {
    kSharesTheOverflowBucket();
    boolean[] other = {false};
    l.beforeOverflowUse = () -> {
      l.beforeOverflowUse = null;
      // This use of "k" holds the shared bucket; before it takes from it, another thread's
      // use (once the sweep is due) drops "a" and gives "k" a bucket of its own.
      other[0] = take("k", t0 + 1_000 * MS);
    };
    take("k", t0 + 950 * MS); // the use holding the shared bucket
    assertTrue(other[0], "k's own bucket, built from the shared one");
    assertTheBoundHolds(t0 + 1_000 * MS);
  }

  @Test
  void aTakeFromTheOverflowBucketJustBeforeTheKeysBucketIsPublishedCountsForAUseRightAfter() {
    kSharesTheOverflowBucket();
    long t1 = t0 + 1_000 * MS;
    boolean[] racer = {false};
    l.beforePublish = () -> {
      l.beforePublish = null;
      // k's own bucket is built and about to be published: "b" fills the table again, and a
      // use of "k" handed the shared bucket takes from it, finding no bucket of k's yet.
      assertTrue(take("b", t1));
      racer[0] = take("k", t1);
      l.afterPublish = () -> {
        l.afterPublish = null;
        // The bucket is out: a third use of "k" takes from it at once.
        take("k", t1);
      };
    };
    take("k", t1); // the sweep drops a; k gets a bucket of its own
    l.afterPublish = null;
    assertTrue(racer[0], "the racing use took from the shared bucket");
    assertTheBoundHolds(t1);
  }
}
