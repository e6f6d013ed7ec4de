package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import dev.outrigger.RateLimit;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DnsResolver;
import io.lettuce.core.resource.SocketAddressResolver;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A user's synchronous {@link DnsResolver} (given through the store's
 * {@code clientResources}) that hangs: Lettuce calls it inside {@code connectAsync()}, on the
 * thread that connects, so it held build() past its connectTimeout, and a call that reconnected
 * past the store's timeout, for as long as it hung.
 */
class RedisHangingResolverTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  private static final Duration GENEROUS = Duration.ofSeconds(10);
  /** Far beyond the waits bounded here (300 ms, 10 ms), far below a hang. */
  private static final long BOUND_SECONDS = 5;

  /** Resolves with the JVM, or hangs while {@link #hang} is set, until released or interrupted. */
  private static final class HangingResolver implements DnsResolver {
    volatile boolean hang;
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final CountDownLatch interrupted = new CountDownLatch(1);

    @Override
    public InetAddress[] resolve(String host) throws UnknownHostException {
      if (hang) {
        entered.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          interrupted.countDown();
          throw new IllegalStateException("interrupted while resolving " + host);
        }
      }
      return InetAddress.getAllByName(host);
    }
  }

  /**
   * build() returns within its connectTimeout with the store unavailable (one WARN), as for a
   * Redis that does not answer, and close() interrupts the resolution still under way. It
   * waited for the resolver without end.
   */
  @Test
  void aResolverThatHangsAtBuildLeavesTheStoreUnavailableWithinItsConnectTimeout()
      throws Exception {
    HangingResolver resolver = new HangingResolver();
    resolver.hang = true;
    ClientResources resources = ClientResources.builder()
        .socketAddressResolver(SocketAddressResolver.create(resolver)).build();
    CompletableFuture<RedisRateLimitStore> building = new CompletableFuture<>();
    try (LogCapture logs = new LogCapture()) {
      Thread.ofVirtual().start(() -> {
        try {
          building.complete(RedisRateLimitStore.builder(redis.uri())
              .connectTimeout(Duration.ofMillis(300)).clientResources(resources).build());
        } catch (Throwable e) {
          building.completeExceptionally(e);
        }
      });
      try (RedisRateLimitStore store = building.get(BOUND_SECONDS, TimeUnit.SECONDS)) {
        assertTrue(resolver.entered.await(0, TimeUnit.SECONDS), "the resolver was not asked");
        assertTrue(store.degraded(), "built as available; logs:\n" + logs.all());
        assertEquals(1, logs.count("WARN", "unavailable (no connection within the "
            + "connectTimeout, 300 ms)"), logs.all());
      }
      assertTrue(resolver.interrupted.await(GENEROUS.toSeconds(), TimeUnit.SECONDS),
          "close() left the resolution hanging");
    } finally {
      resolver.release.countDown();
      building.thenAccept(RedisRateLimitStore::close);
      resources.shutdown(0, 2, TimeUnit.SECONDS).get();
    }
  }

  /**
   * A store whose connection is lost reconnects on the call that asks Redis next: that call
   * waits at most the store's timeout (10 ms) and gets the fallback's answer, not the
   * resolver's hang.
   */
  @Test
  void aResolverThatHangsOnAReconnectHoldsNoCallPastTheStoresTimeout() throws Exception {
    HangingResolver resolver = new HangingResolver();
    ClientResources resources = ClientResources.builder()
        .socketAddressResolver(SocketAddressResolver.create(resolver)).build();
    RateLimit limit = RateLimit.perSecond(1000).burst(1000);
    ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor();
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(redis.uri())
            .probeInterval(Duration.ofMillis(50)).clientResources(resources).build()) {
      assertFalse(store.degraded(), logs.all());
      resolver.hang = true;
      assertEquals(":1", redis.command("CLIENT KILL TYPE normal"), "the store's connection cut");
      RedisFixture.await("a call reconnecting", GENEROUS, () -> {
        Future<Long> call = callers.submit(() -> store.reserve("k", limit, 1, 0));
        call.get(BOUND_SECONDS, TimeUnit.SECONDS);
        return resolver.entered.getCount() == 0;
      });
      // The calls after it, Redis unavailable, answered by the fallback.
      for (int i = 0; i < 3; i++) {
        callers.submit(() -> store.reserve("k", limit, 1, 0)).get(BOUND_SECONDS,
            TimeUnit.SECONDS);
      }
      assertTrue(store.degraded(), logs.all());
    } finally {
      resolver.release.countDown();
      callers.close();
      resources.shutdown(0, 2, TimeUnit.SECONDS).get();
    }
  }
}
