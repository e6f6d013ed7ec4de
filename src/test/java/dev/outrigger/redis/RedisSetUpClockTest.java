package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.outrigger.LogCapture;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultEventLoopGroupProvider;
import io.lettuce.core.resource.EventLoopGroupProvider;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The rule {@link RedisColdStartTest} checks in a slow child JVM, in this JVM on the store's
 * clock: connectTimeout counts from when Lettuce starts connecting, not while it sets the
 * connection up on the building thread first (in a cold JVM, class loading, a scan of its
 * command API, its event loops allocated: more than the whole timeout on a slow machine).
 */
class RedisSetUpClockTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);
  /** How long Lettuce's set-up takes on the store's clock: five connectTimeouts. */
  private static final Duration SET_UP = CONNECT_TIMEOUT.multipliedBy(5);

  /**
   * Lettuce allocates its event loops while it sets up a client's first connection, on the
   * building thread, before anything goes to the network; here that takes 5 s on the store's
   * clock. Counted from before the set-up (as before 5a33075), the build found its
   * connectTimeout spent and started the store unavailable, Redis being healthy.
   */
  @Test
  void lettucesSetUpOnTheBuildingThreadIsNotCountedInTheConnectTimeout() throws Exception {
    AtomicLong setUpNanos = new AtomicLong();
    LongSupplier clock = () -> System.nanoTime() + setUpNanos.get();
    List<Thread> allocatedOn = new CopyOnWriteArrayList<>();
    EventLoopGroupProvider loops = new DefaultEventLoopGroupProvider(1);
    EventLoopGroupProvider slowToAllocate = new EventLoopGroupProvider() {
      @Override
      public <T extends EventLoopGroup> T allocate(Class<T> type) {
        allocatedOn.add(Thread.currentThread());
        setUpNanos.addAndGet(SET_UP.toNanos());
        return loops.allocate(type);
      }

      @Override
      public int threadPoolSize() {
        return loops.threadPoolSize();
      }

      @Override
      public Future<Boolean> release(EventExecutorGroup group, long quietPeriod, long timeout,
          TimeUnit unit) {
        return loops.release(group, quietPeriod, timeout, unit);
      }

      @Override
      public Future<Boolean> shutdown(long quietPeriod, long timeout, TimeUnit unit) {
        return loops.shutdown(quietPeriod, timeout, unit);
      }
    };
    ClientResources resources =
        ClientResources.builder().eventLoopGroupProvider(slowToAllocate).build();
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(redis.uri())
            .connectTimeout(CONNECT_TIMEOUT).clientResources(resources).nanos(clock).build()) {
      assertEquals(List.of(Thread.currentThread()), allocatedOn,
          "the set-up ran once, on the building thread");
      assertFalse(store.degraded(), "started unavailable; logs:\n" + logs.all());
      assertEquals(0, logs.count("WARN", ""), logs.all());
    } finally {
      resources.shutdown(0, 2, TimeUnit.SECONDS).get();
      loops.shutdown(0, 2, TimeUnit.SECONDS).get();
    }
  }
}
