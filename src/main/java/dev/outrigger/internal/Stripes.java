package dev.outrigger.internal;

/**
 * Spreading a hot counter's writes over cells, one picked by each thread, so that threads on
 * different cores rarely write the same cache line: how many cells (the breaker's success cells,
 * the retry budget's rings, the deadline watchdog's stacks), and which one a thread writes.
 */
public final class Stripes {
  /** Fibonacci hashing's multiplier: 2^64 divided by the golden ratio. */
  private static final long PHI = 0x9E37_79B9_7F4A_7C15L;

  private Stripes() {}

  /**
   * How many cells: {@code perProcessor} per available processor, rounded up to a power of two,
   * at least 2 and at most {@code max} (a power of two).
   */
  public static int count(int perProcessor, int max) {
    int n = perProcessor * Runtime.getRuntime().availableProcessors();
    int pow = n <= 2 ? 2 : Integer.highestOneBit(n - 1) << 1;
    return Math.min(max, pow);
  }

  /**
   * The calling thread's cell among {@code stripes} (a power of two): bits 32 and up of its id's
   * Fibonacci hash, which spread consecutive ids over the cells. (The breaker's windows take the
   * top bits instead; with two benchmark threads on two cores this choice measured 43 ns per
   * watchdog push where the top bits gave 70 to 78, the two threads' cells meeting.)
   */
  public static int ofCurrentThread(int stripes) {
    return (int) ((Thread.currentThread().threadId() * PHI) >>> 32) & (stripes - 1);
  }
}
