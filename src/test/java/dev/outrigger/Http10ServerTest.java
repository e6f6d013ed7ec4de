package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * An HTTP/1.0 server, as {@code python3 -m http.server} is: it closes the connection after each
 * answer unless it says {@code Connection: keep-alive}. Over a real socket.
 */
class Http10ServerTest {
  /** Answers each request with HTTP/1.0 and {@code extraHeader}, closing unless it keeps alive. */
  private static final class Http10Server implements AutoCloseable {
    final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger requests = new AtomicInteger();
    private final Thread acceptor;
    private final Queue<Thread> served = new ConcurrentLinkedQueue<>();
    private final Queue<Socket> open = new ConcurrentLinkedQueue<>();

    Http10Server(String extraHeader, boolean keepAlive) throws IOException {
      acceptor = Thread.ofVirtual().start(() -> {
        while (!server.isClosed()) {
          try {
            Socket s = server.accept();
            connections.incrementAndGet();
            open.add(s);
            served.add(Thread.ofVirtual().start(() -> serve(s, extraHeader, keepAlive)));
          } catch (IOException e) {
            return;
          }
        }
      });
    }

    private void serve(Socket s, String extraHeader, boolean keepAlive) {
      try (s) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        do {
          if (!readHead(in)) {
            return;
          }
          int n = requests.incrementAndGet();
          String body = "answer " + n;
          out.write(("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
              + body.length() + "\r\n" + extraHeader + "\r\n" + body)
              .getBytes(StandardCharsets.US_ASCII));
          out.flush();
        } while (keepAlive);
      } catch (IOException e) {
        // the client went away
      }
    }

    /** Reads a request's head (no body: GETs only); false at the end of the stream. */
    private static boolean readHead(InputStream in) throws IOException {
      int matched = 0;
      for (int b; (b = in.read()) != -1; ) {
        matched = b == (matched % 2 == 0 ? '\r' : '\n') ? matched + 1 : (b == '\r' ? 1 : 0);
        if (matched == 4) {
          return true;
        }
      }
      return false;
    }

    String url() {
      return "http://127.0.0.1:" + server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      server.close();
      try {
        acceptor.join();
        for (Socket s : open) {
          s.close();
        }
        for (Thread t : served) {
          t.join();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Test
  void aServerThatClosesAfterEachAnswerGetsEveryCallOnAConnectionOfItsOwn() throws Exception {
    try (Http10Server server = new Http10Server("", false);
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.none()).build()) {
      for (int i = 1; i <= 6; i++) {
        // Each call used to fail every other time: written on the connection the server had
        // closed after the last answer ("unexpected end of stream").
        assertEquals("answer " + i, client.get("/file").execute(String.class));
      }
      assertEquals(6, server.connections.get());
    }
  }

  @Test
  void aServerThatSaysKeepAliveKeepsItsConnection() throws Exception {
    try (Http10Server server = new Http10Server("Connection: Keep-Alive\r\n", true);
        ApiClient client = ApiClient.builder().baseUrl(server.url())
            .retry(Retry.none()).build()) {
      for (int i = 1; i <= 4; i++) {
        assertEquals("answer " + i, client.get("/file").execute(String.class));
      }
      assertEquals(1, server.connections.get(), "one connection, kept alive");
    }
  }
}
