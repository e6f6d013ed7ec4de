package dev.outrigger.readme;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.outrigger.ClientTestSupport;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The JDK's HTTP server on a free loopback port for the README tests: every request is recorded
 * (method, path with query, headers, body) and answered by a {@link Handler}.
 */
final class ReadmeServer implements AutoCloseable {

  /** One request as the server read it. */
  record Seen(String method, String target, Map<String, List<String>> headers, String body) {
    String header(String name) {
      for (Map.Entry<String, List<String>> e : headers.entrySet()) {
        if (e.getKey().equalsIgnoreCase(name)) {
          return e.getValue().get(0);
        }
      }
      return null;
    }
  }

  /** An answer: a status, headers (name, value pairs) and a body. */
  record Reply(int status, String body, String... headers) {
    static Reply ok(String body) {
      return new Reply(200, body);
    }

    static Reply json(String body) {
      return new Reply(200, body, "Content-Type", "application/json");
    }
  }

  interface Handler {
    Reply handle(Seen request, int n) throws Exception;
  }

  final List<Seen> seen = new CopyOnWriteArrayList<>();
  private final HttpServer server;

  ReadmeServer(Handler handler) throws IOException {
    server = ClientTestSupport.jdkServer(exchange -> {
      try (exchange) {
        Seen s = new Seen(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath()
            + (exchange.getRequestURI().getRawQuery() == null ? ""
                : "?" + exchange.getRequestURI().getRawQuery()),
            Map.copyOf(exchange.getRequestHeaders()),
            new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
        seen.add(s);
        Reply r;
        try {
          r = handler.handle(s, seen.size());
        } catch (Exception e) {
          r = new Reply(500, String.valueOf(e));
        }
        answer(exchange, r);
      }
    });
  }

  private static void answer(HttpExchange exchange, Reply r) throws IOException {
    for (int i = 0; i + 1 < r.headers().length; i += 2) {
      exchange.getResponseHeaders().add(r.headers()[i], r.headers()[i + 1]);
    }
    byte[] body = r.body() == null ? new byte[0] : r.body().getBytes(StandardCharsets.UTF_8);
    if (r.status() == 204 || body.length == 0) {
      exchange.sendResponseHeaders(r.status(), -1);
    } else {
      exchange.sendResponseHeaders(r.status(), body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  /** The base URL: {@code http://127.0.0.1:port}. */
  String url() {
    return ClientTestSupport.url(server);
  }

  /** {@code 127.0.0.1:port}, the default key of the client's per-host policies. */
  String host() {
    return "127.0.0.1:" + server.getAddress().getPort();
  }

  int requests() {
    return seen.size();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
