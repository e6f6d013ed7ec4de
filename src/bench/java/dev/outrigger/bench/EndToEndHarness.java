package dev.outrigger.bench;

import dev.failsafe.okhttp.FailsafeCall;
import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.RateLimit;
import dev.outrigger.Retry;
import io.github.resilience4j.core.functions.CheckedSupplier;
import io.github.resilience4j.ratelimiter.RateLimiter;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * End-to-end chain overhead: calls to a fast local nginx at concurrency 1, 16 and 64 through raw
 * OkHttp, Outrigger with every policy on (limits that never block), and the Resilience4j and
 * Failsafe stacks around the same OkHttp client, plain and wired for the same work
 * ({@link SameWork}). Repetitions are interleaved (each starting with
 * the next stack in turn) and each stack's throughput is reported as a ratio to raw OkHttp in the
 * same repetition (median, min, max).
 * The harness checks its own sanity: every call must answer nginx's {@code ok} (an error page
 * read by a stack that checks no status counts as an error), nginx's request count must equal
 * the calls made, with no errors; a run that fails that ends the harness with the first error. Besides throughput it reports the client's CPU time per call (this JVM's, read from
 * the OS): client and nginx share the machine's cores, so throughput moves with anything else
 * that runs, while the CPU a call costs the client is steadier. The JIT compiler threads' CPU
 * during a run (from {@code /proc/self/task}) is reported apart and left out of that CPU: a
 * stack with more code to compile would otherwise pay for it in the first runs of a short
 * harness, which says nothing of its cost per call once compiled. Arguments:
 * {@code [seconds per run] [repetitions]} (default 3 and 5).
 */
public final class EndToEndHarness {
  private EndToEndHarness() {}

  interface Stack extends AutoCloseable {
    /** One call: the body of its answer. */
    String call() throws Exception;

    @Override
    default void close() {}
  }

  public static void main(String[] rawArgs) throws Exception {
    List<String> args = List.of(rawArgs);
    double seconds = args.size() > 0 ? Double.parseDouble(args.get(0)) : 3;
    int reps = args.size() > 1 ? Integer.parseInt(args.get(1)) : 5;
    int[] concurrencies = {1, 16, 64};
    String[] names = {"raw OkHttp", "Outrigger", "Resilience4j", "Failsafe",
        "Resilience4j, same work", "Failsafe, same work", "raw OkHttp, default 5-idle pool"};

    try (Nginx nginx = new Nginx(1)) {
      String url = nginx.url("/items/1");
      System.out.printf(Locale.ROOT, "nginx on port %d; %s s per run, %d interleaved repetitions%n",
          nginx.port, seconds, reps);
      StringBuilder table = new StringBuilder();
      table.append("| concurrency | stack | calls/s (median) | ratio to raw: median | min | max "
          + "| client CPU per call, JIT left out (median) | over raw | JIT compiling per call "
          + "(median) | connections opened |\n"
          + "|---|---|---|---|---|---|---|---|---|---|\n");
      for (int c : concurrencies) {
        Map<String, double[]> ratios = new LinkedHashMap<>();
        Map<String, double[]> rates = new LinkedHashMap<>();
        Map<String, double[]> cpus = new LinkedHashMap<>();
        Map<String, double[]> jits = new LinkedHashMap<>();
        Map<String, Long> connections = new LinkedHashMap<>();
        for (String n : names) {
          ratios.put(n, new double[reps]);
          rates.put(n, new double[reps]);
          cpus.put(n, new double[reps]);
          jits.put(n, new double[reps]);
          connections.put(n, 0L);
        }
        for (int r = 0; r < reps; r++) {
          // Each repetition starts with a different stack: the first after a change of
          // concurrency runs colder (measured: raw OkHttp, always first, lost ~5%).
          for (int k = 0; k < names.length; k++) {
            String n = names[(k + r) % names.length];
            AtomicLong opened = new AtomicLong();
            try (Stack stack = stack(n, url, opened)) {
              long before = requestsSeen(nginx);
              Result res;
              try {
                res = run(stack, c, seconds);
              } catch (Exception e) {
                throw new IllegalStateException(n + " at concurrency " + c + ": a warm-up call "
                    + "failed", e);
              }
              long seen = requestsSeen(nginx) - before - 1; // minus the status request itself
              if (res.errors > 0 || seen != res.calls + res.warmup) {
                throw new IllegalStateException(n + " at concurrency " + c + ": " + res.errors
                    + " errors, nginx saw " + seen + " requests for " + (res.calls + res.warmup)
                    + " calls" + (res.firstError == null ? "" : "; the first error is the cause"),
                    res.firstError);
              }
              rates.get(n)[r] = res.calls / res.seconds;
              cpus.get(n)[r] = res.cpuMicrosPerCall();
              jits.get(n)[r] = res.jitMicrosPerCall();
              connections.merge(n, opened.get(), Long::sum);
            }
          }
          for (String n : names) {
            ratios.get(n)[r] = rates.get(n)[r] / rates.get("raw OkHttp")[r];
          }
          System.out.printf(Locale.ROOT, "concurrency %d, repetition %d done%n", c, r + 1);
        }
        for (String n : names) {
          double[] ratio = ratios.get(n).clone();
          double[] rate = rates.get(n).clone();
          double[] cpu = cpus.get(n).clone();
          Arrays.sort(cpu);
          double jit = median(jits.get(n));
          double rawCpu = median(cpus.get("raw OkHttp"));
          Arrays.sort(ratio);
          Arrays.sort(rate);
          table.append(String.format(Locale.ROOT,
              "| %d | %s | %.0f | %.2f | %.2f | %.2f | %.1f µs | %+.1f µs | %.1f µs | %d |%n",
              c, n, rate[reps / 2], ratio[reps / 2], ratio[0], ratio[reps - 1],
              cpu[reps / 2], cpu[reps / 2] - rawCpu, jit, connections.get(n) / reps));
        }
      }
      System.out.println();
      System.out.print(table);
      System.out.println("(connections opened: mean per run)");
    }
  }

