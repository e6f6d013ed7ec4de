package dev.outrigger.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs JMH with arguments given as one string (Maven's exec plugin passes {@code exec.appArgs}
 * as a single argument): {@code -Dexec.appArgs="ChainOverhead -t 2"}. A benchmark that throws
 * fails the run ({@code -foe true}, unless the arguments give {@code -foe}): by JMH's default the
 * row drops out of the summary table, the stack trace scrolls by with the iterations, and the
 * run exits 0.
 */
public final class JmhMain {
  private JmhMain() {}

  public static void main(String[] args) throws Exception {
    List<String> words = words(args);
    if (!words.contains("-foe")) {
      words.addAll(0, List.of("-foe", "true"));
    }
    org.openjdk.jmh.Main.main(words.toArray(new String[0]));
  }

  /** The words of every argument: Maven's exec plugin passes a whole line as one argument. */
  static List<String> words(String[] args) {
    List<String> split = new ArrayList<>();
    for (String a : args) {
      for (String p : a.trim().split("\\s+")) {
        if (!p.isEmpty()) {
          split.add(p);
        }
      }
    }
    return split;
  }
}
