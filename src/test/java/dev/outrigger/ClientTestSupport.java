package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;

/**
 * Leak checks shared by the client tests: OkHttp's "connection leaked" warning (logged through
 * java.util.logging when a response body is garbage-collected unclosed) must never fire, and
 * every pooled connection must end idle.
 */
public final class ClientTestSupport {
  private static final java.util.logging.Logger OKHTTP =
      java.util.logging.Logger.getLogger(OkHttpClient.class.getName());
  private static final List<String> LEAKS = new CopyOnWriteArrayList<>();

  static {
    OKHTTP.addHandler(new Handler() {
      @Override
      public void publish(LogRecord r) {
        if (r.getLevel().intValue() >= Level.WARNING.intValue()
            && String.valueOf(r.getMessage()).contains("leaked")) {
          LEAKS.add(r.getMessage());
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    });
  }

  private ClientTestSupport() {}

  /**
   * The JDK's HTTP server on a free loopback port, started with {@code handler} at "/". It
   * answers in one write, unlike MockWebServer, whose headers and body meet delayed ACKs
   * (~40 ms a call): for tests that make hundreds of calls. Stop it with {@code stop(0)}.
   */
  public static HttpServer jdkServer(HttpHandler handler) throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", handler);
    server.start();
    return server;
  }

  /**
   * Counts {@code exchange} in {@code requests} and records the X-Deadline-Ms header it carries,
   * if any, in {@code deadlineHeaders}; returns its number (1 for the first).
   */
  public static int count(HttpExchange exchange, AtomicInteger requests,
      List<String> deadlineHeaders) {
    int n = requests.incrementAndGet();
    String h = exchange.getRequestHeaders().getFirst("X-Deadline-Ms");
    if (h != null) {
      deadlineHeaders.add(h);
    }
    return n;
  }

  /** Answers {@code status} with no body, and {@code Retry-After} if not null. */
  public static void bare(HttpExchange exchange, int status, String retryAfter)
      throws IOException {
    if (retryAfter != null) {
      exchange.getResponseHeaders().add("Retry-After", retryAfter);
    }
    exchange.sendResponseHeaders(status, -1);
    exchange.close();
  }

  /** Answers {@code exchange} with {@code status} and {@code text} as its UTF-8 body. */
  public static void reply(HttpExchange exchange, int status, String text) throws IOException {
    byte[] body = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, body.length);
    try (java.io.OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  /**
   * {@code b} on {@code clock}, through the builder's package-private setter: the client offers
   * no public way to replace time.
   */
  public static ApiClient.Builder withClock(
      ApiClient.Builder b, dev.outrigger.internal.NanoClock clock) {
    return b.clock(clock);
  }

  /** The base URL of a server from {@link #jdkServer}. */
  public static String url(HttpServer server) {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /**
   * Waits until {@code t} waits for a fetch of fresh credentials (in the auth refresher, on the
   * fetch's future); fails if {@code t} ends, or does not within {@code within}.
   */
  public static void awaitWaitingForTheRefresh(Thread t, java.time.Duration within) {
    long end = System.nanoTime() + within.toNanos();
    while (!waitsForTheRefresh(t)) {
      if (!t.isAlive() || System.nanoTime() - end > 0) {
        fail("the call never waited for the refresh");
      }
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
    }
  }

  private static boolean waitsForTheRefresh(Thread t) {
    boolean inRefresh = false;
    boolean onTheFetch = false;
    for (StackTraceElement f : t.getStackTrace()) {
      inRefresh |= f.getClassName().endsWith("AuthInterceptors$Refresher")
          && f.getMethodName().equals("fresh");
      onTheFetch |= f.getClassName().equals("java.util.concurrent.CompletableFuture");
    }
    return inRefresh && onTheFetch;
  }

  /** Asserts no response body leaked and every connection of {@code client} is back idle. */
  @SuppressWarnings("removal") // runFinalization: OkHttp reports leaked bodies from a cleaner
  public static void assertNoLeaks(ApiClient client) throws InterruptedException {
    // Leaked bodies are only noticed when the GC collects them.
    System.gc();
    System.runFinalization();
    ConnectionPool pool = client.okHttpClient().connectionPool();
    long end = System.nanoTime() + 5_000_000_000L;
    // The two counts are read one after the other while the pool may be evicting idle
    // connections (over its idle limit): a pair read across an eviction is read again.
    int total = pool.connectionCount();
    int idle = pool.idleConnectionCount();
    while (total != idle && System.nanoTime() < end) {
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
      total = pool.connectionCount();
      idle = pool.idleConnectionCount();
    }
    assertEquals(total, idle, "every pooled connection must be idle once all calls returned");
    pool.evictAll();
    System.gc();
    assertTrue(LEAKS.isEmpty(), "OkHttp reported leaked connections: " + LEAKS);
  }
}
