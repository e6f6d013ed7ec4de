package dev.outrigger.bench;

import dev.outrigger.Jitter;
import dev.outrigger.internal.retry.Backoff;
import dev.outrigger.internal.retry.RetryBudget;
import java.util.Locale;
import java.util.PriorityQueue;
import java.util.SplittableRandom;

/**
 * Simulations of the retry policy's pieces, no network, simulated time (runs in seconds):
 *
 * <ol>
 *   <li><b>Contention</b>, the model of Marc Brooker's experiment in "Exponential Backoff And
 *   Jitter" (AWS Architecture Blog, 2015): N clients start together and each must make one
 *   optimistic-concurrency write to a single row: read the version, then write conditionally on
 *   it; a write that lost the race backs off and starts over (no attempt limit). Every message
 *   takes a random network delay. For each jitter strategy: the writes sent and the time until
 *   the last client is done, averaged over many seeds. The delays come from Outrigger's own
 *   {@link Backoff}.</li>
 *   <li><b>Amplification under a total outage</b>: calls arrive at a steady rate, every attempt
 *   fails, each call may make {@code maxAttempts}. Attempts per call with and without
 *   Outrigger's {@link RetryBudget} (ratio 0.2 over 10 s plus 10 retries/s), and at a partial
 *   outage, where the budget should not get in the way.</li>
 * </ol>
 *
 * <p>Run: {@code mvn -q -ntp -Pbench compile exec:exec
 * -Dexec.mainClass=dev.outrigger.bench.RetrySimulation}
 */
public final class RetrySimulation {
  private static final long MS = 1_000_000L;

  private RetrySimulation() {}

  public static void main(String[] args) {
    contention();
    System.out.println();
    outage();
  }

  // ---------------------------------------------------------------- contention

  /** Result of one contention run. */
  record Run(long calls, long finishNanos) {}

  static void contention() {
    long base = 5 * MS;
    long cap = 2_000 * MS;
    int seeds = 100;
    int[] clientCounts = {10, 20, 30, 40, 50, 100, 200};
    System.out.printf(Locale.ROOT,
        "Contention: N clients, one OCC write each (read the version, then a conditional write);"
            + " every message takes |N(10 ms, 2 ms)|; backoff %d ms..%d ms x2, unlimited"
            + " attempts; mean of %d seeds%n%n",
        base / MS, cap / MS, seeds);
    StringBuilder calls = new StringBuilder("| clients |");
    StringBuilder time = new StringBuilder("| clients |");
    StringBuilder rule = new StringBuilder("|---:|");
    for (Jitter j : Jitter.values()) {
      calls.append(' ').append(j).append(" |");
      time.append(' ').append(j).append(" |");
      rule.append("---:|");
    }
    calls.append('\n').append(rule).append('\n');
    time.append('\n').append(rule).append('\n');
    for (int n : clientCounts) {
      calls.append("| ").append(n).append(" |");
      time.append("| ").append(n).append(" |");
      for (Jitter j : Jitter.values()) {
        Backoff backoff = new Backoff(base, cap, 2.0, j);
        double totalCalls = 0;
        double totalTime = 0;
        for (int s = 0; s < seeds; s++) {
          Run r = contend(n, backoff, new SplittableRandom(1000L * n + s));
          totalCalls += r.calls;
          totalTime += r.finishNanos;
        }
        calls.append(String.format(Locale.ROOT, " %.0f |", totalCalls / seeds));
        time.append(String.format(Locale.ROOT, " %.0f |", totalTime / seeds / MS));
      }
      calls.append('\n');
      time.append('\n');
    }
    System.out.println("Writes sent until every client has written once (Brooker's \"calls\"):\n");
    System.out.println(calls);
    System.out.println("Time until the last client is done (ms):\n");
    System.out.println(time);
  }