  /**
   * One run: calls made (and warm-up calls before them), errors, wall time, the client's CPU
   * time and, of it, the JIT compiler's.
   */
  record Result(long calls, long warmup, long errors, Throwable firstError, double seconds,
      long cpuNanos, long jitNanos) {
    /** The client's CPU per call, the JIT compiler's time left out. */
    double cpuMicrosPerCall() {
      return (cpuNanos - jitNanos) / 1e3 / calls;
    }

    double jitMicrosPerCall() {
      return jitNanos / 1e3 / calls;
    }
  }

  /** Nanoseconds per clock tick of {@code /proc} CPU times. */
  private static final long NANOS_PER_TICK = 1_000_000_000L / clockTicksPerSecond();

  private static long clockTicksPerSecond() {
    try {
      Process p = new ProcessBuilder("getconf", "CLK_TCK").start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      p.waitFor();
      return Long.parseLong(out);
    } catch (IOException | InterruptedException | NumberFormatException e) {
      return 100; // Linux's usual value
    }
  }

  /**
   * The CPU time (user and system) of this JVM's JIT compiler threads so far, in nanoseconds,
   * from {@code /proc/self/task}; 0 where there is no such file system. A compiler thread that
   * ends during a run takes its time with it: that errs towards leaving too little out, never
   * too much.
   */
  private static long jitNanos() {
    long ticks = 0;
    try (var tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/task"))) {
      for (java.nio.file.Path task : (Iterable<java.nio.file.Path>) tasks::iterator) {
        try {
          String name = java.nio.file.Files.readString(task.resolve("comm")).trim();
          if (!name.startsWith("C1 Compiler") && !name.startsWith("C2 Compiler")) {
            continue;
          }
          String stat = java.nio.file.Files.readString(task.resolve("stat"));
          // After "(name)": state is field 3; utime and stime are fields 14 and 15.
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
          // The thread ended while being read.
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return ticks * NANOS_PER_TICK;
  }

  private static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    return v[v.length / 2];
  }

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean)
          java.lang.management.ManagementFactory.getOperatingSystemMXBean();

  /** What every call must answer: nginx's {@code return 200 "ok\n"}. */
  static final String BODY = "ok\n";

  /**
   * {@code stack}'s call, its answer checked: one that is not nginx's 200 (an error page that a
   * stack without a status check would read as any body) is an error.
   */
  static void call(Stack stack) throws Exception {
    String body = stack.call();
    if (!BODY.equals(body)) {
      throw new IllegalStateException("answered " + (body == null ? "null"
          : "'" + body.substring(0, Math.min(body.length(), 80)) + "'") + ", not nginx's ok");
    }
  }

  static Result run(Stack stack, int concurrency, double seconds) throws Exception {
    // Warm up connections and JIT a little.
    for (int i = 0; i < 200; i++) {
      call(stack);
    }
    LongAdder calls = new LongAdder();
    LongAdder errors = new LongAdder();
    AtomicReference<Throwable> firstError = new AtomicReference<>();
    long warmupCalls = 200;
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long start = System.nanoTime();
    long cpuStart = OS.getProcessCpuTime();
    long jitStart = jitNanos();
    Thread[] threads = new Thread[concurrency];
    for (int t = 0; t < concurrency; t++) {
      threads[t] = Thread.ofVirtual().start(() -> {
        while (System.nanoTime() < end) {
          try {
            call(stack);
            calls.increment();
          } catch (Exception | Error e) {
            // An Error too: it would end this thread, and the run would go on with fewer.
            errors.increment();
            firstError.compareAndSet(null, e);
          }
        }
      });
    }
    for (Thread t : threads) {
      t.join();
    }
    double took = (System.nanoTime() - start) / 1e9;
    long cpu = OS.getProcessCpuTime() - cpuStart;
    long jit = jitNanos() - jitStart;
    return new Result(calls.sum(), warmupCalls, errors.sum(), firstError.get(), took, cpu, jit);
  }

  static long requestsSeen(Nginx nginx) throws IOException {
    OkHttpClient c = new OkHttpClient.Builder().proxy(Proxy.NO_PROXY).build();
    try (Response r = c.newCall(new Request.Builder().url(nginx.url("/nginx_status")).build())
        .execute()) {
      // "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \n..."
      String[] lines = r.body().string().split("\n");
      String[] nums = lines[2].trim().split("\\s+");
      return Long.parseLong(nums[2]);
    } finally {
      c.connectionPool().evictAll();
    }
  }

  static OkHttpClient okhttp(AtomicLong opened, boolean defaultPool) {
    OkHttpClient.Builder b = new OkHttpClient.Builder()
        .eventListener(new EventListener() {
          @Override
          public void connectStart(Call call, InetSocketAddress address, Proxy proxy) {
            opened.incrementAndGet();
          }
        });
    if (!defaultPool) {
      b.connectionPool(new ConnectionPool(128, 60, TimeUnit.SECONDS));
    }
    return b.build();
  }

  /** One call, for {@link #over}: the body of its answer. */
  interface Body {
    String call() throws Throwable;
  }

  /** A stack that calls {@code body} and empties {@code ok}'s pool when closed. */
  static Stack over(OkHttpClient ok, Body body) {
    return new Stack() {
      @Override
      public String call() throws Exception {
        try {
          return body.call();
        } catch (Exception | Error e) {
          throw e;
        } catch (Throwable t) {
          throw new IllegalStateException(t);
        }
      }

      @Override
      public void close() {
        ok.connectionPool().evictAll();
      }
    };
  }

  static Stack stack(String name, String url, AtomicLong opened) {
    Request request = new Request.Builder().url(url).build();
    switch (name) {
      case "raw OkHttp", "raw OkHttp, default 5-idle pool" -> {
        OkHttpClient ok = okhttp(opened, name.contains("default"));
        return over(ok, () -> {
          try (Response r = ok.newCall(request).execute()) {
            return r.body().string();
          }
        });
      }
      case "Outrigger" -> {
        OkHttpClient ok = okhttp(opened, false);
        ApiClient client = ApiClient.builder()
            .okHttpClient(ok)
            .rateLimit(RateLimit.perSecond(1e9).burst(1_000_000))
            .retry(Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(2)).maxAttempts(3))
            .circuitBreaker(CircuitBreaker.defaults())
            .build();
        return new Stack() {
          @Override
          public String call() {
            return client.get(url).execute(String.class);
          }

          @Override
          public void close() {
            client.close();
            ok.connectionPool().evictAll();
          }
        };
      }
      case "Resilience4j" -> {
        OkHttpClient ok = okhttp(opened, false);
        io.github.resilience4j.circuitbreaker.CircuitBreaker cb =
            io.github.resilience4j.circuitbreaker.CircuitBreaker.of("e2e", SameWork.r4jBreaker());
        io.github.resilience4j.retry.Retry retry =
            io.github.resilience4j.retry.Retry.of("e2e", SameWork.r4jRetry());
        RateLimiter rl = RateLimiter.of("e2e", SameWork.r4jLimiter());
        CheckedSupplier<String> call = () -> {
          try (Response r = ok.newCall(request).execute()) {
            return r.body().string();
          }
        };
        CheckedSupplier<String> decorated = io.github.resilience4j.retry.Retry
            .decorateCheckedSupplier(retry, io.github.resilience4j.circuitbreaker.CircuitBreaker
                .decorateCheckedSupplier(cb, RateLimiter.decorateCheckedSupplier(rl, call)));
        return over(ok, decorated::get);
      }
      case "Failsafe" -> {
        OkHttpClient ok = okhttp(opened, false);
        dev.failsafe.RetryPolicy<Response> rp = SameWork.failsafeRetry();
        dev.failsafe.CircuitBreaker<Response> cb = SameWork.failsafeBreaker();
        dev.failsafe.RateLimiter<Response> rl = SameWork.failsafeLimiter();
        return over(ok, () -> {
          try (Response r = FailsafeCall.with(rp, cb, rl).compose(ok.newCall(request))
              .execute()) {
            return r.body().string();
          }
        });
      }
      case "Resilience4j, same work" -> {
        OkHttpClient ok = okhttp(opened, false);
        SameWork.R4jStack r4j = new SameWork.R4jStack(ok);
        return over(ok, () -> r4j.call(request));
      }
      case "Failsafe, same work" -> {
        OkHttpClient ok = okhttp(opened, false);
        SameWork.FailsafeStack failsafe = new SameWork.FailsafeStack(ok);
        return over(ok, () -> failsafe.call(request));
      }
      default -> throw new IllegalArgumentException(name);
    }
  }
}
