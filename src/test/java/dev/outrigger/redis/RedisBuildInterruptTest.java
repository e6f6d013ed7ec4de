package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LeftThreads;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * build() on a thread whose interrupt flag is set (a task cancelled with Future.cancel(true), or
 * an executor's shutdownNow(), as it builds its store) keeps the flag, as close() does.
 */
class RedisBuildInterruptTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  /**
   * A store making its own Lettuce resources cleared the flag: ClientResources.create() starts
   * netty's HashedWheelTimer, whose start() waits for its thread with any interrupt swallowed,
   * so the task never learned it was cancelled (a store given shared resources kept it).
   */
  @Test
  void buildOnAnInterruptedThreadKeepsTheFlag() throws Exception {
    redis.start();
    Set<Thread> before = LeftThreads.live();
    RedisRateLimitStore store;
    boolean interrupted;
    Thread.currentThread().interrupt();
    try {
      store = RedisRateLimitStore.builder(redis.uri()).build();
    } finally {
      interrupted = Thread.interrupted();
    }
    store.close();

    assertTrue(interrupted, "build() cleared the caller's interrupt");
    // Reactor's shared 'parallel-' scheduler is the JVM's, not the store's.
    Set<Thread> left = LeftThreads.since(before, t -> t.getName().startsWith("parallel-"),
        Duration.ofSeconds(10));
    assertTrue(left.isEmpty(), "threads left by the store: " + left);
  }
}
