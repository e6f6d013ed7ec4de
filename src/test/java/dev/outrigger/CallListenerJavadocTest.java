package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A listener is written against CallListener's javadoc alone: every parameter of every method
 * says what it holds (callEnd's {@code status} did not: -1 when no answer came). Checked with
 * the JDK's own doclint, whose "missing" group reports a parameter without {@code @param}.
 */
class CallListenerJavadocTest {
  @Test
  void everyParameterOfEveryMethodIsDocumented(@TempDir Path out) {
    ToolProvider javadoc = ToolProvider.findFirst("javadoc").orElseThrow();
    StringWriter log = new StringWriter();
    PrintWriter w = new PrintWriter(log);
    int status = javadoc.run(w, w, "-quiet", "-Xdoclint:missing", "-d", out.toString(),
        "-sourcepath", "src/main/java",
        "-cp", String.join(File.pathSeparator, JavaProcess.testClassPath()),
        "src/main/java/dev/outrigger/CallListener.java");
    w.flush();
    assertEquals(0, status, log.toString());
    List<String> missing = Arrays.stream(log.toString().split("\n"))
        .filter(l -> l.contains("warning:")).toList();
    assertTrue(missing.isEmpty(), String.join("\n", missing));
  }
}
