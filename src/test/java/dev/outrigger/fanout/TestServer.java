package dev.outrigger.fanout;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import okhttp3.HttpUrl;

/**
 * A tiny HTTP/1.1 server on a real socket (a free port on loopback), one virtual thread per
 * connection, that counts requests in flight and can stall a request until the client closes
 * the connection, which it detects and counts. Written for these tests because neither
 * MockWebServer nor the JDK HttpServer tells when a client hung up on a stalled request.
 */
final class TestServer implements AutoCloseable {

  /** Answers one request; may block; {@link Exchange#stallUntilClientCloses()} never answers. */
  interface Handler {
    Reply handle(Exchange exchange) throws Exception;
  }

  record Reply(int status, String body) {
    static Reply ok(String body) {
      return new Reply(200, body);
    }
  }

  private final ServerSocket serverSocket;
  private final Handler handler;
  private final Thread acceptor;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicInteger disconnects = new AtomicInteger();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private int inFlight;
  private int maxInFlight;
  private int stalled;

  TestServer(Handler handler) throws IOException {
    this.handler = handler;
    this.serverSocket = new ServerSocket(0, 4096, InetAddress.getLoopbackAddress());
    this.acceptor = Thread.ofVirtual().name("test-server-accept").start(this::acceptLoop);
  }

  HttpUrl url(String path) {
    return new HttpUrl.Builder()
        .scheme("http")
        .host(serverSocket.getInetAddress().getHostAddress())
        .port(serverSocket.getLocalPort())
        .build()
        .resolve(path);
  }

  int requestCount() {
    return requests.get();
  }

  /** Stalled requests whose client closed the connection. */
  int disconnects() {
    return disconnects.get();
  }

  int maxInFlight() {
    lock.lock();
    try {
      return maxInFlight;
    } finally {
      lock.unlock();
    }
  }

  int inFlight() {
    lock.lock();
    try {
      return inFlight;
    } finally {
      lock.unlock();
    }
  }

  /** Blocks until at least {@code n} requests are in flight; false after 10 s. */
  boolean awaitInFlight(int n) throws InterruptedException {
    return awaitState(() -> inFlight >= n);
  }

  /** Blocks until at least {@code n} requests are stalled; false after 10 s. */
  boolean awaitStalled(int n) throws InterruptedException {
    return awaitState(() -> stalled >= n);
  }

  /** Blocks until {@code n} stalled requests saw their client hang up; false after 10 s. */
  boolean awaitDisconnects(int n) throws InterruptedException {
    return awaitState(() -> disconnects.get() >= n);
  }

  private boolean awaitState(java.util.function.BooleanSupplier done)
      throws InterruptedException {
    long left = TimeUnit.SECONDS.toNanos(10);
    lock.lock();
    try {
      while (!done.getAsBoolean()) {
        if (left <= 0) {
          return false;
        }
        left = changed.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * For handlers: blocks until {@code n} requests are in flight, or {@code total} requests have
   * arrived (fewer than {@code n} are left), or the 10 s safety timeout runs out (which the
   * asserting test then notices).
   */
  void holdUntilInFlight(int n, int total) throws InterruptedException {
    awaitState(() -> inFlight >= n || requests.get() >= total);
  }

  private void acceptLoop() {
    while (!serverSocket.isClosed()) {
      try {
        Socket s = serverSocket.accept();
        s.setTcpNoDelay(true);
        sockets.add(s);
        Thread.ofVirtual().name("test-server-conn").start(() -> serve(s));
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      InputStream in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = socket.getOutputStream();
      while (true) {
        String requestLine = readLine(in);
        if (requestLine == null || requestLine.isEmpty()) {
          return;
        }
        String[] parts = requestLine.split(" ");
        int contentLength = 0;
        for (String h; !(h = readLine(in)).isEmpty(); ) {
          int colon = h.indexOf(':');
          if (colon > 0 && h.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
            contentLength = Integer.parseInt(h.substring(colon + 1).trim());
          }
        }
        in.readNBytes(contentLength);
        arrived();
        Reply reply;
        try {
          reply = handler.handle(new Exchange(parts[0], parts[1], in));
        } catch (ClientClosed e) {
          return;
        } finally {
          update(-1, 0);
        }
        byte[] body = reply.body().getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + reply.status() + " X\r\nContent-Length: " + body.length
            + "\r\nContent-Type: text/plain\r\n\r\n";
        byte[] headBytes = head.getBytes(StandardCharsets.US_ASCII);
        byte[] message = new byte[headBytes.length + body.length];
        System.arraycopy(headBytes, 0, message, 0, headBytes.length);
        System.arraycopy(body, 0, message, headBytes.length, body.length);
        out.write(message); // one write: no Nagle / delayed-ACK stall between head and body
        out.flush();
      }
    } catch (Exception e) {
      // The client went away or the server is closing.
    } finally {
      sockets.remove(socket);
    }
  }

  /** Counts a request and its being in flight in one step, so waiters see both or neither. */
  private void arrived() {
    lock.lock();
    try {
      requests.incrementAndGet();
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void update(int inFlightDelta, int stalledDelta) {
    lock.lock();
    try {
      inFlight += inFlightDelta;
      maxInFlight = Math.max(maxInFlight, inFlight);
      stalled += stalledDelta;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\n') {
        int len = sb.length();
        return len > 0 && sb.charAt(len - 1) == '\r' ? sb.substring(0, len - 1) : sb.toString();
      }
      sb.append((char) c);
    }
    return sb.isEmpty() ? null : sb.toString();
  }

  @Override
  public void close() throws IOException {
    serverSocket.close();
    for (Socket s : sockets) {
      s.close();
    }
    try {
      acceptor.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Thrown inside a handler when a stalled request's client closed the connection. */
  static final class ClientClosed extends Exception {
    private static final long serialVersionUID = 1L;
  }

  /** One request as the handler sees it. */
  final class Exchange {
    private final String method;
    private final String path;
    private final InputStream in;

    Exchange(String method, String path, InputStream in) {
      this.method = method;
      this.path = path;
      this.in = in;
    }

    String method() {
      return method;
    }

    String path() {
      return path;
    }

    TestServer server() {
      return TestServer.this;
    }

    /**
     * Never answers: blocks reading the connection, which returns end-of-stream (or fails) only
     * when the client closes it; counts that as a disconnect and ends the connection.
     */
    Reply stallUntilClientCloses() throws ClientClosed {
      update(0, +1);
      try {
        while (in.read() != -1) {
          // An HTTP/1.1 client sends nothing more on this connection until it has an answer.
        }
      } catch (IOException e) {
        // Reset by the client: a disconnect too, unless the server itself is closing.
      } finally {
        if (!serverSocket.isClosed()) {
          disconnects.incrementAndGet();
        }
        update(0, -1);
      }
      throw new ClientClosed();
    }
  }

  /** A latch the handler can wait on with the 10 s safety timeout. */
  static boolean await(CountDownLatch latch) throws InterruptedException {
    return latch.await(10, TimeUnit.SECONDS);
  }
}
