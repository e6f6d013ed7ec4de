package dev.outrigger.demo;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.Charset;
import java.util.Locale;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The live progress bar on a terminal: one line, redrawn in place ({@code \r}), that other lines
 * written meanwhile do not break. While it is shown, {@link System#out} and {@link System#err}
 * go through it: before a line of theirs (a log line of slf4j-simple's, on standard error) the
 * bar is wiped from its line, and once the line is written the bar is drawn again under it.
 * {@link #close()} puts both streams back. Thread-safe; a {@link ReentrantLock}, not
 * {@code synchronized}, as the lines come from virtual threads.
 */
final class ProgressLine implements AutoCloseable {
  /** The widest line {@link #format} gives: a terminal's 80 columns, which it must not wrap. */
  static final int MAX_WIDTH = 80;
  /** The bar's width when the counts leave room for it. */
  private static final int BAR_WIDTH = 30;

  private final ReentrantLock lock = new ReentrantLock();
  private final PrintStream terminal;
  private final PrintStream oldOut = System.out;
  private final PrintStream oldErr = System.err;
  /** The bar as last drawn, or null before the first. */
  private String bar;
  /** The bar's text is on the terminal's current line (not wiped for another line). */
  private boolean shown;
  /** Another writer left its line unfinished: the bar waits for the end of it. */
  private boolean othersMidLine;

  /**
   * The progress line for {@code done} of {@code total} calls, {@code failed} of them failed,
   * {@code seconds} into the run: a bar, then the counts. Never wider than {@link #MAX_WIDTH}:
   * a wrapped line is not redrawn in place, but scrolls a new line at every redraw. The bar is
   * 30 columns, narrower when long counts need the room (at a million calls), and left out
   * when the counts alone fill the line, which are then cut at its end.
   */
  static String format(int done, int total, int failed, double seconds) {
    String counts = String.format(Locale.ROOT, "%d/%d  failed %d  %.0f calls/s  %.1f s",
        done, total, failed, done / seconds, seconds);
    // "[", "] " around the bar.
    int width = Math.min(BAR_WIDTH, MAX_WIDTH - 3 - counts.length());
    if (width < 1) {
      return counts.length() > MAX_WIDTH ? counts.substring(0, MAX_WIDTH) : counts;
    }
    int filled = total == 0 ? width : (int) Math.min(width, (long) done * width / total);
    return "[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + counts;
  }

  /** Draws on {@code terminal} (standard output as it was), and takes over System.out/err. */
  ProgressLine(PrintStream terminal) {
    this.terminal = terminal;
    Charset charset = oldOut.charset();
    System.setOut(new PrintStream(new Interleaved(oldOut), true, charset));
    System.setErr(new PrintStream(new Interleaved(oldErr), true, oldErr.charset()));
  }

  /** Draws {@code line} in place of the bar, unless another line is being written. */
  void draw(String line) {
    lock.lock();
    try {
      String old = shown ? bar : null;
      bar = line;
      if (othersMidLine) {
        return;
      }
      StringBuilder s = new StringBuilder("\r").append(line);
      if (old != null && old.length() > line.length()) {
        // A shorter bar leaves no tail of the longer one behind it.
        s.append(" ".repeat(old.length() - line.length()));
        s.append("\r").append(line);
      }
      terminal.print(s);
      terminal.flush();
      shown = true;
    } finally {
      lock.unlock();
    }
  }

  /** Ends the bar's line (the bar stays as last drawn) and gives System.out/err back. */
  @Override
  public void close() {
    lock.lock();
    try {
      System.setOut(oldOut);
      System.setErr(oldErr);
      if (shown) {
        terminal.println();
        terminal.flush();
        shown = false;
      }
      bar = null;
    } finally {
      lock.unlock();
    }
  }

  /** Wipes the bar off the current line: blanks over it, and the cursor back to its start. */
  private void wipe() {
    if (shown) {
      terminal.print("\r" + " ".repeat(bar.length()) + "\r");
      terminal.flush();
      shown = false;
    }
  }

  /** One of the standard streams, written under the bar's lock and around the bar. */
  private final class Interleaved extends OutputStream {
    private final PrintStream target;

    Interleaved(PrintStream target) {
      this.target = target;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return;
      }
      lock.lock();
      try {
        wipe();
        target.write(b, off, len);
        target.flush();
        othersMidLine = b[off + len - 1] != '\n';
        if (!othersMidLine && bar != null) {
          // The line is written: the bar again, on the line under it.
          terminal.print(bar);
          terminal.flush();
          shown = true;
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void flush() {
      target.flush();
    }
  }
}
