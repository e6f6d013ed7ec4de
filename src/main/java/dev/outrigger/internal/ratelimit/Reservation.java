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
    // Reused when the first bucket it was filled by was left for another: see prev().
    this.prevMulti = null;
    this.nextMulti = null;
  }

  void multi(long[] prev, long[] next) {
    this.prevMulti = prev;
    this.nextMulti = next;
  }

  /**
   * When the waiter may go, with every pause since it reserved. Before the latest pause ends
   * only for a waiter whose permit came due before that pause began (its thread woke late):
   * the waiter holds it until the end (see RealRateLimiter.acquire).
   */
  long wakeAt() {
    return wakeAtNanos + (pause.shift() - shift0);
  }

  /** The bucket's state before the reservation, one time per bandwidth. */
  long[] prev() {
    return prevMulti != null ? prevMulti : new long[] {prevSingle};
  }

  /** The bucket's state the reservation left, one time per bandwidth. */
  long[] next() {
    return nextMulti != null ? nextMulti : new long[] {nextSingle};
  }

  /**
   * Gives the permits back if nothing was reserved after them; best effort. When the bucket was
   * replaced since (a change of rate), to the bucket that replaced it.
   */
  boolean cancel() {
    return bucket.cancel(this) || TokenBucket.cancelRetired(this);
  }
}
