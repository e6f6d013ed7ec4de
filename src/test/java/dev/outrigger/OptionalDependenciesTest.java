package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * Users who never bind metrics, a Redis store or a flight recording pay nothing for them: a
 * client works in a JVM whose class path has no Micrometer, Lettuce, Netty or Reactor, and whose
 * runtime has no {@code jdk.jfr} module (a trimmed jlink image).
 */
class OptionalDependenciesTest {
  private static final Predicate<String> OPTIONAL = p -> p.contains("micrometer")
      || p.contains("lettuce") || p.contains("netty") || p.contains("reactor")
      || p.contains("HdrHistogram") || p.contains("LatencyUtils");

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aClientRunsWithoutMicrometerLettuceOrJfr() throws IOException, InterruptedException {
    assertTrue(JavaProcess.testClassPath().stream().anyMatch(OPTIONAL),
        "the test class path should hold the optional jars this test removes");
    server.enqueue(new MockResponse.Builder().code(200).body("plain").build());

    Process p = JavaProcess.builder(MinimalClientMain.class, OPTIONAL,
        List.of("--limit-modules", "java.base,java.logging,java.xml,java.naming,java.sql,"
            + "java.management,jdk.unsupported"),
        server.url("/x").toString()).start();
    try {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the client JVM did not finish");
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

      assertEquals(0, p.exitValue(), out);
      assertTrue(out.contains("BODY plain"), out);
      assertTrue(out.contains("JFR false"), out);
    } finally {
      JavaProcess.kill(p);
    }
  }
}
