package dev.outrigger;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/** Starts a second JVM on this test run's class path, to test what crosses process borders. */
public final class JavaProcess {
  private JavaProcess() {}

  /** The class path of this test run (surefire's, not its booter jar's). */
  public static List<String> testClassPath() {
    String cp = System.getProperty("surefire.test.class.path",
        System.getProperty("java.class.path"));
    return Arrays.stream(cp.split(File.pathSeparator)).filter(s -> !s.isBlank()).toList();
  }

  /**
   * A process builder running {@code main} with {@code args} on the JDK running the tests, on
   * the test class path minus the entries {@code drop} matches, with {@code jvmArgs} first.
   */
  public static ProcessBuilder builder(Class<?> main, Predicate<String> drop, List<String> jvmArgs,
      String... args) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp = testClassPath().stream().filter(drop.negate())
        .collect(Collectors.joining(File.pathSeparator));
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(cp);
    cmd.add(main.getName());
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
  }

  /** Kills {@code p} if it is still running (a failed test must not leave it behind). */
  public static void kill(Process p) throws IOException, InterruptedException {
    if (p != null && p.isAlive()) {
      p.destroyForcibly().waitFor();
    }
  }
}
