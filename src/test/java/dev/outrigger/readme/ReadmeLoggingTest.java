package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.outrigger.ApiClient;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** README "Logging". */
class ReadmeLoggingTest {

  /**
   * "slf4j, logger dev.outrigger.ApiClient: one DEBUG line per attempt (method, redacted URL,
   * status or error, elapsed, attempt number)"; "WARN when build() finds policies that cannot
   * work together".
   */
  @Test
  void oneDebugLinePerAttemptAndAWarnForPoliciesThatCannotWork() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger("dev.outrigger.ApiClient");
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    try (ReadmeServer server = new ReadmeServer(
            (r, n) -> n == 1 ? new Reply(503, "busy") : Reply.ok("ok"));
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(1))).build()) {
      client.get("/x").query("token", "s3cr3t").execute(String.class);
      assertThrows(TransportException.class, () -> client.get("http://127.0.0.1:" + closed + "/y")
          .execute(String.class));
      List<String> lines = appender.list.stream()
          .filter(e -> e.getLevel() == Level.DEBUG)
          .map(ILoggingEvent::getFormattedMessage).toList();
      assertEquals(5, lines.size(), lines.toString());
      String url = server.url() + "/x?token=REDACTED";
      assertTrue(lines.get(0).matches("GET \\Q" + url + "\\E -> 503 in \\d+ ms \\(attempt 1\\)"),
          lines.get(0));
      assertTrue(lines.get(1).matches("GET \\Q" + url + "\\E -> 200 in \\d+ ms \\(attempt 2\\)"),
          lines.get(1));
      for (int i = 2; i < 5; i++) {
        assertTrue(lines.get(i).matches("GET http://127\\.0\\.0\\.1:" + closed
            + "/y -> .*connect.* in \\d+ ms \\(attempt " + (i - 1) + "\\)"), lines.get(i));
        // The method and URL once: the failure's own message starts with them.
        assertEquals(1, lines.get(i).split("/y", -1).length - 1, lines.get(i));
      }
      appender.list.clear();
      ApiClient.builder().baseUrl(server.url()).deadline(Duration.ofMillis(100))
          .retry(Retry.exponential(Duration.ofMillis(100), Duration.ofMillis(100))
              .jitter(Jitter.NONE))
          .build().close();
      assertTrue(appender.list.stream().anyMatch(e -> e.getLevel() == Level.WARN
              && e.getFormattedMessage().contains("exceed the deadline")),
          appender.list.toString());
    } finally {
      logger.detachAppender(appender);
    }
  }

  /**
   * "... and one more for each request OkHttp sends within an attempt (a redirect it follows, an
   * authenticator's answer to a 401), which says so": the attempt's own line stays one, with
   * the call's URL, and the follow-up has its own, with its URL.
   */
  @Test
  void aRequestOkHttpSendsWithinAnAttemptHasADebugLineOfItsOwn() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    int start = readme.indexOf("## Logging");
    String intro = readme.substring(start, readme.indexOf("The other loggers", start))
        .replaceAll("\\s+", " ");
    assertTrue(intro.contains("one more for each request OkHttp sends within an attempt"),
        "README's Logging section says what the follow-up lines are");
    Logger logger = (Logger) LoggerFactory.getLogger("dev.outrigger.ApiClient");
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    try (ReadmeServer server = new ReadmeServer((r, n) -> r.target().startsWith("/old")
            ? new Reply(302, "", "Location", "/new?token=s3cr3t") : Reply.ok("moved"));
        ApiClient client = ApiClient.builder().baseUrl(server.url()).build()) {
      assertEquals("moved", client.get("/old").execute(String.class));
      List<String> lines = appender.list.stream()
          .filter(e -> e.getLevel() == Level.DEBUG)
          .map(ILoggingEvent::getFormattedMessage).toList();
      assertEquals(2, lines.size(), lines.toString());
      assertEquals("GET " + server.url() + "/new?token=REDACTED: sent by OkHttp within the "
          + "attempt (a redirect, an authenticator, an OkHttp interceptor)", lines.get(0));
      assertTrue(lines.get(1).matches(
          "GET \\Q" + server.url() + "/old\\E -> 200 in \\d+ ms \\(attempt 1\\)"), lines.get(1));
    } finally {
      logger.detachAppender(appender);
    }
  }

  /**
   * "The other loggers, all under dev.outrigger": every logger the library's code asks slf4j
   * for (a class's name, or a name given as a string) is named in README's Logging section, so a
   * user can find what logs and at which level.
   */
  @Test
  void everyLoggerTheCodeUsesIsNamedInTheLoggingSection() throws IOException {
    String readme = Files.readString(Path.of("README.md"));
    int start = readme.indexOf("## Logging");
    assertTrue(start >= 0, "README has a Logging section");
    int end = readme.indexOf("\n## ", start + 1);
    String section = readme.substring(start, end < 0 ? readme.length() : end);
    Path main = Path.of("src/main/java");
    Pattern byClass = Pattern.compile("getLogger\\((\\w+)\\.class\\)");
    Pattern byName = Pattern.compile("getLogger\\(\"([\\w.]+)\"\\)");
    List<String> used = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    try (Stream<Path> files = Files.walk(main)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        String code = Files.readString(file);
        Matcher m = byClass.matcher(code);
        while (m.find()) {
          used.add(qualified(main, m.group(1)));
        }
        m = byName.matcher(code);
        while (m.find()) {
          used.add(m.group(1));
        }
      }
    }
    for (String logger : used) {
      if (!section.contains("`" + logger + "`")) {
        missing.add(logger);
      }
    }
    assertTrue(used.size() >= 10, "the scan found the library's loggers: " + used);
    assertEquals(List.of(), missing, "loggers the code uses that README's Logging section omits");
  }

  /** The fully qualified name of the main class {@code simpleName} (its file's package). */
  private static String qualified(Path main, String simpleName) throws IOException {
    try (Stream<Path> files = Files.walk(main)) {
      Path file = files.filter(f -> f.getFileName().toString().equals(simpleName + ".java"))
          .findFirst().orElseThrow(() -> new AssertionError("no source for " + simpleName));
      return main.relativize(file).toString().replace('/', '.').replaceAll("\\.java$", "");
    }
  }
}
