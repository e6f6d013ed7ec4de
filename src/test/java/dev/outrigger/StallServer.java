package dev.outrigger;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A raw socket server for faults MockWebServer cannot express: it accepts one connection, reads
 * the request head, writes {@code prefix} (possibly nothing, or headers and part of a body),
 * then stalls, and records when the client closes the connection.
 */
final class StallServer implements AutoCloseable {
  private final ServerSocket server;
  private final Thread thread;
  private final CountDownLatch requestRead = new CountDownLatch(1);
  private final CountDownLatch clientClosed = new CountDownLatch(1);

  StallServer(String prefix, boolean accept) throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    thread = Thread.ofVirtual().start(() -> {
      if (!accept) {
        return;
      }
      try (Socket s = server.accept()) {
        InputStream in = s.getInputStream();
        readHead(in);
        requestRead.countDown();
        OutputStream out = s.getOutputStream();
        out.write(prefix.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        // Stall: the next read returns -1 (or fails) only when the client closes its side.
        while (in.read() != -1) {
          // discard
        }
        clientClosed.countDown();
      } catch (IOException e) {
        clientClosed.countDown();
      }
    });
  }

  /** Reads up to the end of a request head (the blank line), or to the end of the stream. */
  static void readHead(InputStream in) throws IOException {
    int matched = 0;
    byte[] end = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    int b;
    while (matched < 4 && (b = in.read()) != -1) {
      matched = b == end[matched] ? matched + 1 : (b == end[0] ? 1 : 0);
    }
  }

  String url(String path) {
    return "http://127.0.0.1:" + server.getLocalPort() + path;
  }

  boolean awaitRequest(long seconds) throws InterruptedException {
    return requestRead.await(seconds, TimeUnit.SECONDS);
  }

  /** Whether the client closed the connection within {@code seconds}. */
  boolean awaitClientClose(long seconds) throws InterruptedException {
    return clientClosed.await(seconds, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws IOException {
    server.close();
    thread.interrupt();
  }
}
