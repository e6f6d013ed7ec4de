package dev.outrigger.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs {@link RateLimiterBench} with 1 and then 2 threads (short runs: one fork, 3 warmup and 5
 * measured iterations of 1 s, with JMH's GC profiler for bytes allocated per operation), prints
 * one table, then runs {@link RateLimiterAccuracy}.
 *
 * <pre>
 * mvn -q -ntp -Pbench compile exec:exec -Dexec.mainClass=dev.outrigger.bench.RateLimiterBenchMain
 * </pre>
 *
 * Optional arguments: a regex of benchmark methods (default: all), e.g. {@code outrigger|guava}.
 */
public final class RateLimiterBenchMain {
  private RateLimiterBenchMain() {}

  public static void main(String[] args) throws Exception {
    String methods = args.length > 0 && !args[0].isBlank() ? args[0] : ".*";
    List<String[]> rows = new ArrayList<>();
    for (int threads : new int[] {1, 2}) {
      ChainedOptionsBuilder b = new OptionsBuilder()
          .include(RateLimiterBench.class.getName() + "\\.(" + methods + ")$")
          .forks(1)
          .warmupIterations(3)
          .warmupTime(TimeValue.seconds(1))
          .measurementIterations(5)
          .measurementTime(TimeValue.seconds(1))
          .threads(threads)
          .addProfiler(GCProfiler.class);
      Options opts = b.build();
      Collection<RunResult> results = new Runner(opts).run();
      for (RunResult r : results) {
        var p = r.getParams();
        var s = r.getPrimaryResult();
        Result<?> alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
        rows.add(new String[] {
            p.getBenchmark().substring(p.getBenchmark().lastIndexOf('.') + 1),
            p.getParam("regime"), String.valueOf(threads),
            String.format("%.1f ± %.1f", s.getScore(), s.getScoreError()),
            alloc == null ? "?" : String.format("%.0f", alloc.getScore())});
      }
    }
    System.out.println();
    System.out.println("| benchmark | regime | threads | ns/op | B/op |");
    System.out.println("|---|---|---|---|---|");
    for (String[] r : rows) {
      System.out.println("| " + String.join(" | ", r) + " |");
    }
    System.out.println();
    RateLimiterAccuracy.main(new String[0]);
  }
}
