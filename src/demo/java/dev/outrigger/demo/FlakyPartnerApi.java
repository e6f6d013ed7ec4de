package dev.outrigger.demo;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An embedded "partner API" on loopback that misbehaves like real ones: a published quota per
 * API key (429 with {@code Retry-After} and {@code RateLimit-*} headers beyond it), random 503s,
 * a slow tail, occasional connection resets, and an outage during which {@code /inventory}
 * fails hard. It counts everything it sees, so the demo can print the server's view beside the
 * client's.
 *
 * <p>What a request meets is decided by the seed: the k-th request of a path that the quota
 * (and the outage) let through gets the fault (reset, 503, slow, none) that a hash of (seed,
 * path, k) picks,
 * whatever order the requests arrive in. The quota is about time; the outage covers a stretch
 * of requests as they arrive (all paths counted, 429s included), not of time, so that a client
 * that sends faster than planned (bare OkHttp, with no rate limit) meets it too. How many 429s
 * and outage answers a run sees varies a little between runs of one seed.
 */
final class FlakyPartnerApi implements AutoCloseable {
  static final double P_503 = 0.04;
  static final double P_SLOW = 0.02;
  static final double P_RESET = 0.01;
  /** The JDK server's bound on idle connections (jdk.httpserver's module documentation). */
  private static final String MAX_IDLE_PROPERTY = "sun.net.httpserver.maxIdleConnections";

  private final HttpServer server;
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final double quotaPerSecond;
  /** The outage: requests numbered above the first and up to the second (from 1, as they come). */
  private final long outageAfter;
  private final long outageUpTo;
  private final long seed;
  /** How many requests of each path the quota let through, so far. */
  private final Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
  private final Map<String, Quota> quotas = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  final AtomicLong requests = new AtomicLong();
  final AtomicLong ok = new AtomicLong();
  final AtomicLong throttled = new AtomicLong();
  final AtomicLong unavailable = new AtomicLong();
  final AtomicLong outage = new AtomicLong();
  final AtomicLong resets = new AtomicLong();
  /** Of the 200s, those sent late (1-2 s). */
  final AtomicLong slow = new AtomicLong();
  /**
   * Requests never answered because the client had hung up first: a slow answer still waiting
   * when the server stopped (the client's deadline cut its attempt), or an answer whose sending
   * failed. The other counts are of answers sent, so with the resets they add up to the requests
   * once the server has stopped.
   */
  final AtomicLong dropped = new AtomicLong();
  /** Arrivals, timed from the first: the busiest second. */
  private final BusiestSecond arrivals = new BusiestSecond();

  /**
   * An API whose {@code /inventory} fails hard for the requests numbered above
   * {@code outageAfter} and up to {@code outageUpTo}, counted from 1 as they arrive.
   */
  FlakyPartnerApi(double quotaPerSecond, long seed, long outageAfter, long outageUpTo)
      throws IOException {
    this.quotaPerSecond = quotaPerSecond;
    this.outageAfter = outageAfter;
    this.outageUpTo = outageUpTo;
    this.seed = seed;
    // The JDK's server closes a connection as its answer ends when 200 are idle already (its
    // default), unread: a client with more open (a concurrency of 1,000) then writes its next
    // request into a closed connection, and counts an attempt this server never sees. Read once,
    // by the JVM's first HttpServer: this one, in the demo's JVM.
    if (System.getProperty(MAX_IDLE_PROPERTY) == null) {
      System.setProperty(MAX_IDLE_PROPERTY, Integer.toString(Integer.MAX_VALUE));
    }
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }


  double quotaPerSecond() {
    return quotaPerSecond;
  }

  /** The most requests the server saw in any one-second window (ten consecutive 100 ms slots). */
  long busiestSecond() {
    return arrivals.busiest();
  }

  /** The draws for the k-th admitted request of {@code path}: the same for one seed. */
  private SplittableRandom draws(String path) {
    int k = seen.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
    return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + path.hashCode() * 31L + k);
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      arrivals.record();
      long n = requests.incrementAndGet();
      try {
        ex.getRequestBody().readAllBytes();
      } catch (IOException e) {
        dropped.incrementAndGet();
        throw e;
      }

