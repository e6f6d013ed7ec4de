package dev.outrigger.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.outrigger.ApiClient;
import dev.outrigger.FanOut;
import dev.outrigger.Result;
import dev.outrigger.Retry;
import dev.outrigger.internal.bulkhead.InFlightLimiter;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.IntStream;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * N concurrent calls (default 10,000) to a local JDK {@code HttpServer} that answers each after
 * 100 ms, made several ways, each in its own JVM so that peak memory and threads are its own:
 *
 * <ul>
 *   <li>{@code fanout-client}: {@code FanOut.map}, one virtual thread per call, each call
 *       through an {@link ApiClient} (its whole policy chain) whose per-host in-flight limit is
 *       raised to N;
 *   <li>{@code fanout-client-default}: the same with the client's default per-host limit (1024);
 *       the threads beyond it park in the limit;
 *   <li>{@code fanout-client-bounded}: a {@code FanOut} with {@code maxConcurrency(1024)} and the
 *       default client: no thread is started before a slot frees;
 *   <li>{@code fanout-okhttp}: {@code FanOut.map} with plain OkHttp {@code execute()} (the cost
 *       of the client's chain, by difference);
 *   <li>{@code pool-200}: a fixed pool of 200 platform threads, OkHttp {@code execute()};
 *   <li>{@code okhttp-async}: OkHttp {@code enqueue()}, dispatcher limits raised to N.
 * </ul>
 *
 * <p>A {@code -seq} suffix turns OkHttp's {@code fastFallback} off: OkHttp 5 otherwise makes
 * every new connection on a {@code TaskRunner} platform thread (racing addresses, Happy Eyeballs)
 * while the calling thread waits, which costs a platform thread per concurrent connect.
 *
 * <p>Each child runs the batch {@code rounds} times (the first in a cold JVM) after closing every
 * pooled connection, so every round starts without connections; it reports wall time per round,
 * per-call latency percentiles, its CPU time and the server's, peak platform threads
 * ({@code ThreadMXBean}; virtual threads are not counted) and peak RSS ({@code VmHWM}). The
 * server reports, per round, the time between the first and the last request reaching its
 * handler (the arrival span): when the wall time is about arrival span + 100 ms, what bounds the
 * batch is getting N requests to the server, not waiting for answers.
 *
 * <p>The harness checks its own sanity: in every round the server must have seen exactly the
 * requests the client counted sending (one per attempt, counted as it goes to OkHttp), and every
 * call must have ended, each a success or a failure; with no failure, the client must have sent
 * one attempt per call. The table shows the server's and the client's counts over all rounds; a
 * mode whose counts disagree, whose calls failed, or whose child did not finish is named after
 * the table and the harness exits with status 1.
 *
 * <p>Arguments: {@code [calls] [rounds] [modes,comma,separated]}; environment variable
 * {@code FANOUT_CHILD_JVM_ARGS} adds JVM options to the children ({@code {mode}} is replaced by
 * the mode). Run: {@code mvn -q -ntp -Pbench compile exec:exec
 * -Dexec.mainClass=dev.outrigger.bench.FanOutHarness -Dexec.appArgs='10000 3'}
 */
public final class FanOutHarness {
  static final long SERVER_DELAY_MS = 100;
  /** A child's line saying a round's counts disagree; the parent fails the run with it. */
  static final String MISMATCH = "MISMATCH ";
  /**
   * Attempts the child's calls sent this round: one per call, counted as it starts, since no
   * mode retries (a stack that sent a request twice shows as the server's count above this).
   */
  static final LongAdder ATTEMPTS = new LongAdder();
  /** Calls that ended with their answer, this round. */
  static final LongAdder SUCCEEDED = new LongAdder();
  static final List<String> MODES = List.of("fanout-client-seq", "fanout-client-default-seq",
      "fanout-client-bounded-seq", "fanout-okhttp-seq", "fanout-client-default", "pool-200",
      "okhttp-async");

  private FanOutHarness() {}

  public static void main(String[] rawArgs) throws Exception {
    List<String> args = List.of(rawArgs);
    if (!args.isEmpty() && args.get(0).equals("child")) {
      child(args.get(1), Integer.parseInt(args.get(2)), Integer.parseInt(args.get(3)),
          Integer.parseInt(args.get(4)));
      return;
    }
    int calls = args.size() > 0 ? Integer.parseInt(args.get(0)) : 10_000;
    int rounds = args.size() > 1 ? Integer.parseInt(args.get(1)) : 3;
    List<String> modes = args.size() > 2 ? Arrays.asList(args.get(2).split(",")) : MODES;

    // The JDK server closes idle connections beyond 200 by default; keep them all.
    System.setProperty("sun.net.httpserver.maxIdleConnections", String.valueOf(2 * calls));
    Server server = new Server(calls);
    System.out.printf(Locale.ROOT, "server: JDK HttpServer on port %d, %d ms per answer, "
        + "virtual thread per exchange; %d calls x %d rounds per mode%n",
        server.port(), SERVER_DELAY_MS, calls, rounds);
    System.out.printf(Locale.ROOT, "java %s, %d cores%n", System.getProperty("java.version"),
        Runtime.getRuntime().availableProcessors());
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> report = new ArrayList<>();
    // Modes whose child did not finish cleanly: a crash, no result, or calls that failed.
    List<String> failed = new ArrayList<>();
    try {
      for (String mode : modes) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        // Extra JVM options for the children (profiling, GC logs), space-separated.
        String extra = System.getenv().getOrDefault("FANOUT_CHILD_JVM_ARGS", "").trim();
        if (!extra.isEmpty()) {
          cmd.addAll(Arrays.asList(extra.replace("{mode}", mode).split("\\s+")));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
            FanOutHarness.class.getName(), "child", mode, String.valueOf(server.port()),
            String.valueOf(calls), String.valueOf(rounds)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String result = null;
        List<String> mismatches = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(
            new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            System.out.println("  [" + mode + "] " + line);
            if (line.startsWith("RESULT ")) {
              result = line.substring("RESULT ".length());
              report.add(result);
            } else if (line.startsWith(MISMATCH)) {
              mismatches.add(line.substring(MISMATCH.length()));
            }
          }
        }
        int exit = p.waitFor();
        if (exit != 0 || result == null) {
          failed.add(mode + " (child exited with " + exit
              + (result == null ? ", no result" : "") + ")");
        } else if (!result.endsWith("| 0 |")) {
          failed.add(mode + " (calls failed: see its failures column)");
        }
        for (String m : mismatches) {
          failed.add(mode + " (" + m + ")");
        }
        // Let TIME_WAIT sockets and the server's closing connections settle between modes.
        Thread.sleep(2000);
      }
    } finally {
      server.stop();
    }
    System.out.println();
    System.out.println("| mode | wall, round 1 (cold JVM) | wall, best later round | arrival "
        + "span | p50 / p99 latency | client CPU | server CPU | peak platform threads | "
        + "peak RSS | requests at server / attempts sent, all rounds | failures |");
    System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (String line : report) {
      System.out.println(line);
    }
    if (!failed.isEmpty()) {
      // The table holds only what finished: a run with a failed mode must not pass for a result.
      System.out.println();
      System.out.println("FAILED: " + String.join("; ", failed));
      System.exit(1);
    }
  }

  // ---------------------------------------------------------------- the server (parent JVM)

  static final class Server {
    private final HttpServer http;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final AtomicLong first = new AtomicLong();
    private final AtomicLong last = new AtomicLong();
    private final AtomicInteger count = new AtomicInteger();
    private final AtomicInteger inHandler = new AtomicInteger();
    private final AtomicInteger maxInHandler = new AtomicInteger();
    private volatile long cpuAtReset;
    private volatile long dispatcherCpuAtReset;

    Server(int backlog) throws IOException {
      http = HttpServer.create(
          new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), backlog);
      http.setExecutor(executor);
      http.createContext("/work", this::work);
      http.createContext("/reset", ex -> {
        first.set(0);
        last.set(0);
        count.set(0);
        maxInHandler.set(0);
        cpuAtReset = processCpuNanos();
        dispatcherCpuAtReset = dispatcherCpuNanos();
        reply(ex, "ok");
      });
      http.createContext("/stats", ex -> reply(ex, String.format(Locale.ROOT,
          "%d %d %d %d %d", count.get(), last.get() - first.get(), maxInHandler.get(),
          processCpuNanos() - cpuAtReset, dispatcherCpuNanos() - dispatcherCpuAtReset)));
      http.start();
    }

    int port() {
      return http.getAddress().getPort();
    }

    private void work(HttpExchange ex) throws IOException {
      long now = System.nanoTime();
      first.compareAndSet(0, now);
      last.accumulateAndGet(now, Math::max);
      count.incrementAndGet();
      maxInHandler.accumulateAndGet(inHandler.incrementAndGet(), Math::max);
      try {
        Thread.sleep(SERVER_DELAY_MS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        inHandler.decrementAndGet();
      }
      reply(ex, "ok");
    }

    private static void reply(HttpExchange ex, String body) throws IOException {
      byte[] b = body.getBytes(StandardCharsets.UTF_8);
      ex.getRequestBody().readAllBytes();
      ex.sendResponseHeaders(200, b.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(b);
      }
    }

    /** CPU time of the JDK server's single dispatcher thread, which accepts every connection. */
    static long dispatcherCpuNanos() {
      ThreadMXBean mx = ManagementFactory.getThreadMXBean();
      for (Thread t : Thread.getAllStackTraces().keySet()) {
        if (t.getName().startsWith("HTTP-Dispatcher")) {
          return mx.getThreadCpuTime(t.threadId());
        }
      }
      return 0;
    }

    void stop() {
      http.stop(0);
      executor.shutdownNow();
    }
  }

  // ---------------------------------------------------------------- the clients (child JVMs)

  interface Batch extends AutoCloseable {
    /** Runs {@code calls} concurrent calls; records each call's latency; returns failures. */
    int run(int calls, long[] latencies) throws Exception;

    /** Closes every pooled connection so the next round opens new ones. */
    void evictConnections();

    @Override
    void close();
  }

  static void child(String mode, int port, int calls, int rounds) throws Exception {
    String base = "http://127.0.0.1:" + port;
    OkHttpClient control = new OkHttpClient();
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long[] walls = new long[rounds];
    long[][] latencies = new long[rounds][calls];
    long[] spans = new long[rounds];
    long[] clientCpu = new long[rounds];
    long[] serverCpu = new long[rounds];
    int failures = 0;
    long seenInAll = 0;
    long sentInAll = 0;
    boolean agree = true;
    try (Batch batch = batch(mode, base, calls)) {
      for (int r = 0; r < rounds; r++) {
        batch.evictConnections();
        get(control, base + "/reset");
        ATTEMPTS.reset();
        SUCCEEDED.reset();
        long cpu0 = processCpuNanos();
        long start = System.nanoTime();
        int failed = batch.run(calls, latencies[r]);
        failures += failed;
        walls[r] = System.nanoTime() - start;
        long cpu = processCpuNanos() - cpu0;
        String[] stats = get(control, base + "/stats").split(" ");
        long seen = Long.parseLong(stats[0]);
        long sent = ATTEMPTS.sum();
        long succeeded = SUCCEEDED.sum();
        seenInAll += seen;
        sentInAll += sent;
        // The server must have seen what the client sent, and every call must have ended; with
        // no failure, each call sent its one attempt (no retries here).
        String mismatch = seen != sent
            ? "the server saw " + seen + " requests, the client sent " + sent + " attempts"
            : succeeded + failed != calls
            ? (calls - succeeded - failed) + " of " + calls + " calls neither succeeded nor failed"
            : failed == 0 && sent != calls
            ? sent + " attempts sent for " + calls + " calls, none failed"
            : null;
        if (mismatch != null) {
          agree = false;
          System.out.println(MISMATCH + "round " + (r + 1) + ": " + mismatch);
        }
        spans[r] = Long.parseLong(stats[1]);
        clientCpu[r] = cpu;
        serverCpu[r] = Long.parseLong(stats[3]);
        System.out.printf(Locale.ROOT, "round %d: wall %d ms, server saw %s requests, arrival "
            + "span %d ms, at most %s in its handler at once; CPU: client %d ms, server %d ms "
            + "(its accepting thread %d ms); load average %s%n", r + 1, walls[r] / 1_000_000,
            stats[0], spans[r] / 1_000_000, stats[2], cpu / 1_000_000,
            Long.parseLong(stats[3]) / 1_000_000, Long.parseLong(stats[4]) / 1_000_000,
            loadAverage());
      }
    }
    int best = 0;
    for (int r = 1; r < rounds; r++) {
      if (best == 0 || walls[r] < walls[best]) {
        best = r;
      }
    }
    Map<String, Integer> names = new java.util.TreeMap<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      names.merge(t.getName().replaceAll("[0-9]+", "N"), 1, Integer::sum);
    }
    System.out.println("platform threads alive at the end: " + names);
    long[] lat = latencies[best].clone();
    Arrays.sort(lat);
    System.out.printf(Locale.ROOT,
        "RESULT | %s | %.2f s | %.2f s | %.2f s | %d / %d ms | %.2f s | %.2f s | %d | %d MiB "
            + "| %d / %d%s | %d |%n",
        mode, walls[0] / 1e9, walls[best] / 1e9, spans[best] / 1e9,
        lat[lat.length / 2] / 1_000_000, lat[(int) (lat.length * 0.99)] / 1_000_000,
        clientCpu[best] / 1e9, serverCpu[best] / 1e9,
        threads.getPeakThreadCount(), peakRssKib() / 1024, seenInAll, sentInAll,
        agree ? "" : " (MISMATCH)", failures);
    control.connectionPool().evictAll();
    System.exit(0);
  }

  static Batch batch(String modeName, String base, int calls) {
    // "-seq": OkHttp's fastFallback off, so each new connection is made on the calling thread
    // instead of on a TaskRunner platform thread (OkHttp 5's default races connects there).
    boolean sequential = modeName.endsWith("-seq");
    String mode = sequential ? modeName.substring(0, modeName.length() - 4) : modeName;
    ConnectionPool pool = new ConnectionPool(calls, 1, TimeUnit.MINUTES);
    OkHttpClient raw = new OkHttpClient.Builder().connectionPool(pool)
        .fastFallback(!sequential)
        .readTimeout(Duration.ofSeconds(60)).build();
    Request request = new Request.Builder().url(base + "/work").build();
    return switch (mode) {
      case "fanout-client", "fanout-client-default", "fanout-client-bounded" -> {
        ApiClient.Builder b = ApiClient.builder().baseUrl(base)
            .deadline(Duration.ofSeconds(60))
            // No retry: a call sends one attempt at most, counted as it starts (as the raw modes
            // count theirs). Not by an attempt interceptor, whose user code would turn off the
            // client's fast paths and change what is measured; a request sent twice still shows,
            // as the server's count above the client's.
            .retry(Retry.none());
        if (sequential) {
          // raw's pool already keeps every connection; the builder refuses connectionPool(...)
          // beside okHttpClient(...), whose pool it would not size.
          b.okHttpClient(raw);
        } else {
          b.connectionPool(calls, Duration.ofMinutes(1));
        }
        if (mode.equals("fanout-client")) {
          b.maxInFlightPerHost(calls);
        }
        ApiClient client = b.build();
        yield new Batch() {
          @Override
          public int run(int n, long[] latencies) throws InterruptedException {
            if (mode.equals("fanout-client-bounded")) {
              // As many tasks at once as the client lets in flight: no thread parks in the
              // client's per-host limit, because none is started before a slot frees.
              try (FanOut<String> fan = FanOut.<String>builder()
                  .maxConcurrency(InFlightLimiter.DEFAULT_MAX_PER_HOST).build()) {
                for (int i = 0; i < n; i++) {
                  int id = i;
                  fan.submit(() -> {
                    long t0 = System.nanoTime();
                    ATTEMPTS.increment();
                    try {
                      String body = client.get("/work").execute(String.class);
                      SUCCEEDED.increment();
                      return body;
                    } finally {
                      latencies[id] = System.nanoTime() - t0;
                    }
                  });
                }
                return failures(fan.join());
              }
            }
            List<Result<String>> results = FanOut.map(IntStream.range(0, n).boxed().toList(),
                i -> {
                  long t0 = System.nanoTime();
                  ATTEMPTS.increment();
                  try {
                    String body = client.get("/work").execute(String.class);
                    SUCCEEDED.increment();
                    return body;
                  } finally {
                    latencies[i] = System.nanoTime() - t0;
                  }
                });
            return failures(results);
          }

          @Override
          public void evictConnections() {
            client.okHttpClient().connectionPool().evictAll();
          }

          @Override
          public void close() {
            client.close();
          }
        };
      }
      case "fanout-okhttp" -> new Batch() {
        @Override
        public int run(int n, long[] latencies) {
          List<Result<String>> results = FanOut.map(IntStream.range(0, n).boxed().toList(),
              i -> {
                long t0 = System.nanoTime();
                ATTEMPTS.increment();
                try (Response resp = raw.newCall(request).execute()) {
                  String body = ok(resp);
                  SUCCEEDED.increment();
                  return body;
                } finally {
                  latencies[i] = System.nanoTime() - t0;
                }
              });
          return failures(results);
        }

        @Override
        public void evictConnections() {
          pool.evictAll();
        }

        @Override
        public void close() {
          pool.evictAll();
        }
      };
      case "pool-200" -> new Batch() {
        private final ExecutorService threads = Executors.newFixedThreadPool(200);

        @Override
        public int run(int n, long[] latencies) throws InterruptedException {
          AtomicInteger failed = new AtomicInteger();
          AtomicReference<Exception> first = new AtomicReference<>();
          CountDownLatch done = new CountDownLatch(n);
          for (int i = 0; i < n; i++) {
            int id = i;
            threads.execute(() -> {
              long t0 = System.nanoTime();
              ATTEMPTS.increment();
              try (Response resp = raw.newCall(request).execute()) {
                ok(resp);
                SUCCEEDED.increment();
              } catch (IOException | RuntimeException e) {
                failed.incrementAndGet();
                first.compareAndSet(null, e);
              } finally {
                latencies[id] = System.nanoTime() - t0;
                done.countDown();
              }
            });
          }
          done.await();
          return failures(failed.get(), first.get());
        }

        @Override
        public void evictConnections() {
          pool.evictAll();
        }

        @Override
        public void close() {
          threads.shutdownNow();
          pool.evictAll();
        }
      };
      case "okhttp-async" -> {
        Dispatcher dispatcher = new Dispatcher();
        // Defaults are 64 in total and 5 per host: 10,000 calls would take 200 rounds of 100 ms.
        dispatcher.setMaxRequests(calls);
        dispatcher.setMaxRequestsPerHost(calls);
        OkHttpClient async = raw.newBuilder().dispatcher(dispatcher).build();
        yield new Batch() {
          @Override
          public int run(int n, long[] latencies) throws InterruptedException {
            AtomicInteger failed = new AtomicInteger();
            AtomicReference<Exception> first = new AtomicReference<>();
            CountDownLatch done = new CountDownLatch(n);
            for (int i = 0; i < n; i++) {
              int id = i;
              long t0 = System.nanoTime();
              ATTEMPTS.increment();
              async.newCall(request).enqueue(new Callback() {
                @Override
                public void onFailure(Call call, IOException e) {
                  failed.incrementAndGet();
                  first.compareAndSet(null, e);
                  latencies[id] = System.nanoTime() - t0;
                  done.countDown();
                }

                @Override
                public void onResponse(Call call, Response resp) {
                  try (resp) {
                    ok(resp);
                    SUCCEEDED.increment();
                  } catch (IOException e) {
                    failed.incrementAndGet();
                    first.compareAndSet(null, e);
                  } finally {
                    latencies[id] = System.nanoTime() - t0;
                    done.countDown();
                  }
                }
              });
            }
            done.await();
            return failures(failed.get(), first.get());
          }

          @Override
          public void evictConnections() {
            pool.evictAll();
          }

          @Override
          public void close() {
            dispatcher.executorService().shutdownNow();
            pool.evictAll();
          }
        };
      }
      default -> throw new IllegalArgumentException("unknown mode " + mode + "; one of " + MODES);
    };
  }

  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }

  static int failures(List<? extends Result<?>> results) {
    Map<String, Integer> kinds = new LinkedHashMap<>();
    int failed = 0;
    for (Result<?> r : results) {
      if (!r.isSuccess()) {
        failed++;
        kinds.merge(r.error().getClass().getSimpleName() + ": " + r.error().getMessage(), 1,
            Integer::sum);
      }
    }
    if (failed > 0) {
      kinds.entrySet().stream().limit(3).forEach(e ->
          System.out.println("  failure x" + e.getValue() + ": " + e.getKey()));
    }
    return failed;
  }

  /**
   * The body of a 2xx answer; any other status is a failure, as the client modes' execute()
   * makes it, so that raw OkHttp does not count an error page as a call done.
   */
  static String ok(Response resp) throws IOException {
    String body = resp.body().string();
    if (!resp.isSuccessful()) {
      throw new IOException("HTTP " + resp.code() + " from " + resp.request().url());
    }
    return body;
  }

  /** {@code failed}, after printing the first failure's kind when there was one. */
  static int failures(int failed, Exception first) {
    if (failed > 0) {
      System.out.println("  failure x" + failed + ", the first: "
          + first.getClass().getSimpleName() + ": " + first.getMessage());
    }
    return failed;
  }

  static String get(OkHttpClient client, String url) throws IOException {
    try (Response r = client.newCall(new Request.Builder().url(url).build()).execute()) {
      return r.body().string();
    }
  }

  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
        ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** Peak resident set size of this process (Linux {@code VmHWM}), in KiB; -1 if unknown. */
  static long peakRssKib() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux
    }
    return -1;
  }
}
