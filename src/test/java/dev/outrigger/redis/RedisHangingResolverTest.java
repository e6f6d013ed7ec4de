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
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
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
    volatile boolean askedOnAVirtualThread;

    @Override
    public InetAddress[] resolve(String host) throws UnknownHostException {
      askedOnAVirtualThread |= Thread.currentThread().isVirtual();
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
        assertTrue(resolver.entered.await(GENEROUS.toSeconds(), TimeUnit.SECONDS),
            "the resolver was not asked");
        // A resolver may block in native code or synchronized: on a virtual thread it would
        // pin a carrier the application's virtual threads need.
        assertFalse(resolver.askedOnAVirtualThread, "resolved on a virtual thread");
        assertTrue(store.degraded(), "built as available; logs:\n" + logs.all());
        // One WARN, naming the connectTimeout: the connect's own bound, or the resolution's,
        // whichever fires first.
        assertEquals(1, logs.count("WARN", "unavailable ("), logs.all());
        assertEquals(1, logs.count("WARN", "connectTimeout, 300 ms"), logs.all());
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
   * A resolution that hangs past the connectTimeout fails its connect then, with no close():
   * its thread is interrupted and the store's next connect asks the resolver again, so the store
   * comes back once the resolver answers. The connect waited on the hung resolution forever, and
   * the store never reconnected.
   */
  @Test
  void aResolutionThatNeverReturnsIsGivenUpAtTheConnectTimeoutAndTheStoreReconnects()
      throws Exception {
    HangingResolver resolver = new HangingResolver();
    resolver.hang = true;
    ClientResources resources = ClientResources.builder()
        .socketAddressResolver(SocketAddressResolver.create(resolver)).build();
    try (LogCapture logs = new LogCapture();
        RedisRateLimitStore store = RedisRateLimitStore.builder(redis.uri())
            .connectTimeout(Duration.ofMillis(300)).probeInterval(Duration.ofMillis(50))
            .clientResources(resources).build()) {
      assertTrue(store.degraded(), "built as available; logs:\n" + logs.all());
      assertTrue(resolver.interrupted.await(GENEROUS.toSeconds(), TimeUnit.SECONDS),
          "the hung resolution was not given up at the connectTimeout");
      resolver.hang = false;
      // A call asks Redis again once the probeInterval has passed, and reconnects.
      RateLimit limit = RateLimit.perSecond(1000).burst(1000);
      RedisFixture.await("the store reconnected", GENEROUS, () -> {
        store.reserve("k", limit, 1, 0);
        return !store.degraded();
      });
    } finally {
      resolver.release.countDown();
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
            .connectTimeout(GENEROUS).probeInterval(Duration.ofMillis(50))
            .clientResources(resources).build()) {
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

  /** Hangs while {@link #hang} is set and goes on hanging when interrupted, counting interrupts. */
  private static final class DeafResolver implements DnsResolver {
    volatile boolean hang = true;
    final AtomicInteger hung = new AtomicInteger();
    final AtomicInteger interrupts = new AtomicInteger();
    final CountDownLatch release = new CountDownLatch(1);

    @Override
    public InetAddress[] resolve(String host) throws UnknownHostException {
      if (hang) {
        hung.incrementAndGet();
        while (true) {
          try {
            release.await();
            break;
          } catch (InterruptedException e) {
            interrupts.incrementAndGet(); // and hangs on
          }
        }
      }
      return InetAddress.getAllByName(host);
    }
  }

  /** The resolver threads alive now that were not in {@code before}. */
  private static Set<Thread> resolverThreadsBut(Set<Thread> before) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().equals(RedisRateLimitStore.RESOLVER_THREAD)
            && !before.contains(t))
        .collect(Collectors.toSet());
  }

  /**
   * A resolver that ignores the interrupt at the connectTimeout hangs on: the store's next
   * connects wait for that one resolution (interrupting it again at each timeout) rather than
   * start a thread each, and close() interrupts it once more. Each connect started a thread of
   * its own and forgot it at its timeout: one thread left behind per connect, about one a second
   * with the probes, out of close()'s reach.
   */
  @Test
  void aResolverThatIgnoresInterruptsHoldsOneThreadHoweverManyConnectsWaitForIt()
      throws Exception {
    DeafResolver resolver = new DeafResolver();
    ClientResources resources = ClientResources.builder()
        .socketAddressResolver(SocketAddressResolver.create(resolver)).build();
    RateLimit limit = RateLimit.perSecond(1000).burst(1000);
    // Those of the tests before (one may still be ending) are not this test's.
    Set<Thread> before = resolverThreadsBut(Set.of());
    try (LogCapture logs = new LogCapture()) {
      RedisRateLimitStore store = RedisRateLimitStore.builder(redis.uri())
          .connectTimeout(Duration.ofMillis(100)).probeInterval(Duration.ofMillis(20))
          .clientResources(resources).build();
      try {
        assertTrue(store.degraded(), "built as available; logs:\n" + logs.all());
        // Calls past the probeInterval reconnect; each connect gives up at its timeout and
        // interrupts the resolution it waited for.
        RedisFixture.await("five connects given up", GENEROUS, () -> {
          store.reserve("k", limit, 1, 0); // the await's own 20 ms pause spaces the calls
          return resolver.interrupts.get() >= 5;
        });
        assertEquals(1, resolver.hung.get(), "the resolver was asked again while it hung");
        assertEquals(1, resolverThreadsBut(before).size(), "threads left resolving");
      } finally {
        int heard = resolver.interrupts.get();
        store.close();
        RedisFixture.await("close() interrupting the resolution", GENEROUS,
            () -> resolver.interrupts.get() > heard);
      }
      // Once the resolver returns, its one thread ends.
      resolver.hang = false;
      resolver.release.countDown();
      RedisFixture.await("the resolver's thread ended", GENEROUS,
          () -> resolverThreadsBut(before).isEmpty());
    } finally {
      resolver.release.countDown();
      resources.shutdown(0, 2, TimeUnit.SECONDS).get();
    }
  }
}
