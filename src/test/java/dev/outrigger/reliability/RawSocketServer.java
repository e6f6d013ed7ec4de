package dev.outrigger.reliability;

import dev.outrigger.reliability.FaultServer.Request;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The sockets under {@link FaultServer} and {@link ChaosServer}: an HTTP/1.1 server on raw
 * sockets, one virtual thread per connection, that keeps each connection alive while its
 * subclass answers, counts connections and requests, and closes every socket on close().
 */
abstract class RawSocketServer implements AutoCloseable {
  private final ServerSocket server;
  private final Thread acceptor;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final CountDownLatch closing = new CountDownLatch(1);
  final AtomicLong requests = new AtomicLong();
  final AtomicLong connections = new AtomicLong();

  /** Binds to a free port on {@code bind}; the subclass's fields are set before any answer. */
  RawSocketServer(InetAddress bind, String name) throws IOException {
    server = new ServerSocket(0, 4096, bind);
    acceptor = Thread.ofVirtual().name(name + "-accept").unstarted(this::acceptLoop);
  }

  /** Starts accepting: the last line of a subclass's constructor. */
  final void start() {
    acceptor.start();
  }

  /**
   * Answers {@code req} on {@code s}: true to read the next request on the connection, false
   * to close it.
   */
  abstract boolean answer(Socket s, Request req, OutputStream out)
      throws IOException, InterruptedException;

  /**
   * Waits {@code millis} before an answer goes on, or less when the server closes: true when it
   * closed (the answer should end).
   */
  final boolean pause(long millis) throws InterruptedException {
    return closing.await(millis, TimeUnit.MILLISECONDS);
  }

  String url(String path) {
    return "http://127.0.0.1:" + server.getLocalPort() + path;
  }

  int port() {
    return server.getLocalPort();
  }

  int openConnections() {
    return open.size();
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        s.setTcpNoDelay(true);
        open.add(s);
        connections.incrementAndGet();
        Thread.ofVirtual().start(() -> serve(s));
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    try (s) {
      InputStream in = new BufferedInputStream(s.getInputStream());
      OutputStream out = s.getOutputStream();
      while (true) {
        Request req = FaultServer.read(in);
        if (req == null) {
          return;
        }
        requests.incrementAndGet();
        if (!answer(s, req, out)) {
          return;
        }
      }
    } catch (IOException | InterruptedException e) {
      // the client went away or the server is closing
    } finally {
      open.remove(s);
    }
  }

  /** Headers declaring {@code declared} bytes, then only {@code sent} of them. */
  static void truncated(OutputStream out, int declared, int sent) throws IOException {
    out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + declared
        + "\r\nContent-Type: text/plain\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write("x".repeat(sent).getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  /** A whole JSON answer, in one write. */
  static void reply(OutputStream out, int status, Map<String, String> headers, byte[] body)
      throws IOException {
    StringBuilder head = new StringBuilder("HTTP/1.1 ").append(status).append(" X\r\n");
    headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
    head.append("Content-Type: application/json\r\nContent-Length: ").append(body.length)
        .append("\r\n\r\n");
    byte[] h = head.toString().getBytes(StandardCharsets.US_ASCII);
    byte[] all = new byte[h.length + body.length];
    System.arraycopy(h, 0, all, 0, h.length);
    System.arraycopy(body, 0, all, h.length, body.length);
    out.write(all);
    out.flush();
  }

  @Override
  public void close() throws IOException {
    // Wakes every answer that waits, before any socket closes.
    closing.countDown();
    server.close();
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
    try {
      acceptor.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
