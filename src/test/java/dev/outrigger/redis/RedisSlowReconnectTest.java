package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.outrigger.RateLimit;
import io.lettuce.core.resource.ClientResources;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A reconnection slower than the store's timeout (a failover, a far Redis): the callers that give
 * up waiting must leave the pending connect for the next ones, not start (and leak) one each.
 */
class RedisSlowReconnectTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();
  private static final RateLimit LIMIT = RateLimit.perSecond(1000).burst(100);
  /** How long the proxy makes a new connection to Redis take; far below the connect timeout. */
  private static final long SLOW_CONNECT_MILLIS = 300;

  @BeforeEach
  void setUp() throws Exception {
    redis.start();
    assertEquals(0, awaitClients(0), "connections to Redis before the test");
  }

  /** A TCP proxy to Redis that can delay new connections and cut the live ones. */
  static final class Proxy implements AutoCloseable {
    final ServerSocket server;
    final List<Socket> sockets = new CopyOnWriteArrayList<>();
    volatile long delayMillis;

    Proxy(int upstream) throws IOException {
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread.ofVirtual().start(() -> {
        while (!server.isClosed()) {
          try {
            Socket down = server.accept();
            sockets.add(down);
            Thread.ofVirtual().start(() -> relay(down, upstream));
          } catch (IOException e) {
            return;
          }
        }
      });
    }

    String uri() {
      return "redis://127.0.0.1:" + server.getLocalPort();
    }

    private void relay(Socket down, int upstream) {
      try {
        Thread.sleep(delayMillis);
        Socket up = new Socket();
        up.connect(new InetSocketAddress("127.0.0.1", upstream));
        sockets.add(up);
        Thread.ofVirtual().start(() -> pipe(down, up));
        pipe(up, down);
      } catch (Exception e) {
        close(down);
      }
    }

    private static void pipe(Socket from, Socket to) {
      try {
        from.getInputStream().transferTo(to.getOutputStream());
      } catch (IOException ignored) {
        // cut
      } finally {
        close(from);
        close(to);
      }
    }

    private static void close(Socket s) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closed
      }
    }

    /** Makes every new connection slow, and drops the live ones. */
    void slowDownAndCut() {
      delayMillis = SLOW_CONNECT_MILLIS;
      sockets.forEach(Proxy::close);
      sockets.clear();
    }

    @Override
    public void close() throws IOException {
      server.close();
      sockets.forEach(Proxy::close);
      sockets.clear();
    }
  }

  /** Connections Redis has from clients, this question's own excluded. */
  private static int clients() throws IOException {
    return redis.command("CLIENT LIST").split("\n").length - 1;
  }

  /** Waits (up to 5 s) until Redis has {@code n} client connections; returns how many it has. */
  private static int awaitClients(int n) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    int seen = clients();
    while (seen != n && System.nanoTime() - end < 0) {
      Thread.sleep(20);
      seen = clients();
    }
    return seen;
  }

  @Test
  void callersThatGiveUpDuringASlowReconnectShareOneConnectionAndLeakNone() throws Exception {
    try (Proxy proxy = new Proxy(redis.port());
        RedisRateLimitStore store = RedisRateLimitStore.builder(proxy.uri())
            .timeout(Duration.ofMillis(20)).probeInterval(Duration.ofMillis(50))
            .connectTimeout(Duration.ofSeconds(2)).build()) {
      store.reserve("k", LIMIT, 1, 0);
      assertEquals(1, clients(), "connections to Redis when warm");

      proxy.slowDownAndCut();
      Thread.sleep(200); // the store sees its connection drop
      for (int i = 0; i < 8; i++) {
        store.reserve("k", LIMIT, 1, 0); // waits 20 ms for a connect that takes 300
        Thread.sleep(60);                // so the next call is a probe
      }
      Thread.sleep(2 * SLOW_CONNECT_MILLIS); // every connect started has completed by now

      // (Waits for a connect a loaded machine has not finished yet; a leak shows as more.)
      assertEquals(1, awaitClients(1),
          "connections to Redis from one store after a slow reconnect");
      store.reserve("k", LIMIT, 1, 0);
      assertFalse(store.degraded(), "the store answers from Redis on the connection it made");
      assertEquals(1, clients(), "connections to Redis once the store answers again");
    }
    assertEquals(0, awaitClients(0), "connections to Redis after close");
  }

  @Test
  void oneCallerGivingUpOnTheConnectDoesNotFailTheOthersWaitingForIt() throws Exception {
    try (Proxy proxy = new Proxy(redis.port());
        RedisRateLimitStore store = RedisRateLimitStore.builder(proxy.uri())
            .timeout(Duration.ofMillis(100)).probeInterval(Duration.ofMillis(50))
            .connectTimeout(Duration.ofSeconds(2)).build()) {
      store.reserve("k", LIMIT, 1, 0);
      proxy.slowDownAndCut();
      Thread.sleep(200);

      // The first caller starts the reconnect and gives up after 100 ms; the second, 50 ms
      // later, waits for the same connect until its own deadline. Two slow answers are a
      // hiccup, not an outage (three are); had the first caller cancelled the connect, the
      // second would have failed at once ("cancelled"), a failure that is an outage.
      Thread first = Thread.ofPlatform().start(() -> {
        try {
          store.reserve("k", LIMIT, 1, 0);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      Thread.sleep(50);
      store.reserve("k", LIMIT, 1, 0);
      first.join();
      assertFalse(store.degraded(), "two callers that waited for one slow connect");

      Thread.sleep(2 * SLOW_CONNECT_MILLIS);
      // (Waits for a connect a loaded machine has not finished yet; a leak shows as more.)
      assertEquals(1, awaitClients(1),
          "connections to Redis from one store after a slow reconnect");
    }
  }

  @Test
  void aConnectWhoseHandshakeIsNeverAnsweredIsGivenUpAfterTheConnectTimeout() throws Exception {
    // Accepts connections and never answers them: Lettuce's HELLO waits, as on a hung Redis.
    RedisFixture.assertGivesUpASilentHandshake(
        port -> "redis://127.0.0.1:" + port, Duration.ofSeconds(10), 1);
  }


  @Test
  void aConnectThatCompletesAfterCloseIsClosed() throws Exception {
    // Shared event loops outlive the store, so its pending connect can complete after close.
    ClientResources shared = ClientResources.create();
    try (Proxy proxy = new Proxy(redis.port())) {
      RedisRateLimitStore store = RedisRateLimitStore.builder(proxy.uri())
          .timeout(Duration.ofMillis(20)).probeInterval(Duration.ofMillis(50))
          .connectTimeout(Duration.ofSeconds(2)).clientResources(shared).build();
      store.reserve("k", LIMIT, 1, 0);
      proxy.slowDownAndCut();
      Thread.sleep(200);
      store.reserve("k", LIMIT, 1, 0); // starts a reconnect that takes 300 ms, gives up
      store.close();

      Thread.sleep(2 * SLOW_CONNECT_MILLIS);
      assertEquals(0, awaitClients(0), "connections to Redis from a closed store");
    } finally {
      shared.shutdown(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
  }
}
