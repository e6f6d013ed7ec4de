package dev.outrigger.internal.throttle;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.LongSupplier;

/**
 * Requests and accepts over a sliding window made of fixed buckets: the window covers the
 * current bucket and the {@code buckets - 1} before it, so it slides one bucket at a time.
 * Lock-free: a bucket is replaced by compare-and-set when its time has passed, and counted with
 * atomic increments. An increment racing with the bucket's replacement may be lost; the window
 * is an estimate, and losing one count in thousands does not change what it says.
 */
final class AcceptWindow {
  private final long bucketNanos;
  private final int buckets;
  private final LongSupplier nanoTime;
  private final long origin;
  private final AtomicReferenceArray<Bucket> ring;

  /** One bucket's counts; {@code epoch} numbers it since the window's origin. */
  private static final class Bucket {
    final long epoch;
    final AtomicLong requests = new AtomicLong();
    final AtomicLong accepts = new AtomicLong();

    Bucket(long epoch) {
      this.epoch = epoch;
    }
  }

  /** The counts of the whole window at one moment. */
  record Counts(long requests, long accepts) {}

  AcceptWindow(long windowNanos, int buckets, LongSupplier nanoTime) {
    this.buckets = buckets;
    this.bucketNanos = Math.max(1, windowNanos / buckets);
    this.nanoTime = nanoTime;
    this.origin = nanoTime.getAsLong();
    this.ring = new AtomicReferenceArray<>(buckets);
  }

  private long epochNow() {
    return Math.floorDiv(nanoTime.getAsLong() - origin, bucketNanos);
  }

  private Bucket current() {
    long epoch = epochNow();
    int slot = (int) Math.floorMod(epoch, (long) buckets);
    while (true) {
      Bucket b = ring.get(slot);
      if (b != null && b.epoch >= epoch) {
        return b;
      }
      Bucket fresh = new Bucket(epoch);
      if (ring.compareAndSet(slot, b, fresh)) {
        return fresh;
      }
    }
  }

  /** Counts one request, accepted by the backend or not. */
  void record(boolean accepted) {
    Bucket b = current();
    b.requests.incrementAndGet();
    if (accepted) {
      b.accepts.incrementAndGet();
    }
  }

  Counts counts() {
    long epoch = epochNow();
    long requests = 0;
    long accepts = 0;
    for (int i = 0; i < buckets; i++) {
      Bucket b = ring.get(i);
      if (b != null && b.epoch > epoch - buckets && b.epoch <= epoch) {
        requests += b.requests.get();
        accepts += b.accepts.get();
      }
    }
    return new Counts(requests, accepts);
  }

  /** Whether nothing in the window was counted (so the state may be dropped). */
  boolean idle() {
    return counts().requests() == 0;
  }
}
