package dev.outrigger.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs {@link RateLimiterBench} with 1 and 2 threads, prints one table, then runs
 * {@link RateLimiterAccuracy}.
 *
 * <pre>
 * mvn -q -ntp -Pbench compile exec:exec -Dexec.mainClass=dev.outrigger.bench.RateLimiterBenchMain
 * </pre>
 *
 * <p>Short JMH runs (one fork per benchmark, 2 warmup and 3 measured iterations of 1 s, JMH's GC
 * profiler for bytes per operation), repeated in several rounds. On a shared 2-core machine a
 * 2-thread benchmark doubles its time whenever another process takes a core, and a library
 * measured during such a spell looks twice as slow as one measured a minute earlier. Rounds
 * spread every library's iterations over the whole run; the table gives the median and the best
 * (least disturbed) iteration of each.
 *
 * <p>Optional arguments, in order (words of {@code -Dexec.appArgs}, which the bench profile
 * has Maven split as a shell would): a regex of benchmark methods (default all, e.g.
 * {@code outrigger|guava}), the thread counts (default {@code 1,2}), the regimes (default
 * {@code open,saturated}), the number of rounds (default 3), and {@code noaccuracy} to skip the
 * accuracy check.
 */
public final class RateLimiterBenchMain {
  private RateLimiterBenchMain() {}

  /** Iteration scores and allocation of one (benchmark, regime, threads). */
  private record Cell(List<Double> scores, List<Double> alloc) {}

  public static void main(String[] args) throws Exception {
    String methods = args.length > 0 && !args[0].isBlank() ? args[0] : ".*";
    String[] threadCounts = (args.length > 1 ? args[1] : "1,2").split(",");
    String[] regimes = (args.length > 2 ? args[2] : "open,saturated").split(",");
    int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
    boolean accuracy = args.length <= 4 || !args[4].equals("noaccuracy");

    Map<String, Cell> cells = new LinkedHashMap<>();
    for (int round = 0; round < rounds; round++) {
      for (String t : threadCounts) {
        int threads = Integer.parseInt(t.trim());
        Options opts = new OptionsBuilder()
            .include(RateLimiterBench.class.getName() + "\\.(" + methods + ")$")
            .forks(1)
            .warmupIterations(2)
            .warmupTime(TimeValue.seconds(1))
            .measurementIterations(3)
            .measurementTime(TimeValue.seconds(1))
            .threads(threads)
            .param("regime", regimes)
            .addProfiler(GCProfiler.class)
            // A benchmark that throws ends the run, rather than leave its cell out of the table.
            .shouldFailOnError(true)
            .build();
        Collection<RunResult> results = new Runner(opts).run();
        for (RunResult r : results) {
          var p = r.getParams();
          String name = p.getBenchmark().substring(p.getBenchmark().lastIndexOf('.') + 1);
          String key = name + " | " + p.getParam("regime") + " | " + threads;
          Cell c = cells.computeIfAbsent(key, k -> new Cell(new ArrayList<>(), new ArrayList<>()));
          for (BenchmarkResult br : r.getBenchmarkResults()) {
            for (IterationResult ir : br.getIterationResults()) {
              c.scores().add(ir.getPrimaryResult().getScore());
            }
          }
          Result<?> alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
          if (alloc != null) {
            c.alloc().add(alloc.getScore());
          }
        }
      }
    }
    System.out.println();
    System.out.println("| benchmark | regime | threads | median ns/op | best ns/op | B/op |");
    System.out.println("|---|---|---|---|---|---|");
    for (Map.Entry<String, Cell> e : cells.entrySet()) {
      List<Double> s = new ArrayList<>(e.getValue().scores());
      s.sort(null);
      double median = s.size() % 2 == 1 ? s.get(s.size() / 2)
          : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
      double alloc = e.getValue().alloc().stream().mapToDouble(Double::doubleValue).max()
          .orElse(Double.NaN);
      System.out.printf("| %s | %.1f | %.1f | %.0f |%n", e.getKey(), median, s.get(0), alloc);
    }
    System.out.println();
    if (accuracy) {
      RateLimiterAccuracy.main(new String[0]);
    }
  }
}
