package dev.outrigger.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs JMH with the arguments of {@code -Dexec.appArgs="ChainOverhead -t 2"}, which the bench
 * profile has Maven split as a shell would (quote a value that holds a space:
 * {@code -jvmArgsAppend '-Xmx1g -Xms1g'}). A benchmark that throws
 * fails the run ({@code -foe true}, unless the arguments give {@code -foe}): by JMH's default the
 * row drops out of the summary table, the stack trace scrolls by with the iterations, and the
 * run exits 0.
 */
public final class JmhMain {
  private JmhMain() {}

  public static void main(String[] args) throws Exception {
    List<String> words = new ArrayList<>(List.of(args));
    if (!words.contains("-foe")) {
      words.addAll(0, List.of("-foe", "true"));
    }
    org.openjdk.jmh.Main.main(words.toArray(new String[0]));
  }
}
