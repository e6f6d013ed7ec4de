package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A connection whose peer vanished without a word (a host that crashed or was cut off, a
 * primary endpoint whose address moved to a new primary) stays open to the client: nothing
 * closes it until TCP gives up, about 15 minutes with Linux's defaults. The store reconnects
 * only when Lettuce reports its connection closed, so once its answers time out, each probe
 * asks the same dead connection again, and the store stays on its fallback although a new
 * connection to the same address would reach a Redis that answers at once.
 */
class RedisDeadConnectionTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  /**
   * A TCP proxy to Redis; {@link #blackholeLive()} makes the connections open now swallow what
   * either side sends, without closing them, while new connections are passed on as before.
   */
  private static final class Proxy implements AutoCloseable {
    private final ServerSocket server;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<boolean[]> links = new CopyOnWriteArrayList<>();

    Proxy(int upstream) throws IOException {
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread.ofVirtual().start(() -> {
        try {
          while (true) {
            Socket client = server.accept();
            Socket up = new Socket(InetAddress.getLoopbackAddress(), upstream);
            sockets.add(client);
            sockets.add(up);
            boolean[] dead = new boolean[1];
            links.add(dead);
            pump(client, up, dead);
            pump(up, client, dead);
          }
        } catch (IOException closed) {
          // done
        }
      });
    }

    private static void pump(Socket from, Socket to, boolean[] dead) {
      Thread.ofVirtual().start(() -> {
        byte[] buf = new byte[8192];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
          for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
            synchronized (dead) {
              if (!dead[0]) {
                out.write(buf, 0, n);
                out.flush();
              }
            }
          }
        } catch (IOException closed) {
          // done
        }
      });
    }

    void blackholeLive() {
      for (boolean[] dead : links) {
        synchronized (dead) {
          dead[0] = true;
        }
      }
    }

    int connections() {
      return links.size();
    }

    String uri() {
      return "redis://127.0.0.1:" + server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : sockets) {
        s.close();
      }
    }
  }

  @Test
  void aStoreWhoseConnectionWentSilentConnectsAgainWhileOnItsFallback() throws Exception {
    Proxy proxy = stores.closeLast(new Proxy(redis.port()));
    AtomicLong now = new AtomicLong(System.nanoTime());
    RateLimit limit = RateLimit.perSecond(100);
    RedisRateLimitStore store = stores.closeFirst(RedisRateLimitStore.builder(proxy.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
        .timeout(Duration.ofMillis(200)).probeInterval(Duration.ofSeconds(1))
        .nanos(now::get).build());
    assertEquals(0, store.reserve("k", limit, 1, 0));
    assertEquals(1, proxy.connections());

    proxy.blackholeLive(); // the peer is gone; a new connection reaches a healthy Redis
    for (int i = 0; i < 10 && !store.degraded(); i++) {
      store.reserve("k", limit, 1, 0); // times out
      now.addAndGet(TimeUnit.MILLISECONDS.toNanos(300)); // each after the last one's stall
    }
    assertTrue(store.degraded(), "three answers in a row timed out");

    for (int probe = 0; probe < 5 && store.degraded(); probe++) {
      now.addAndGet(TimeUnit.MILLISECONDS.toNanos(1100)); // the next call is a probe
      store.reserve("k", limit, 1, 0);
    }
    assertFalse(store.degraded(), "five probes asked the dead connection again; connections "
        + "made: " + proxy.connections());
  }
}
