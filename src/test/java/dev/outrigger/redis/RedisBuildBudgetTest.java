package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A Redis that answers each of build()'s steps (the handshake, SCRIPT LOAD, the warm-up run of
 * the script) slowly, each within the connectTimeout but all together well beyond it: build()
 * takes one connectTimeout in all, not one per step, and starts the store unavailable with one
 * WARN, as its javadoc promises of a Redis that gives no answer within that time.
 */
class RedisBuildBudgetTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(redis, "mymaster");

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);
  /** How long the proxy holds each of the store's build steps: 80% of the connectTimeout. */
  private static final long STEP_DELAY_MILLIS = 800;
  /**
   * Generous: build() ends about one connectTimeout after it starts connecting; each step on its
   * own timeout took three delays of the proxy (2.4 s) and more.
   */
  private static final Duration BOUND = CONNECT_TIMEOUT.multipliedBy(2);

  @Test
  void aRedisSlowAtEveryBuildStepHoldsBuildForOneConnectTimeout() throws Exception {
    warmLettuce(redis.uri());
    try (SlowProxy proxy = new SlowProxy(redis.port())) {
      assertBuiltUnavailableWithin("redis://127.0.0.1:" + proxy.port(), BOUND);
    }
  }

  /**
   * Through Sentinel the budget is one connectTimeout for each Sentinel of the URI (Lettuce asks
   * them in turn, RedisDownSentinelTest) and one for the master: two here, which the slow
   * master's three steps (2.4 s) still overrun, so the store starts unavailable, with one WARN,
   * about two connectTimeouts after build() starts connecting. (The plain test above is the one
   * that tells one budget from one per step.)
   */
  @Test
  void aMasterFoundThroughSentinelSlowAtEveryBuildStepHoldsBuildForItsBudget()
      throws Exception {
    warmLettuce(RedisFixture.sentinelUri("outrigger-budget-test", sentinel));
    try (SlowProxy proxy = new SlowProxy(redis.port())) {
      // A second master name on the same Sentinel, at the proxy's address.
      assertEquals("+OK", sentinel.command("SENTINEL MONITOR slowmaster 127.0.0.1 "
          + proxy.port() + " 1").trim());
      try {
        assertBuiltUnavailableWithin("redis-sentinel://127.0.0.1:" + sentinel.port()
            + "#slowmaster", CONNECT_TIMEOUT.multipliedBy(3));
      } finally {
        sentinel.command("SENTINEL REMOVE slowmaster");
      }
    }
  }

  /**
   * Builds and closes a store at {@code uri}, so that Lettuce's one-time set-up in this JVM
   * (class loading, the scans of its command APIs), which connectTimeout does not count, is not
   * timed by the test either.
   */
  private static void warmLettuce(String uri) {
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
        .connectTimeout(Duration.ofSeconds(10)).build()) {
      assertFalse(store.degraded(), "a store straight to Redis starts available");
    }
  }

  private static void assertBuiltUnavailableWithin(String uri, Duration bound) throws Exception {
    try (LogCapture logs = new LogCapture()) {
      long start = System.nanoTime();
      try (RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
          .connectTimeout(CONNECT_TIMEOUT).build()) {
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertTrue(took.compareTo(bound) < 0, "build() took " + took.toMillis() + " ms with a "
            + "connectTimeout of " + CONNECT_TIMEOUT.toMillis() + " ms; logs:\n" + logs.all());
        assertTrue(store.degraded(), "built as available; logs:\n" + logs.all());
        // Saying which step the budget ran out in ("no answer to SCRIPT LOAD within the
        // connectTimeout, 1000 ms" here, usually), or Lettuce's own handshake timeout on a
        // machine so loaded that it ends first.
        assertEquals(1, logs.count("WARN", "unavailable ("), logs.all());
      }
    }
  }

  /**
   * A TCP proxy to Redis that holds each chunk from the client carrying one of build()'s
   * commands (HELLO, the handshake's first; SCRIPT LOAD; EVALSHA) for
   * {@link #STEP_DELAY_MILLIS} before passing it on: a slow Redis, the fault under test. Every
   * other command (Sentinel's own PINGs and INFOs) goes through at once.
   */
  private static final class SlowProxy implements AutoCloseable {
    private static final List<String> SLOW = List.of(
        "$5\r\nHELLO\r\n", "$6\r\nSCRIPT\r\n", "$7\r\nEVALSHA\r\n");
    private final ServerSocket server;
    private final int upstream;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    SlowProxy(int upstream) throws IOException {
      this.upstream = upstream;
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread.ofVirtual().start(() -> {
        while (true) {
          Socket down;
          try {
            down = server.accept();
          } catch (IOException closed) {
            return;
          }
          sockets.add(down);
          Thread.ofVirtual().start(() -> relay(down));
        }
      });
    }

    int port() {
      return server.getLocalPort();
    }

    private void relay(Socket down) {
      Socket up = new Socket();
      sockets.add(up);
      try {
        up.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), upstream));
        Thread.ofVirtual().start(() -> copy(up, down));
        InputStream in = down.getInputStream();
        OutputStream out = up.getOutputStream();
        byte[] buf = new byte[65536];
        for (int n; (n = in.read(buf)) >= 0; ) {
          String chunk = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
          if (SLOW.stream().anyMatch(chunk::contains)) {
            TimeUnit.MILLISECONDS.sleep(STEP_DELAY_MILLIS); // the slowness under test
          }
          out.write(buf, 0, n);
        }
      } catch (IOException | InterruptedException e) {
        // closed
      } finally {
        close(down);
        close(up);
      }
    }

    private static void copy(Socket from, Socket to) {
      try {
        from.getInputStream().transferTo(to.getOutputStream());
      } catch (IOException e) {
        // closed
      } finally {
        close(from);
        close(to);
      }
    }

    private static void close(java.io.Closeable c) {
      try {
        c.close();
      } catch (IOException ignored) {
        // closed
      }
    }

    @Override
    public void close() {
      close(server);
      sockets.forEach(SlowProxy::close);
    }
  }
}
