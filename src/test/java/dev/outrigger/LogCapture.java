package dev.outrigger;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.slf4j.LoggerFactory;

/**
 * Captures everything logged under {@code dev.outrigger} (or another logger) while open. Safe to
 * read while other threads log (the tests poll it while Lettuce's and the library's own threads
 * write): logback's {@code ListAppender} holds an {@code ArrayList} that its writers fill under
 * the appender's lock and a reader would stream without it (a
 * {@code ConcurrentModificationException}, or an entry not yet visible).
 */
public final class LogCapture implements AutoCloseable {
  private final Logger logger;
  private final Queue<ILoggingEvent> events = new ConcurrentLinkedQueue<>();
  private final UnsynchronizedAppenderBase<ILoggingEvent> appender =
      new UnsynchronizedAppenderBase<>() {
        @Override
        protected void append(ILoggingEvent e) {
          e.prepareForDeferredProcessing(); // formatted now, not when a test reads it
          events.add(e);
        }
      };

  public LogCapture() {
    this("dev.outrigger");
  }

  /** Captures what is logged under {@code name}, a library's package for one. */
  public LogCapture(String name) {
    logger = (Logger) LoggerFactory.getLogger(name);
    appender.start();
    logger.addAppender(appender);
  }

  /** Every formatted message so far, in the order logged, with the stack traces' messages. */
  public List<String> lines() {
    return events.stream()
        .map(e -> e.getLevel() + " " + e.getFormattedMessage()
            + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage()))
        .collect(Collectors.toList());
  }

  /** How many lines are at {@code level} (INFO, WARN...) and contain {@code text}. */
  public long count(String level, String text) {
    return lines().stream().filter(l -> l.startsWith(level) && l.contains(text)).count();
  }

  public String all() {
    return String.join("\n", lines());
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
  }
}
