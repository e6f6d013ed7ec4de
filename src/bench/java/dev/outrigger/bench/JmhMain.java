package dev.outrigger.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs JMH with arguments given as one string (Maven's exec plugin passes {@code exec.appArgs}
 * as a single argument): {@code -Dexec.appArgs="ChainOverhead -t 2"}.
 */
public final class JmhMain {
  private JmhMain() {}

  public static void main(String[] args) throws Exception {
    org.openjdk.jmh.Main.main(words(args).toArray(new String[0]));
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
