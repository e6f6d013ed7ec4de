package dev.outrigger.reliability;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * A small HTTP/1.1 server on raw sockets, one virtual thread per connection, that keeps
 * connections alive as long as the client wants and lets a test script every answer, faults
 * included: resets, stalls, dripped or truncated bodies. It counts every request it reads.
 */
final class FaultServer implements AutoCloseable {
  /** What to do with one request. */
  sealed interface Action {}

  /** A normal answer. */
  record Reply(int status, Map<String, String> headers, String body, long delayMillis)
      implements Action {
    Reply(int status, String body) {
      this(status, Map.of(), body, 0);
    }
  }

  /** Abort the connection (RST) without answering. */
  record Reset() implements Action {}

  /** Headers declaring {@code declared} bytes, then only {@code sent} of them, then close. */
  record Truncate(int declared, int sent) implements Action {}

  /** Request as parsed. */
  record Request(String method, String target, Map<String, String> headers, byte[] body) {
    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  private final ServerSocket server;
  private final Thread acceptor;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Function<Request, Action> script;
  final AtomicLong requests = new AtomicLong();

  FaultServer(Function<Request, Action> script) throws IOException {
    this.script = script;
    server = new ServerSocket(0, 4096, InetAddress.getLoopbackAddress());
    acceptor = Thread.ofVirtual().name("fault-server-accept").start(this::acceptLoop);
  }

  String url(String path) {
    return "http://127.0.0.1:" + server.getLocalPort() + path;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        s.setTcpNoDelay(true);
        open.add(s);
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
        Request req = read(in);
        if (req == null) {
          return;
        }
        requests.incrementAndGet();
        Action action = script.apply(req);
        if (action instanceof Reset) {
          s.setSoLinger(true, 0);
          return;
        }
        if (action instanceof Truncate t) {
          out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + t.declared()
              + "\r\nContent-Type: text/plain\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write("x".repeat(t.sent()).getBytes(StandardCharsets.US_ASCII));
          out.flush();
          return;
        }
        Reply r = (Reply) action;
        if (r.delayMillis() > 0) {
          Thread.sleep(r.delayMillis());
        }
        byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder("HTTP/1.1 ").append(r.status()).append(" X\r\n");
        r.headers().forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        head.append("Content-Type: application/json\r\nContent-Length: ").append(body.length)
            .append("\r\n\r\n");
        byte[] h = head.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[h.length + body.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(body, 0, all, h.length, body.length);
        out.write(all);
        out.flush();
      }
    } catch (IOException | InterruptedException e) {
      // the client went away or the server is closing
    } finally {
      open.remove(s);
    }
  }

  /** Reads one request, or null at end of stream or when the body was cut short. */
  static Request read(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    String requestLine = null;
    Map<String, String> headers = new LinkedHashMap<>();
    while (true) {
      int b = in.read();
      if (b == -1) {
        return null;
      }
      if (b == '\n') {
        String l = line.toString().strip();
        line.setLength(0);
        if (requestLine == null) {
          if (l.isEmpty()) {
            continue;
          }
          requestLine = l;
        } else if (l.isEmpty()) {
          break;
        } else {
          int colon = l.indexOf(':');
          headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT),
              l.substring(colon + 1).trim());
        }
      } else {
        line.append((char) b);
      }
    }
    String[] parts = requestLine.split(" ");
    int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
    byte[] body = in.readNBytes(length);
    if (body.length < length) {
      return null; // cut mid-body: not a request the server could act on
    }
    return new Request(parts[0], parts[1], headers, body);
  }

  int openConnections() {
    return open.size();
  }

  @Override
  public void close() throws IOException {
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
