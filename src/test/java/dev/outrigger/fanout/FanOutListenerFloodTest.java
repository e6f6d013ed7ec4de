package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import dev.outrigger.FanOut;
import dev.outrigger.Result;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * A progress listener that throws a RuntimeException for every task cannot flood the log: the
 * first is logged with its stack trace, the rest are counted and told once, when the batch is
 * waited for; the results stay right.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutListenerFloodTest {
  private static final int TASKS = 10_000;

  /* What FanOut logs, with each event's throwable (LogCapture keeps only its message). */
  private final Queue<ILoggingEvent> events = new ConcurrentLinkedQueue<>();
  private final Logger logger = (Logger) LoggerFactory.getLogger(FanOut.class);
  private final UnsynchronizedAppenderBase<ILoggingEvent> appender =
      new UnsynchronizedAppenderBase<>() {
        @Override
        protected void append(ILoggingEvent e) {
          e.prepareForDeferredProcessing();
          events.add(e);
        }
      };
  private boolean additive;

  @BeforeEach
  void capture() {
    appender.start();
    logger.addAppender(appender);
    // Not to the console as well: before the fix, 10,000 stack traces.
    additive = logger.isAdditive();
    logger.setAdditive(false);
  }

  @AfterEach
  void release() {
    logger.setAdditive(additive);
    logger.detachAppender(appender);
    appender.stop();
  }

  private List<ILoggingEvent> listenerWarnings() {
    return events.stream()
        .filter(e -> e.getLevel() == Level.WARN)
        .filter(e -> e.getFormattedMessage().contains("progress listener threw"))
        .toList();
  }

  @Test
  void aListenerThatThrowsForEveryTaskIsLoggedOnceWithItsTraceThenOnceAsACount() throws Exception {
    List<Result<Integer>> results;
    try (FanOut<Integer> fan = FanOut.<Integer>builder()
        .maxConcurrency(64)
        .progress((completed, failed, total) -> {
          throw new IllegalStateException("broken progress bar at " + completed);
        })
        .build()) {
      for (int i = 0; i < TASKS; i++) {
        int n = i;
        fan.submit(() -> n);
      }
      results = fan.join();
    }
    assertEquals(TASKS, results.size());
    for (int i = 0; i < TASKS; i++) {
      assertEquals(i, results.get(i).value());
    }
    List<ILoggingEvent> warnings = listenerWarnings();
    assertEquals(2, warnings.size(), () -> warnings.size() + " warnings, the first: "
        + (warnings.isEmpty() ? "none" : warnings.get(0).getFormattedMessage()));
    ILoggingEvent first = warnings.get(0);
    assertNotNull(first.getThrowableProxy(), "the first failure is logged with its stack trace");
    assertTrue(first.getThrowableProxy().getMessage().startsWith("broken progress bar at "));
    ILoggingEvent summary = warnings.get(1);
    assertNull(summary.getThrowableProxy(), "the count carries no stack trace");
    assertTrue(summary.getFormattedMessage().contains((TASKS - 1) + " more times"),
        summary.getFormattedMessage());
    assertTrue(summary.getFormattedMessage().contains("broken progress bar at "),
        summary.getFormattedMessage());
  }

  @Test
  void aFailFastCancellationOfQueuedTasksWithAThrowingListenerLogsTwoLines() throws Exception {
    IllegalArgumentException boom = new IllegalArgumentException("boom");
    FanOut<Integer> fan = FanOut.<Integer>builder()
        .maxConcurrency(1)
        .failFast(true)
        .progress((completed, failed, total) -> {
          throw new IllegalStateException("broken progress bar");
        })
        .build();
    try (fan) {
      // The first task fails once all are queued behind it: the cancellation reports the 9,999
      // queued tasks to the listener from the failing task's thread.
      CountDownLatch queued = new CountDownLatch(1);
      fan.submit(() -> {
        queued.await();
        throw boom;
      });
      for (int i = 1; i < TASKS; i++) {
        fan.submit(() -> 0);
      }
      queued.countDown();
      assertEquals(boom, assertThrows(IllegalArgumentException.class, fan::join));
    }
    assertEquals(2, listenerWarnings().size(), () -> listenerWarnings().size() + " warnings");
    assertTrue(listenerWarnings().get(1).getFormattedMessage().contains((TASKS - 1) + " more"),
        listenerWarnings().get(1).getFormattedMessage());
    assertTrue(fan.toString().contains("completed=" + TASKS), fan.toString());
  }
}
