package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.LogCapture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A Sentinel that is down, whose connect hangs (a host gone), listed before one that answers:
 * Lettuce asks the Sentinels in turn, each for up to connectTimeout, so build() gives the
 * connect a connectTimeout for each Sentinel and the master. With one budget for all, every
 * start of such a healthy set-up began on the fallback, with a WARN that Redis was unavailable.
 */
class RedisDownSentinelTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(redis, "mymaster");

  @Test
  void aSentinelWhoseConnectHangsListedFirstDoesNotMakeTheStoreStartUnavailable()
      throws Exception {
    // A listening socket whose accept queue is full: the kernel drops further SYNs, so a
    // connect to it hangs, as to a host that is gone.
    try (ServerSocket down = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        LogCapture logs = new LogCapture()) {
      List<Socket> queued = fill(down);
      try {
        String uri = "redis-sentinel://127.0.0.1:" + down.getLocalPort() + ",127.0.0.1:"
            + sentinel.port() + "?clientName=downfirst#mymaster";
        try (RedisRateLimitStore store = RedisRateLimitStore.builder(uri)
            .connectTimeout(Duration.ofSeconds(1)).build()) {
          assertFalse(store.degraded(), "started unavailable; logs:\n" + logs.all());
          assertEquals(0, logs.count("WARN", "unavailable ("), logs.all());
        }
      } finally {
        for (Socket s : queued) {
          s.close();
        }
      }
    }
  }

  /** Connects to {@code server} until a connect hangs: its accept queue is then full. */
  private static List<Socket> fill(ServerSocket server) throws IOException {
    List<Socket> queued = new ArrayList<>();
    InetSocketAddress at =
        new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
    for (int i = 0; i < 64; i++) {
      Socket s = new Socket();
      try {
        s.connect(at, 300);
        queued.add(s);
      } catch (SocketTimeoutException hangs) {
        s.close();
        return queued;
      }
    }
    for (Socket s : queued) {
      s.close();
    }
    throw new AssertionError("the accept queue never filled: connects do not hang here");
  }
}
