package dev.outrigger.internal.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A keep-alive HTTP/1.1 server over raw sockets that closes a connection once it has been idle
 * for {@code idleMillis} after an answer, as Node.js, Apache httpd or uvicorn (5 s) and gunicorn
 * (2 s) do by default. Answers every request {@code 200 ok}, records each request line, and
 * counts the connections it accepted and those it closed for idleness. It can also close each
 * connection right after its first answer ({@link #closeAfterAnswer}), or read a connection's
 * request after its {@link #answersBeforeDrop}th and close without answering it, never saying
 * {@code Connection: close}.
 */
final class IdleClosingServer implements AutoCloseable {
  final List<String> requests = new CopyOnWriteArrayList<>();
  private final ServerSocket listener;
  private final int idleMillis;
  private final Semaphore closedIdle = new Semaphore(0);
  /** When set, each request waits for it before being answered (to open several connections). */
  volatile java.util.concurrent.CountDownLatch hold;
  /**
   * When set, each connection is closed right after its answer (as the JDK's HttpServer closes
   * those beyond its idle limit), counted for {@link #awaitClosedAfterAnswer}.
   */
  volatile boolean closeAfterAnswer;
  /**
   * When not negative, a connection that answered this many requests reads the next one,
   * records it, and closes without answering it.
   */
  volatile int answersBeforeDrop = -1;
  /** What a connection dropped so writes first, the start of an answer (none when empty). */
  volatile String cutAnswer = "";
  private final Semaphore closedAfterAnswer = new Semaphore(0);
  private final AtomicInteger accepted = new AtomicInteger();

  IdleClosingServer(int idleMillis) throws IOException {
    this.idleMillis = idleMillis;
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(this::acceptLoop);
  }

  String url() {
    return "http://127.0.0.1:" + listener.getLocalPort();
  }

  int port() {
    return listener.getLocalPort();
  }

  /** Waits until the server has closed {@code n} more idle connections. */
  void awaitIdleClosed(int n) throws InterruptedException {
    if (!closedIdle.tryAcquire(n, 10, TimeUnit.SECONDS)) {
      throw new AssertionError("the server did not close " + n + " idle connections");
    }
  }

  /** Waits until the server has closed {@code n} more connections right after answering. */
  void awaitClosedAfterAnswer(int n) throws InterruptedException {
    if (!closedAfterAnswer.tryAcquire(n, 10, TimeUnit.SECONDS)) {
      throw new AssertionError("the server did not close " + n + " answered connections");
    }
  }

  /** How many connections the server accepted. */
  int accepted() {
    return accepted.get();
  }

  private void acceptLoop() {
    while (!listener.isClosed()) {
      try {
        Socket s = listener.accept();
        accepted.incrementAndGet();
        Thread.ofVirtual().start(() -> serve(s));
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    boolean idleClose = false;
    try (s) {
      // Idle is counted from each answer: a client that connected and has not written its
      // first request yet (descheduled on a loaded machine) is not idle, and closing on it
      // would fail the request a test expects to succeed.
      s.setSoTimeout(Math.max(idleMillis, 10_000));
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      for (int answered = 0; ; answered++) {
        String head;
        try {
          head = readHead(in);
        } catch (SocketTimeoutException idle) {
          idleClose = true;
          return;
        }
        if (head == null) {
          return;
        }
        requests.add(head.substring(0, head.indexOf('\r')));
        int length = 0;
        for (String line : head.split("\r\n")) {
          if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
            length = Integer.parseInt(line.substring(15).trim());
          }
        }
        in.readNBytes(length);
        if (answered == answersBeforeDrop) {
          out.write(cutAnswer.getBytes(StandardCharsets.US_ASCII));
          out.flush();
          return;
        }
        java.util.concurrent.CountDownLatch h = hold;
        if (h != null) {
          h.countDown();
          try {
            h.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            return;
          }
        }
        out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        if (closeAfterAnswer) {
          s.close();
          closedAfterAnswer.release();
          return;
        }
        s.setSoTimeout(idleMillis);
      }
    } catch (IOException ignored) {
      // the client went away
    } finally {
      if (idleClose) {
        closedIdle.release();
      }
    }
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      buf.write(b);
      matched = b == (matched % 2 == 0 ? '\r' : '\n') ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return buf.toString(StandardCharsets.US_ASCII);
  }

  @Override
  public void close() throws IOException {
    listener.close();
  }
}
