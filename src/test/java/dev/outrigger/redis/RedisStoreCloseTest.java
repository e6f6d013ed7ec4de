package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What a store's close() does to the questions still waiting for Redis. */
class RedisStoreCloseTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @BeforeEach
  void setUp() throws Exception {
    redis.start();
    redis.command("FLUSHALL");
  }

  /**
   * close() ends the connection under a question still waiting for a stalled Redis: that is the
   * application stopping, not Redis becoming unavailable. It logged the outage's WARN ("...
   * unavailable (Connection closed): falling back ... asking it every 1000 ms") as the
   * application shut down, for an outage that never was.
   */
  @Test
  void aQuestionEndedByCloseLogsNoOutage() throws Exception {
    RateLimit limit = RateLimit.perSecond(10);
    try (LogCapture logs = new LogCapture()) {
      RedisRateLimitStore store = RedisRateLimitStore.builder(redis.uri())
          .timeout(Duration.ofSeconds(5)).build();
      try {
        store.reserve("k", limit, 1, 0);
        redis.command("CLIENT PAUSE 2000 ALL");
        Thread waiting = Thread.ofVirtual().start(() -> {
          try {
            store.reserve("k", limit, 1, TimeUnit.SECONDS.toNanos(5));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        RedisFixture.await("the caller waits for Redis's answer", Duration.ofSeconds(5),
            () -> waiting.getState() == Thread.State.TIMED_WAITING);
        store.close();
        waiting.join();
      } finally {
        store.close();
      }

      assertEquals(0, logs.count("WARN", "unavailable"), logs.all());
    }
  }
}
