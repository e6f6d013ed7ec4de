package dev.outrigger.redis;

import dev.outrigger.LogCapture;
import java.util.ConcurrentModificationException;
import java.util.List;

/**
 * What a {@link LogCapture} holds, read while another thread (a Sentinel watch's) may still
 * log: LogCapture reads logback's list of events unguarded, so a read that meets an append
 * fails with {@link ConcurrentModificationException}, and is made again here.
 */
final class Logged {
  private Logged() {
  }

  static List<String> lines(LogCapture logs) {
    for (;;) {
      try {
        return logs.lines();
      } catch (ConcurrentModificationException appendedMeanwhile) {
        // read again
      }
    }
  }

  static String all(LogCapture logs) {
    return String.join("\n", lines(logs));
  }

  static long count(LogCapture logs, String level, String text) {
    return lines(logs).stream().filter(l -> l.startsWith(level) && l.contains(text)).count();
  }
}
