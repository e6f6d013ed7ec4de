package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.SocketFactory;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a deadline's cut of an attempt looks like: the client's own cancel of the exchange (a
 * closed socket, OkHttp's "Canceled") is not the cause, which would read as if someone else had
 * cancelled the call, and the message says where the attempt was cut; a real failure the cut
 * came upon stays the cause.
 */
class DeadlineCutCauseTest {
  private final ApiClient client = ApiClient.builder()
      .retry(Retry.none())
      .deadline(Duration.ofMillis(300))
      .build();

  @AfterEach
  void tearDown() throws InterruptedException {
    ClientTestSupport.assertNoLeaks(client);
    client.close();
  }

  @Test
  void aFirstAttemptCutAwaitingTheAnswerHasNoCauseAndSaysWhereItWasCut() throws Exception {
    try (StallServer stall = new StallServer("", true)) {
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> client.get(stall.url("/slow")).execute(String.class));

      assertTrue(e.getMessage().contains(": deadline exceeded while attempt 1 sent its request "
          + "or awaited the response, after "), e.getMessage());
      assertTrue(e.getMessage().endsWith(" ms of its 300 ms deadline (1 attempt sent)"),
          e.getMessage());
      assertNull(e.getCause(), "the client's own cancel is no failure of the call");
      // Kept for whoever debugs it: where the exchange was when its socket was closed.
      assertInstanceOf(IOException.class, e.getSuppressed()[0]);
      assertEquals(1, e.attempts());
    }
  }

  @Test
  void aConnectTheDeadlineCutSaysSo() {
    try (ApiClient hanging = client.newBuilder()
        .okHttpClient(new OkHttpClient.Builder().socketFactory(new Sockets(0)).build())
        .build()) {
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> hanging.get("http://127.0.0.1:9/x").execute(String.class));

      assertTrue(e.getMessage().contains(": deadline exceeded while attempt 1 connected, after "),
          e.getMessage());
      assertNull(e.getCause());
      assertEquals(1, e.attempts(), "handed to OkHttp: sent, though the server saw nothing");
    }
  }

  @Test
  void aRefusedConnectTheCutCameUponStaysTheCause() throws Exception {
    int refusing;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      refusing = s.getLocalPort();
    }
    // Two addresses: the first refuses, the connect to the second hangs until the deadline
    // cuts it. OkHttp throws the first failure, the cut's attached to it.
    try (ApiClient twoRoutes = client.newBuilder()
        .okHttpClient(new OkHttpClient.Builder()
            .dns(host -> List.of(InetAddress.getByName("127.0.0.1"),
                InetAddress.getByName("127.0.0.2")))
            .socketFactory(new Sockets(1))
            .fastFallback(false)
            .build())
        .build()) {
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> twoRoutes.get("http://two.outrigger.test:" + refusing + "/x")
              .execute(String.class));

      TransportException cause = assertInstanceOf(TransportException.class, e.getCause());
      assertEquals(TransportException.Kind.CONNECT, cause.kind());
      assertInstanceOf(ConnectException.class, cause.getCause());
      assertTrue(e.getMessage().contains(": deadline exceeded after "), e.getMessage());
    }
  }

  @Test
  void theAttemptsDebugLineNamesTheCallOnce() throws Exception {
    try (StallServer stall = new StallServer("", true);
        LogCapture log = new LogCapture("dev.outrigger.ApiClient")) {
      String url = stall.url("/slow");
      assertThrows(DeadlineExceededException.class, () -> client.get(url).execute(String.class));

      String line = log.lines().stream().filter(l -> l.contains("(attempt 1)")).findFirst()
          .orElseThrow(() -> new AssertionError(log.all()));
      assertTrue(line.startsWith("DEBUG GET " + url + " -> deadline exceeded while attempt 1 "),
          line);
    }
  }

  /**
   * Plain sockets, but from the {@code hangFrom}-th on (0 for all) their connect blocks until
   * the socket is closed, and then fails as the JDK's does when a connect's socket is closed
   * under it: a connect that only the deadline's cut ends.
   */
  private static final class Sockets extends SocketFactory {
    private final int hangFrom;
    private final AtomicInteger made = new AtomicInteger();

    Sockets(int hangFrom) {
      this.hangFrom = hangFrom;
    }

    @Override
    public Socket createSocket() {
      return made.getAndIncrement() < hangFrom ? new Socket() : new HangingSocket();
    }

    @Override
    public Socket createSocket(String host, int port) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress local, int localPort) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(InetAddress host, int port) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(InetAddress host, int port, InetAddress local, int localPort) {
      throw new UnsupportedOperationException();
    }
  }

  private static final class HangingSocket extends Socket {
    private final CountDownLatch closed = new CountDownLatch(1);

    @Override
    public void connect(SocketAddress address, int timeout) throws IOException {
      try {
        closed.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw new SocketException("Socket closed");
    }

    @Override
    public void close() throws IOException {
      closed.countDown();
      super.close();
    }
  }
}