  /**
   * One run of the OCC model, discrete-event: a client sends a read, gets the version back,
   * sends a write carrying it; the server applies the write only if the version is still
   * current. A refused client sleeps its backoff and starts over with a new read. Every message
   * takes a random network delay. All clients start at time 0.
   */
  static Run contend(int clients, Backoff backoff, SplittableRandom random) {
    // event: {time, client, kind, seq, version}; kinds below
    final int readArrives = 0;
    final int readReplyArrives = 1;
    final int writeArrives = 2;
    final int writeReplyArrives = 3;
    PriorityQueue<long[]> events = new PriorityQueue<>(
        (a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[3], b[3]));
    long[] retries = new long[clients];
    long[] previousDelay = new long[clients];
    long seq = 0;
    for (int c = 0; c < clients; c++) {
      events.add(new long[] {net(random), c, readArrives, seq++, 0});
    }
    long version = 0;
    long writes = 0;
    long now = 0;
    while (!events.isEmpty()) {
      long[] e = events.poll();
      now = e[0];
      int c = (int) e[1];
      switch ((int) e[2]) {
        case readArrives -> events.add(
            new long[] {now + net(random), c, readReplyArrives, seq++, version});
        case readReplyArrives -> events.add(
            new long[] {now + net(random), c, writeArrives, seq++, e[4]});
        case writeArrives -> {
          writes++;
          boolean applied = e[4] == version;
          if (applied) {
            version++;
          }
          events.add(new long[] {now + net(random), c, writeReplyArrives, seq++, applied ? 1 : 0});
        }
        default -> {
          if (e[4] == 0) {
            retries[c]++;
            long delay = backoff.next((int) Math.min(retries[c], 60), previousDelay[c], random);
            previousDelay[c] = delay;
            events.add(new long[] {now + delay + net(random), c, readArrives, seq++, 0});
          }
        }
      }
    }
    return new Run(writes, now);
  }

  /** One network hop: |N(10 ms, 2 ms)|, as in Brooker's simulator. */
  private static long net(SplittableRandom random) {
    double ms = Math.abs(10 + 2 * gaussian(random));
    return (long) (ms * MS);
  }

  private static double gaussian(SplittableRandom random) {
    // Box-Muller; SplittableRandom has no nextGaussian before Java 17's RandomGenerator default.
    double u = 1 - random.nextDouble();
    double v = random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  // ---------------------------------------------------------------- outage

  static void outage() {
    System.out.println("Amplification: attempts sent per call, maxAttempts 4, backoff FULL"
        + " 100 ms..2 s, 120 s simulated, one host\n");
    System.out.println("| calls/s | failure rate | no budget | budget 0.2 + 10/s |"
        + " calls failed, no budget | calls failed, budget |");
    System.out.println("|---:|---:|---:|---:|---:|---:|");
    double[][] cases = {{1, 1.0}, {5, 1.0}, {50, 1.0}, {200, 1.0}, {1000, 1.0}, {5000, 1.0},
        {1000, 0.5}, {1000, 0.1}};
    for (double[] c : cases) {
      Outcome free = simulateOutage((int) c[0], c[1], false);
      Outcome budgeted = simulateOutage((int) c[0], c[1], true);
      System.out.printf(Locale.ROOT, "| %d | %.0f%% | %.2f | %.2f | %.1f%% | %.1f%% |%n",
          (int) c[0], c[1] * 100, free.amplification(), budgeted.amplification(),
          free.failedShare() * 100, budgeted.failedShare() * 100);
    }
  }

  /** Totals of one outage run. */
  record Outcome(long calls, long attempts, long failedCalls) {
    double amplification() {
      return attempts / (double) calls;
    }

    double failedShare() {
      return failedCalls / (double) calls;
    }
  }

  static Outcome simulateOutage(int callsPerSecond, double failureRate, boolean withBudget) {
    long duration = 120_000 * MS;
    long interval = 1_000_000_000L / callsPerSecond;
    int maxAttempts = 4;
    Backoff backoff = new Backoff(100 * MS, 2_000 * MS, 2.0, Jitter.FULL);
    SplittableRandom random = new SplittableRandom(7);
    long[] clock = {0};
    RetryBudget budget = withBudget
        ? new RetryBudget(0.2, 10_000 * MS, 10, 16, () -> clock[0])
        : null;
    // event: {time, attempt number, previous delay, seq}
    PriorityQueue<long[]> events = new PriorityQueue<>(
        (a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[3], b[3]));
    long seq = 0;
    long calls = 0;
    for (long t = 0; t < duration; t += interval) {
      events.add(new long[] {t, 1, 0, seq++});
      calls++;
    }
    long attempts = 0;
    long failed = 0;
    while (!events.isEmpty()) {
      long[] e = events.poll();
      clock[0] = e[0];
      int attempt = (int) e[1];
      if (attempt == 1 && budget != null) {
        budget.deposit("host:443");
      }
      attempts++;
      if (random.nextDouble() >= failureRate) {
        continue;
      }
      if (attempt >= maxAttempts || (budget != null && !budget.tryWithdraw("host:443"))) {
        failed++;
        continue;
      }
      long delay = backoff.next(attempt, e[2], random);
      events.add(new long[] {e[0] + delay, attempt + 1, delay, seq++});
    }
    return new Outcome(calls, attempts, failed);
  }
}
