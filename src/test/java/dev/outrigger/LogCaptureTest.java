package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ch.qos.logback.classic.Level;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The tests poll {@link LogCapture} while other threads log (Lettuce's, the Sentinel watch's, a
 * call's): reading what was captured must be safe while another thread appends.
 */
class LogCaptureTest {
  private static final int LINES = 20_000;

  @Test
  void linesCanBeReadWhileAnotherThreadLogs() throws Exception {
    // A logger of its own that writes nowhere else, so the writer below appends as fast as it
    // can (through the console it would mostly wait for the console).
    ch.qos.logback.classic.Logger own =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("outrigger-log-capture-test");
    own.setLevel(Level.DEBUG);
    own.setAdditive(false);
    try (LogCapture logs = new LogCapture(own.getName())) {
      Thread writer = Thread.ofPlatform().start(() -> {
        for (int i = 0; i < LINES; i++) {
          own.debug("line {}", i);
        }
      });
      // Each read walks every line captured so far while the writer adds more.
      while (writer.isAlive()) {
        List<String> lines = logs.lines();
        for (int i = 0; i < lines.size(); i++) {
          assertEquals("DEBUG line " + i, lines.get(i));
        }
      }
      writer.join();
      own.info("last");
      List<String> lines = logs.lines();
      assertEquals(LINES + 1, lines.size());
      assertEquals("INFO last", lines.get(LINES));
    } finally {
      own.setAdditive(true);
      own.setLevel(null);
    }
  }
}
