package dev.outrigger.reliability;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * A small HTTP/1.1 server on raw sockets, one virtual thread per connection, that keeps
 * connections alive as long as the client wants and lets a test script every answer, faults
 * included: resets, stalls, dripped or truncated bodies. It counts every request it reads.
 */
final class FaultServer extends RawSocketServer {
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

  private final Function<Request, Action> script;

  FaultServer(Function<Request, Action> script) throws IOException {
    super(InetAddress.getLoopbackAddress(), "fault-server");
    this.script = script;
    start();
  }

  @Override
  boolean answer(Socket s, Request req, OutputStream out)
      throws IOException, InterruptedException {
    Action action = script.apply(req);
    if (action instanceof Reset) {
      s.setSoLinger(true, 0);
      return false;
    }
    if (action instanceof Truncate t) {
      truncated(out, t.declared(), t.sent());
      return false;
    }
    Reply r = (Reply) action;
    if (r.delayMillis() > 0 && pause(r.delayMillis())) {
      return false;
    }
    reply(out, r.status(), r.headers(), r.body().getBytes(StandardCharsets.UTF_8));
    return true;
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
}
