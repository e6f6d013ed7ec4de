package dev.outrigger.internal.breaker;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The calls of the last {@code seconds} seconds, in one bucket per second, lock-free.
 *
 * <p>Epochs are whole seconds since the window was created. Bucket {@code e mod seconds} holds
 * epoch {@code e}: its epoch tag, its calls and its weights (failures and slow calls packed as in
 * {@link Window#weight}). A recorder whose epoch is newer than the bucket's tag recycles the
 * bucket: it moves the tag forward by compare-and-set, and the one thread that wins swaps the
 * old counts out and subtracts them from the totals. When time moves past the newest epoch seen
 * (the head), the thread that moves the head recycles every bucket whose second left the window,
 * so the totals never count expired calls: amortised O(1), each bucket is recycled at most once
 * per second, and the cost of a long idle period is one pass over the buckets.
 *
 * <p>A call recorded by one thread in the instant another recycles its bucket may be dropped;
 * it is never counted twice, and the totals always return to the exact sum of the buckets.
 */
final class TimeWindow extends Window {
  private static final long SECOND = 1_000_000_000L;
  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
  private static final VarHandle HEAD;
  private static final VarHandle CALLS;
  private static final VarHandle WEIGHTS;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      HEAD = l.findVarHandle(TimeWindow.class, "head", Head.class);
      CALLS = l.findVarHandle(TimeWindow.class, "calls", long.class);
      WEIGHTS = l.findVarHandle(TimeWindow.class, "weights", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The newest epoch seen and its bucket (so the common case needs no division). */
  private record Head(long epoch, int index) {}

  private final int seconds;
  private final int minimumCalls;
  private final long originNanos;
  private final long[] epochs;
  private final long[] bucketCalls;
  private final long[] bucketWeights;
  private volatile Head head = new Head(0, 0);
  private volatile long calls;
  private volatile long weights;

  TimeWindow(int seconds, int minimumCalls, long nowNanos) {
    this.seconds = seconds;
    this.minimumCalls = minimumCalls;
    this.originNanos = nowNanos;
    this.epochs = new long[seconds];
    this.bucketCalls = new long[seconds];
    this.bucketWeights = new long[seconds];
    java.util.Arrays.fill(epochs, Long.MIN_VALUE);
    epochs[0] = 0;
  }

  @Override
  boolean record(int outcome, long nowNanos) {
    long e = epoch(nowNanos);
    Head h = head;
    boolean advanced = false;
    int i;
    if (e == h.epoch) {
      i = h.index;
    } else if (e > h.epoch) {
      advanceTo(e);
      advanced = true;
      i = bucket(e);
    } else if (e > h.epoch - seconds) {
      // Another thread moved the head while this call finished: its second is still in the window.
      i = bucket(e);
    } else {
      return false;
    }
    long tag = (long) LONGS.getVolatile(epochs, i);
    if (tag != e) {
      if (tag > e) {
        // The bucket already holds a newer second: this call is older than the window.
        return advanced;
      }
      recycle(i, e);
    }
    LONGS.getAndAdd(bucketCalls, i, 1L);
    long total = (long) CALLS.getAndAdd(this, 1L) + 1;
    if (outcome != 0) {
      long w = weight(outcome);
      LONGS.getAndAdd(bucketWeights, i, w);
      WEIGHTS.getAndAdd(this, w);
      return true;
    }
    // A success can only lower the rates, except by bringing the window to its minimum; expired
    // successes (a moved head) can raise them.
    return advanced || total == minimumCalls;
  }

  @Override
  Counts counts(long nowNanos) {
    long e = epoch(nowNanos);
    if (e > head.epoch) {
      advanceTo(e);
    }
    return decode(calls, weights);
  }

  private long epoch(long nowNanos) {
    return Math.floorDiv(nowNanos - originNanos, SECOND);
  }

  private int bucket(long epoch) {
    return (int) Math.floorMod(epoch, (long) seconds);
  }

  /** Moves the head to {@code e}; the thread that moves it recycles the buckets that expired. */
  private void advanceTo(long e) {
    while (true) {
      Head h = head;
      if (h.epoch >= e) {
        return;
      }
      if (HEAD.compareAndSet(this, h, new Head(e, bucket(e)))) {
        // Epochs h+1..e take over the buckets of h+1-seconds..e-seconds, which left the window.
        long from = Math.max(h.epoch + 1, e - seconds + 1);
        int j = bucket(from);
        for (long x = from; x <= e; x++) {
          recycle(j, x);
          if (++j == seconds) {
            j = 0;
          }
        }
        return;
      }
    }
  }

  /** Makes bucket {@code i} hold epoch {@code e} if it holds an older one, dropping its counts. */
  private void recycle(int i, long e) {
    long tag;
    while ((tag = (long) LONGS.getVolatile(epochs, i)) < e) {
      if (LONGS.compareAndSet(epochs, i, tag, e)) {
        long oldCalls = (long) LONGS.getAndSet(bucketCalls, i, 0L);
        long oldWeights = (long) LONGS.getAndSet(bucketWeights, i, 0L);
        if (oldCalls != 0) {
          CALLS.getAndAdd(this, -oldCalls);
        }
        if (oldWeights != 0) {
          WEIGHTS.getAndAdd(this, -oldWeights);
        }
        return;
      }
    }
  }
}
