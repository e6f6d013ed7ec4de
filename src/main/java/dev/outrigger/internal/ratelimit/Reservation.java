package dev.outrigger.internal.ratelimit;

/**
 * Permits reserved in a {@link TokenBucket} for a waiter: when to wake, what the key's pause
 * shift was at the time, and the state transition, so the permits can be given back if the wait
 * is abandoned. Filled by the bucket, then owned by the one waiting thread.
 */
final class Reservation {
  TokenBucket bucket;
  PauseState pause;
  long wakeAtNanos;
  long shift0;
  long prevSingle;
  long nextSingle;
  long[] prevMulti;
  long[] nextMulti;

  void fill(TokenBucket bucket, long wakeAtNanos, long shift0) {
    this.bucket = bucket;
    this.pause = bucket.pause;
    this.wakeAtNanos = wakeAtNanos;
    this.shift0 = shift0;
  }

  void single(long prev, long next) {
    this.prevSingle = prev;
    this.nextSingle = next;
  }

  void multi(long[] prev, long[] next) {
    this.prevMulti = prev;
    this.nextMulti = next;
  }

  /** When the waiter may go, with every pause since it reserved. */
  long wakeAt() {
    return wakeAtNanos + (pause.shift() - shift0);
  }

  /** Gives the permits back if nothing was reserved after them; best effort. */
  boolean cancel() {
    return bucket.cancel(this);
  }
}