      String key = ex.getRequestHeaders().getFirst("X-Api-Key");
      Quota q = quotas.computeIfAbsent(key == null ? "anonymous" : key,
          k -> new Quota(quotaPerSecond));
      long retryAfterMs = q.take();
      ex.getResponseHeaders().add("RateLimit-Limit", Long.toString((long) quotaPerSecond));
      ex.getResponseHeaders().add("RateLimit-Remaining", Long.toString(q.remaining()));
      if (retryAfterMs > 0) {
        long seconds = Math.max(1, (retryAfterMs + 999) / 1000);
        ex.getResponseHeaders().add("Retry-After", Long.toString(seconds));
        ex.getResponseHeaders().add("RateLimit-Reset", Long.toString(seconds));
        send(ex, 429, "{\"error\":\"quota exceeded\"}", throttled);
        return;
      }
      String path = ex.getRequestURI().getPath();
      if (path.startsWith("/inventory") && n > outageAfter && n <= outageUpTo) {
        send(ex, 500, "{\"error\":\"inventory database unreachable\"}", outage);
        return;
      }
      SplittableRandom draws = draws(path);
      double r = draws.nextDouble();
      if (r < P_RESET) {
        resets.incrementAndGet();
        // Closing the exchange before any response drops the connection: the client sees a
        // reset / unexpected end of stream.
        return;
      }
      if (r < P_RESET + P_503) {
        send(ex, 503, "{\"error\":\"try again\"}", unavailable);
        return;
      }
      String id = path.substring(path.lastIndexOf('/') + 1);
      String body = "{\"id\":\"" + id + "\",\"status\":\"shipped\",\"items\":3}";
      if (r < P_RESET + P_503 + P_SLOW) {
        try {
          Thread.sleep(1000 + (long) (draws.nextDouble() * 1000));
        } catch (InterruptedException e) {
          // Stopped while waiting (the demo stops the server once every call has ended): the
          // client gave up on this one (its deadline cut the attempt), and it was never sent.
          dropped.incrementAndGet();
          Thread.currentThread().interrupt();
          return;
        }
        send(ex, 200, body, ok, slow);
        return;
      }
      send(ex, 200, body, ok);
    }
  }

  /**
   * Sends the answer, then counts it in {@code counts}: an answer is counted once it has been
   * sent, not when it is decided on. One the client had hung up on by then is {@link #dropped}.
   */
  private void send(HttpExchange ex, int status, String body, AtomicLong... counts)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    try {
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(status, bytes.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(bytes);
      }
    } catch (IOException e) {
      dropped.incrementAndGet();
      throw e;
    }
    for (AtomicLong count : counts) {
      count.incrementAndGet();
    }
  }

  /**
   * Stops the server and waits (a few seconds at most) for its handlers to end, so that its
   * counts are final: a handler still waiting to send a slow answer is stopped, and counted as
   * {@link #dropped}. Call it once every call has ended, before reading the counts.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    server.stop(0);
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The server's own quota: a token bucket refilled continuously, burst of one second. */
  private static final class Quota {
    private final ReentrantLock lock = new ReentrantLock();
    private final double rate;
    private double tokens;
    private long last = System.nanoTime();

    Quota(double rate) {
      this.rate = rate;
      this.tokens = rate;
    }

    /** 0 when a token was taken, else the milliseconds until one is available. */
    long take() {
      lock.lock();
      try {
        long now = System.nanoTime();
        tokens = Math.min(rate, tokens + (now - last) / 1e9 * rate);
        last = now;
        if (tokens >= 1) {
          tokens -= 1;
          return 0;
        }
        return (long) Math.ceil((1 - tokens) / rate * 1000);
      } finally {
        lock.unlock();
      }
    }

    long remaining() {
      lock.lock();
      try {
        return (long) Math.floor(tokens);
      } finally {
        lock.unlock();
      }
    }
  }
}
