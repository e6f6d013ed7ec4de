package dev.outrigger.redis;

import dev.outrigger.LogCapture;
import java.util.List;

/**
 * What a {@link LogCapture} holds, read while another thread (a Sentinel watch's) may still
 * log. LogCapture itself is safe to read then (it once streamed logback's list unguarded, and a
 * read that met an append failed: this class read again); these are shorthands.
 */
final class Logged {
  private Logged() {
  }

  static List<String> lines(LogCapture logs) {
    return logs.lines();
  }

  static String all(LogCapture logs) {
    return logs.all();
  }

  static long count(LogCapture logs, String level, String text) {
    return lines(logs).stream().filter(l -> l.startsWith(level) && l.contains(text)).count();
  }
}
