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
import java.util.function.Function;

/** Raw-socket HTTP/1.1 server with scripted faults, including hangs and oversized bodies. */
final class ChaosServer implements AutoCloseable {
  sealed interface Action {}

  /** status, headers, body of n bytes, delay before answering, close connection after. */
  record Reply(int status, Map<String, String> headers, int bodyBytes, long delayMillis,
      boolean closeAfter) implements Action {}

  record Reset() implements Action {}

  record Truncate(int declared, int sent) implements Action {}

  /** Read the request, never answer until the server closes. */
  record Hang() implements Action {}

  /** Headers, then the body one byte every {@code gapMillis}. */
  record Drip(int bytes, long gapMillis) implements Action {}

  private final ServerSocket server;
  private final Thread acceptor;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile Function<Request, Action> script;
  private final CountDownLatch closing = new CountDownLatch(1);
  final AtomicLong requests = new AtomicLong();
  final AtomicLong connections = new AtomicLong();

  ChaosServer(Function<Request, Action> script) throws IOException {
    this.script = script;
    server = new ServerSocket(0, 4096, InetAddress.getByName("0.0.0.0"));
    acceptor = Thread.ofVirtual().name("chaos-server-accept").start(this::acceptLoop);
  }

  void script(Function<Request, Action> s) {
    this.script = s;
  }

  String url(String path) {
    return "http://127.0.0.1:" + server.getLocalPort() + path;
  }

  int port() {
    return server.getLocalPort();
  }

  String hostKey() {
    return "127.0.0.1:" + server.getLocalPort();
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
        Action action = script.apply(req);
        if (action instanceof Reset) {
          s.setSoLinger(true, 0);
          return;
        }
        if (action instanceof Hang) {
          closing.await(30, TimeUnit.SECONDS);
          return;
        }
        if (action instanceof Truncate t) {
          out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + t.declared()
              + "\r\nContent-Type: text/plain\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write("x".repeat(t.sent()).getBytes(StandardCharsets.US_ASCII));
          out.flush();
          return;
        }
        if (action instanceof Drip d) {
          out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + d.bytes()
              + "\r\nContent-Type: text/plain\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          out.flush();
          for (int i = 0; i < d.bytes(); i++) {
            if (closing.await(d.gapMillis(), TimeUnit.MILLISECONDS)) {
              return;
            }
            out.write('x');
            out.flush();
          }
          continue;
        }
        Reply r = (Reply) action;
        if (r.delayMillis() > 0 && closing.await(r.delayMillis(), TimeUnit.MILLISECONDS)) {
          return;
        }
        byte[] body = body(r.bodyBytes());
        StringBuilder head = new StringBuilder("HTTP/1.1 ").append(r.status()).append(" X\r\n");
        r.headers().forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        head.append("Content-Type: application/json\r\nContent-Length: ").append(body.length)
            .append("\r\n\r\n");
        out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        if (r.closeAfter()) {
          return;
        }
      }
    } catch (IOException | InterruptedException e) {
      // the client went away or the server is closing
    } finally {
      open.remove(s);
    }
  }

  private static byte[] body(int n) {
    if (n <= 2) {
      return "{}".getBytes(StandardCharsets.US_ASCII);
    }
    byte[] b = new byte[n];
    b[0] = '"';
    for (int i = 1; i < n - 1; i++) {
      b[i] = 'a';
    }
    b[n - 1] = '"';
    return b;
  }

  int openConnections() {
    return open.size();
  }

  @Override
  public void close() throws IOException {
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
