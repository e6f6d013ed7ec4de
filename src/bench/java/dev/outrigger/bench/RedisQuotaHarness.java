package dev.outrigger.bench;

import com.sun.net.httpserver.HttpServer;
import dev.outrigger.ApiClient;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.Retry;
import dev.outrigger.redis.RedisRateLimitStore;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * The shared Redis rate limit under load, against a real {@code redis-server} it starts on a
 * free loopback port:
 *
 * <ol>
 *   <li><b>Limiter throughput</b>: permits per second through {@link RedisRateLimitStore#reserve}
 *       with a limit that never blocks, from one store instance and from four (the same 16
 *       threads in all), without and with pre-fetching.
 *   <li><b>Overshoot at the server</b>: one and four {@link ApiClient}s, each with its own store,
 *       sharing a 200/s, burst 20 quota against a local JDK HTTP server that notes when each
 *       request arrives; the harness reports the most requests any window of time held beyond
 *       {@code rate x window}, to compare with the burst (and the pre-fetch bound), both at the
 *       server and at the clients (noted right after the rate-limit step, before OkHttp). A
 *       control row runs the same load through an in-memory bucket (the same GCRA, no Redis):
 *       what it shows beyond the burst is the machine's scheduling jitter, not the store's.
 *       The bound holds for the permits, when the limiter made each usable; a send is noted
 *       later, after the store's answer came back and the thread woke from its wait, by a delay
 *       that varies, and a window of sends can hold one request more for each 5 ms (one
 *       interval at 200/s) by which the delays within it differ. So the rows also show the
 *       worst window of the permits, each noted as the store's answer plus its wait, and the
 *       longest a send came after its permit.
 * </ol>
 *
 * The harness checks its own sanity: a permit of part 1 not granted at once, a call of part 2
 * that failed or that the server did not see, a count of part 2's permits other than its sends,
 * or any reservation the stores' local fallback answered instead of Redis is reported after the
 * tables, and the harness exits with status 1.
 *
 * <p>Arguments: {@code [seconds per run] [repetitions]} (default 3 and 3).
 */
public final class RedisQuotaHarness {
  private static final int THREADS = 16;
  /** What made a run not measure what it says: reported after the tables, and exit status 1. */
  private static final List<String> PROBLEMS = new ArrayList<>();

  private RedisQuotaHarness() {}

  public static void main(String[] rawArgs) throws Exception {
    List<String> args = List.of(rawArgs);
    double seconds = args.size() > 0 ? Double.parseDouble(args.get(0)) : 3;
    int reps = args.size() > 1 ? Integer.parseInt(args.get(1)) : 3;
    System.out.printf(Locale.ROOT, "JDK %s, %d CPUs, %.1f s per run, %d repetitions%n",
        Runtime.version(), Runtime.getRuntime().availableProcessors(), seconds, reps);

    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Process redis = new ProcessBuilder("redis-server", "--bind", "127.0.0.1", "--port",
        Integer.toString(port), "--save", "", "--appendonly", "no")
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    // A harness stopped by a signal (Ctrl-C) must not leave redis-server running on its port,
    // as Nginx does for the end-to-end harness.
    Thread stopOnExit = new Thread(redis::destroy, "redis-stop");
    Runtime.getRuntime().addShutdownHook(stopOnExit);
    try {
      awaitPing(port);
      String uri = "redis://127.0.0.1:" + port;
      System.out.println(redisVersion(port));

      System.out.println();
      System.out.println("1. Limiter throughput (permits/s, 16 threads, limit never blocks)");
      System.out.println("stores  prefetch   median        min        max");
      for (int prefetch : new int[] {1, 8}) {
        for (int stores : new int[] {1, 4}) {
          double[] runs = new double[reps];
          for (int r = 0; r < reps; r++) {
            runs[r] = throughput(uri, stores, prefetch, seconds);
          }
          Arrays.sort(runs);
          System.out.printf(Locale.ROOT, "%6d  %8d  %9.0f  %9.0f  %9.0f%n",
              stores, prefetch, runs[reps / 2], runs[0], runs[reps - 1]);
        }
      }

      System.out.println();
      System.out.println("2. Overshoot at the server (quota 200/s, burst 20, 16 threads in all)");
      System.out.println("store   clients  prefetch  requests/s  worst beyond rate x T: "
          + "at server  at send  at permit  bound  send after permit, max");
      for (int r = 0; r < reps; r++) {
        double[] o = overshoot(null, 1, 1, seconds);
        System.out.printf(Locale.ROOT,
            "memory  %7d  %8d  %10.1f  %32.2f  %7.2f  %9.2f  %5d  %19.1f ms%n",
            1, 1, o[0], o[1], o[2], o[3], 20, o[4]);
      }
      for (int prefetch : new int[] {1, 8}) {
        for (int clients : new int[] {1, 4}) {
          for (int r = 0; r < reps; r++) {
            double[] o = overshoot(uri, clients, prefetch, seconds);
            System.out.printf(Locale.ROOT,
                "redis   %7d  %8d  %10.1f  %32.2f  %7.2f  %9.2f  %5d  %19.1f ms%n",
                clients, prefetch, o[0], o[1], o[2], o[3], 20 + clients * (prefetch - 1), o[4]);
          }
        }
      }
    } finally {
      redis.destroy();
      redis.waitFor(10, TimeUnit.SECONDS);
      Runtime.getRuntime().removeShutdownHook(stopOnExit);
    }
    if (!PROBLEMS.isEmpty()) {
      System.out.println();
      System.out.println("FAILED: these runs did not measure what their rows say:");
      PROBLEMS.forEach(p -> System.out.println("  " + p));
      System.exit(1);
    }
  }

  /** Permits per second through {@code stores} stores from 16 threads in all. */
  private static double throughput(String uri, int stores, int prefetch, double seconds)
      throws Exception {
    RateLimit limit = RateLimit.perSecond(1e8).burst(1_000_000_000);
    List<RedisRateLimitStore> all = new ArrayList<>();
    for (int i = 0; i < stores; i++) {
      all.add(RedisRateLimitStore.builder(uri).prefetch(prefetch)
          .timeout(java.time.Duration.ofMillis(500)).build());
    }
    try {
      // Warm up: let the JIT see the path before measuring.
      LongAdder notNow = new LongAdder();
      run(all, limit, 0.5, notNow);
      double rate = run(all, limit, seconds, notNow) / seconds;
      String run = "part 1, " + stores + " stores, prefetch " + prefetch + ": ";
      if (notNow.sum() > 0) {
        PROBLEMS.add(run + notNow.sum() + " reservations not granted at once by a limit that "
            + "never blocks");
      }
      checkNoFallback(run, all);
      return rate;
    } finally {
      all.forEach(RedisRateLimitStore::close);
    }
  }

  /**
   * Notes a problem if any of {@code stores} answered from its local fallback (Redis slow or
   * unavailable) instead of Redis: those answers were counted as Redis's, and the store's WARN
   * goes nowhere here (the bench profile logs through slf4j-nop).
   */
  private static void checkNoFallback(String run, List<RedisRateLimitStore> stores)
      throws ReflectiveOperationException {
    Method fallbacks = RedisRateLimitStore.class.getDeclaredMethod("fallbacks");
    fallbacks.setAccessible(true);
    long n = 0;
    for (RedisRateLimitStore store : stores) {
      n += (long) fallbacks.invoke(store);
    }
    if (n > 0) {
      PROBLEMS.add(run + n + " reservations answered by the stores' local fallback, not Redis");
    }
  }

  /** Permits granted at once in {@code seconds}; {@code notNow} counts the others. */
  private static long run(List<RedisRateLimitStore> stores, RateLimit limit, double seconds,
      LongAdder notNow) throws InterruptedException {
    LongAdder permits = new LongAdder();
    long end = System.nanoTime() + (long) (seconds * 1e9);
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < THREADS; i++) {
      RedisRateLimitStore store = stores.get(i % stores.size());
      ts.add(Thread.ofVirtual().start(() -> {
        try {
          while (System.nanoTime() - end < 0) {
            if (store.reserve("bench", limit, 1, 0) == 0) {
              permits.increment();
            } else {
              notNow.increment();
            }
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    for (Thread t : ts) {
      t.join();
    }
    return permits.sum();
  }

  /**
   * Returns {requests per second, worst window beyond rate x T at the server, the same at the
   * clients' send, the same of the permits, the longest a send came after its permit in ms}. A
   * null {@code uri} runs one client on an in-memory bucket instead.
   */
  private static double[] overshoot(String uri, int clients, int prefetch, double seconds)
      throws Exception {
    double rate = 200;
    int burst = 20;
    RateLimit limit = RateLimit.perSecond(rate).burst(burst);
    ConcurrentLinkedQueue<Long> arrivals = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Long> sends = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Long> permits = new ConcurrentLinkedQueue<>();
    // The permit of the call this thread is making: a call's attempt runs on its caller's thread.
    ThreadLocal<long[]> permitOfThisCall = ThreadLocal.withInitial(() -> new long[1]);
    AtomicLong latestSend = new AtomicLong();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 256);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/", ex -> {
      arrivals.add(System.nanoTime());
      byte[] ok = "ok".getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, ok.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(ok);
      }
    });
    server.start();
    String base = "http://127.0.0.1:" + server.getAddress().getPort();
    List<RedisRateLimitStore> stores = new ArrayList<>();
    List<ApiClient> apis = new ArrayList<>();
    try {
      if (uri != null) {
        redisCommand(uri, "FLUSHALL");
      }
      for (int i = 0; i < clients; i++) {
        RateLimitStore store;
        if (uri == null) {
          store = new MemoryStore(System.nanoTime());
        } else {
          RedisRateLimitStore redis = RedisRateLimitStore.builder(uri).prefetch(prefetch)
              .timeout(java.time.Duration.ofMillis(500)).build();
          stores.add(redis);
          store = redis;
        }
        apis.add(ApiClient.builder().baseUrl(base).retry(Retry.none())
            .rateLimit(limit.store(new Noting(store, permits, permitOfThisCall)))
            .addAttemptInterceptor(chain -> {
              long now = System.nanoTime();
              sends.add(now);
              latestSend.accumulateAndGet(now - permitOfThisCall.get()[0], Math::max);
              return chain.proceed(chain.request());
            })
            .build());
      }
      for (ApiClient api : apis) {
        api.get("/warm").execute(String.class);
      }
      arrivals.clear();
      sends.clear();
      permits.clear();
      latestSend.set(0);
      long end = System.nanoTime() + (long) (seconds * 1e9);
      List<Thread> ts = new ArrayList<>();
      LongAdder errors = new LongAdder();
      AtomicReference<Throwable> firstError = new AtomicReference<>();
      for (int i = 0; i < THREADS; i++) {
        ApiClient api = apis.get(i % apis.size());
        ts.add(Thread.ofVirtual().start(() -> {
          while (System.nanoTime() - end < 0) {
            try {
              api.get("/q").execute(String.class);
            } catch (RuntimeException | Error e) {
              // Counted, not left to end this thread: the run would go on with fewer.
              errors.increment();
              firstError.compareAndSet(null, e);
            }
          }
        }));
      }
      for (Thread t : ts) {
        t.join();
      }
      String run = "part 2, " + (uri == null ? "memory" : "redis") + ", " + clients
          + " clients, prefetch " + prefetch + ": ";
      if (errors.sum() > 0) {
        PROBLEMS.add(run + errors.sum() + " calls failed, the first: " + firstError.get());
      }
      if (permits.size() != sends.size()) {
        PROBLEMS.add(run + permits.size() + " permits granted for " + sends.size() + " sends");
      }
      if (arrivals.size() != sends.size()) {
        PROBLEMS.add(run + "the server saw " + arrivals.size() + " requests for " + sends.size()
            + " sent");
      }
      checkNoFallback(run, stores);
      long[] times = arrivals.stream().mapToLong(Long::longValue).sorted().toArray();
      long[] sent = sends.stream().mapToLong(Long::longValue).sorted().toArray();
      long[] usable = permits.stream().mapToLong(Long::longValue).sorted().toArray();
      double span = (times[times.length - 1] - times[0]) / 1e9;
      return new double[] {times.length / span, worst(times, rate), worst(sent, rate),
          worst(usable, rate), latestSend.get() / 1e6};
    } finally {
      apis.forEach(ApiClient::close);
      stores.forEach(RedisRateLimitStore::close);
      server.stop(0);
    }
  }

  /** The most events any window held beyond {@code rate x window}. */
  private static double worst(long[] sorted, double rate) {
    double worst = 0;
    for (int i = 0; i < sorted.length; i++) {
      for (int j = i; j < sorted.length; j++) {
        worst = Math.max(worst, (j - i + 1) - rate * (sorted[j] - sorted[i]) / 1e9);
      }
    }
    return worst;
  }

  /**
   * A store that notes, for each permit it grants, when the permit became usable on this JVM's
   * clock: when the store's answer came back plus the wait it gave. For the in-memory control
   * that is within a clock reading of the limiter's own decision; for Redis, which decides on its
   * own clock, it is later by the answer's trip back, which varies too.
   */
  private static final class Noting implements RateLimitStore {
    private final RateLimitStore store;
    private final ConcurrentLinkedQueue<Long> permits;
    private final ThreadLocal<long[]> permitOfThisCall;

    Noting(RateLimitStore store, ConcurrentLinkedQueue<Long> permits,
        ThreadLocal<long[]> permitOfThisCall) {
      this.store = store;
      this.permits = permits;
      this.permitOfThisCall = permitOfThisCall;
    }

    @Override
    public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos)
        throws InterruptedException {
      long r = store.reserve(key, limit, permits, maxWaitNanos);
      if (r >= 0) {
        long usable = System.nanoTime() + r;
        this.permits.add(usable);
        permitOfThisCall.get()[0] = usable;
      }
      return r;
    }

    @Override
    public long heldFor(String key, RateLimit limit, long lateNanos, long maxWaitNanos)
        throws InterruptedException {
      return store.heldFor(key, limit, lateNanos, maxWaitNanos);
    }

    @Override
    public long pause(String key, RateLimit limit, long pauseNanos) {
      return store.pause(key, limit, pauseNanos);
    }

    @Override
    public long pause(String key, RateLimit limit, long pauseNanos, long maxWaitNanos) {
      return store.pause(key, limit, pauseNanos, maxWaitNanos);
    }
  }

  /**
   * The control: the same GCRA reservation as the Redis script, in memory, one bandwidth, for
   * one JVM.
   */
  private static final class MemoryStore implements RateLimitStore {
    private final java.util.concurrent.atomic.AtomicLong tat;

    MemoryStore(long now) {
      this.tat = new java.util.concurrent.atomic.AtomicLong(now);
    }

    @Override
    public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos) {
      long interval = (long) Math.ceil(1e9 / limit.permitsPerSecond());
      long tau = interval * limit.burst();
      for (;;) {
        long now = System.nanoTime();
        long t = tat.get();
        long next = Math.max(t, now) + permits * interval;
        long wait = Math.max(0, next - tau - now);
        if (wait > maxWaitNanos) {
          return -Math.max(1, wait);
        }
        if (tat.compareAndSet(t, next)) {
          return wait;
        }
      }
    }

    @Override
    public long pause(String key, RateLimit limit, long pauseNanos) {
      return 0;
    }
  }

  private static void awaitPing(int port) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() - end < 0) {
      try {
        if (redisCommand("redis://127.0.0.1:" + port, "PING").startsWith("+PONG")) {
          return;
        }
      } catch (IOException notYet) {
        // Not listening yet.
      }
      TimeUnit.MILLISECONDS.sleep(20);
    }
    throw new IOException("redis-server did not start on port " + port);
  }

  private static String redisVersion(int port) throws IOException {
    Path p = Path.of("/proc/version");
    String kernel = Files.exists(p) ? Files.readString(p).strip() : "";
    String info = redisCommand("redis://127.0.0.1:" + port, "INFO server");
    String version = info.lines().filter(l -> l.startsWith("redis_version:")).findFirst()
        .orElse("redis_version:?");
    return version + "; " + kernel;
  }

  /** One inline command over a raw socket; returns everything the server sent in 200 ms. */
  private static String redisCommand(String uri, String command) throws IOException {
    int port = Integer.parseInt(uri.substring(uri.lastIndexOf(':') + 1));
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(200);
      s.getOutputStream().write((command + "\r\n").getBytes(StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder();
      byte[] buf = new byte[8192];
      try {
        for (int n = s.getInputStream().read(buf); n > 0; n = s.getInputStream().read(buf)) {
          sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
          if (sb.toString().endsWith("\r\n") && !command.startsWith("INFO")) {
            break;
          }
        }
      } catch (java.net.SocketTimeoutException done) {
        // The reply is complete.
      }
      return sb.toString();
    }
  }
}
