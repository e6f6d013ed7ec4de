package dev.outrigger.reliability;

import dev.outrigger.reliability.FaultServer.Request;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Function;

/** Raw-socket HTTP/1.1 server with scripted faults, including hangs and oversized bodies. */
final class ChaosServer extends RawSocketServer {
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

  private volatile Function<Request, Action> script;

  ChaosServer(Function<Request, Action> script) throws IOException {
    super(InetAddress.getByName("0.0.0.0"), "chaos-server");
    this.script = script;
    start();
  }

  void script(Function<Request, Action> s) {
    this.script = s;
  }

  String hostKey() {
    return "127.0.0.1:" + port();
  }

  @Override
  boolean answer(Socket s, Request req, OutputStream out)
      throws IOException, InterruptedException {
    Action action = script.apply(req);
    if (action instanceof Reset) {
      s.setSoLinger(true, 0);
      return false;
    }
    if (action instanceof Hang) {
      pause(30_000);
      return false;
    }
    if (action instanceof Truncate t) {
      truncated(out, t.declared(), t.sent());
      return false;
    }
    if (action instanceof Drip d) {
      out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + d.bytes()
          + "\r\nContent-Type: text/plain\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      for (int i = 0; i < d.bytes(); i++) {
        if (pause(d.gapMillis())) {
          return false;
        }
        out.write('x');
        out.flush();
      }
      return true;
    }
    Reply r = (Reply) action;
    if (r.delayMillis() > 0 && pause(r.delayMillis())) {
      return false;
    }
    reply(out, r.status(), r.headers(), body(r.bodyBytes()));
    return !r.closeAfter();
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
}
