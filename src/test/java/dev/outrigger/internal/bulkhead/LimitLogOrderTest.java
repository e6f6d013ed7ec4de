package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallInterceptor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * The DEBUG lines of one host's adaptive limit come in the order its changes happened, as its
 * {@code adaptiveLimitChanged} reports do: a change made while the line of an earlier one is
 * being written (an appender busy, say on a slow disk) is logged after it, not before. Before,
 * each thread logged its own change as it made it, so the later line could come first and the
 * log end on the older limit.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class LimitLogOrderTest extends LimiterOverServerTest {
  private final InFlightLimiter limiter = new InFlightLimiter(
      AdaptiveLimit.vegas().min(2).initial(20).backoffRatio(0.5), clock);
  private final List<String> lines = new CopyOnWriteArrayList<>();
  /** The line the appender dwells on, once, until the test lets it finish. */
  private final String dwellOn = ": 20 -> 10 ";
  private final CountDownLatch dwelling = new CountDownLatch(1);
  private final CountDownLatch finish = new CountDownLatch(1);
  private final Logger logger = (Logger) LoggerFactory.getLogger(InFlightLimiter.class);
  private final UnsynchronizedAppenderBase<ILoggingEvent> appender =
      new UnsynchronizedAppenderBase<>() {
        @Override
        protected void append(ILoggingEvent e) {
          String line = e.getFormattedMessage();
          if (line.contains(dwellOn) && dwelling.getCount() > 0) {
            dwelling.countDown();
            try {
              finish.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException ex) {
              Thread.currentThread().interrupt();
            }
          }
          lines.add(line.substring(line.indexOf(": ") + 2, line.indexOf(" (")));
        }
      };

  LimitLogOrderTest() {
    appender.start();
    logger.addAppender(appender);
  }

  @AfterEach
  void detach() {
    finish.countDown();
    logger.detachAppender(appender);
    appender.stop();
  }

  @Override
  List<CallInterceptor> policies() {
    return List.of(limiter);
  }

  private int drop() {
    clock.advanceMillis(1);
    try (Response r = call(url("api.test", "/drop"), Duration.ofMinutes(1))) {
      return r.code();
    }
  }

  @Test
  void aChangeMadeWhileAnEarlierOneIsLoggedIsLoggedAfterIt() throws Exception {
    Thread first = Thread.ofVirtual().start(() -> assertEquals(503, drop()));
    assertTrue(dwelling.await(30, TimeUnit.SECONDS), "the first drop cut the limit");
    assertEquals(503, drop());
    assertEquals(5, limiter.limit("api.test:" + server.getPort()), "two drops: 20 -> 10 -> 5");

    finish.countDown();
    first.join();
    assertEquals(List.of("20 -> 10", "10 -> 5"), lines, "in order, the last on the limit in place");
  }
}
