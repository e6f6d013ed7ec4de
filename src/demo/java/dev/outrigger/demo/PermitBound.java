package dev.outrigger.demo;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Checks the attempts sent against what a rate limit lets through from the start of the run:
 * at most {@code burst + rate × t} permits in its first {@code t} seconds. Every attempt is sent
 * after its permit was granted, so the attempts sent by any moment are among the permits granted
 * by then, and the bound holds for them however late their threads woke for their permits. (The
 * sends counted in a second of their own do not obey the limit's bound: threads that woke late
 * send together, so a second of sends can hold more than a second's permits.) Thread-safe.
 */
final class PermitBound {
  private final double rate;
  private final int burst;
  private final long startNanos;
  private final AtomicLong sent = new AtomicLong();
  /** The first count found past the bound, or null. */
  private final AtomicReference<Excess> excess = new AtomicReference<>();

  /** A count of sends past the bound: {@code sent} attempts {@code elapsedNanos} in. */
  record Excess(long sent, long elapsedNanos) {}

  /** A bound of {@code burst + rate × t} permits, {@code t} timed from {@code startNanos}. */
  PermitBound(double rate, int burst, long startNanos) {
    this.rate = rate;
    this.burst = burst;
    this.startNanos = startNanos;
  }

  /** Counts one attempt sent, now. */
  void sent() {
    long n = sent.incrementAndGet();
    // Read after counting: the n attempts counted so far had all been sent by now.
    long elapsed = System.nanoTime() - startNanos;
    if (n > allowed(elapsed)) {
      excess.compareAndSet(null, new Excess(n, elapsed));
    }
  }

  /** The permits the limit lets through in the first {@code elapsedNanos} of the run. */
  long allowed(long elapsedNanos) {
    return (long) Math.floor(burst + rate * (elapsedNanos / 1e9));
  }

  /** The first count of sends past the bound, or null when they all kept within it. */
  Excess excess() {
    return excess.get();
  }
}
