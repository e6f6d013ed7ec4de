package dev.outrigger.bench;

import com.sun.net.httpserver.HttpServer;
import dev.outrigger.AdaptiveLimit;
import dev.outrigger.ApiClient;
import dev.outrigger.ApiException;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Retry;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import javax.imageio.ImageIO;
import org.HdrHistogram.ConcurrentHistogram;

/**
 * The adaptive in-flight limit against an overloadable server, over real sockets.
 *
 * <p>The server (a JDK {@link HttpServer} on loopback, one virtual thread per request) has
 * {@code N} workers: a request that finds them busy queues, so past {@code N} concurrent calls
 * latency rises linearly (at 2N it has doubled), and each worker also slows by
 * {@code THRASH x (excess / N)} while more than N are in, as a real server does under
 * contention. Beyond {@code 2N} concurrent calls it answers {@code 503} at once.
 *
 * <p>The client is one {@link ApiClient} with retries and the breaker off, driven by a closed
 * loop of {@code 6N} virtual threads, each calling as fast as it can (a thread that got a 503
 * waits 20 ms before its next call, as a caller that backs off a little would). Each mode runs
 * a 2 s warm-up, then is measured for {@code S} seconds: static limits of N/2, N, 1.5N, 2N and
 * 4N, then the adaptive limit ({@code AdaptiveLimit.vegas()} with its defaults), then the
 * adaptive limit while the server's capacity halves and comes back (recovery). Prints Markdown
 * and writes {@code docs/bench/adaptive.png} (java.awt, headless).
 *
 * <p>The harness checks its own sanity: a call that fails other than by the server's 503 while
 * a mode runs (a deadline, a refused connection, an exception that would have ended its thread)
 * is counted, with the first kept; the run prints them after the tables and exits with status
 * 1, for those calls' threads spent 20 ms backing off as if shed, and the figures would be
 * wrong.
 *
 * <p>Run: {@code mvn -q -ntp -Pbench compile exec:exec
 * -Dexec.mainClass=dev.outrigger.bench.AdaptiveSimulation -Dexec.appArgs='32 40 5'}
 * (N, service time in ms, measured seconds per mode).
 */
public final class AdaptiveSimulation {
  private static final double THRASH = 0.25;
  private static final long TICK_MS = 100;

  private final int capacity;
  private final long serviceMs;
  private final HttpServer server;
  private final AtomicInteger serverConcurrent = new AtomicInteger();
  private final LongAdder serverRequests = new LongAdder();
  private final LongAdder server503 = new LongAdder();
  private volatile Semaphore workers;
  private volatile int currentCapacity;

  private AdaptiveSimulation(int capacity, long serviceMs) throws IOException {
    this.capacity = capacity;
    this.serviceMs = serviceMs;
    setCapacity(capacity);
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 512);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/", ex -> {
      int c = serverConcurrent.incrementAndGet();
      serverRequests.increment();
      try {
        int n = currentCapacity;
        if (c > 2 * n) {
          server503.increment();
          ex.sendResponseHeaders(503, -1);
          return;
        }
        Semaphore w = workers;
        w.acquireUninterruptibly();
        try {
          int excess = Math.max(0, serverConcurrent.get() - n);
          long nanos = (long) (serviceMs * 1_000_000L * (1 + THRASH * excess / n));
          Thread.sleep(Duration.ofNanos(nanos));
        } finally {
          w.release();
        }
        byte[] body = "ok".getBytes();
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        serverConcurrent.decrementAndGet();
        ex.close();
      }
    });
    server.start();
  }

  /** Changes the number of workers; a drained old semaphore is simply dropped. */
  private void setCapacity(int n) {
    currentCapacity = n;
    workers = new Semaphore(n, true);
  }

  /** One sample of the time series. */
  record Tick(double seconds, int limit, int serverConcurrent, double meanLatencyMs,
      double meanAttemptMs, int capacity) {}

  /** One run's figures over its measured part. */
  record Run(String mode, double goodput, double serverErrorRate, double meanMs, double p99Ms,
      double attemptMs, double meanLimit, int finalLimit, List<Tick> ticks, long unexpected,
      Throwable firstUnexpected) {}

  private Run run(String mode, Integer staticLimit, double seconds, boolean step)
      throws Exception {
    AtomicInteger limit = new AtomicInteger(
        staticLimit != null ? staticLimit : AdaptiveLimit.vegas().initial());
    LongAdder attemptTickSum = new LongAdder();
    LongAdder attemptTickCount = new LongAdder();
    LongAdder attemptSum = new LongAdder();
    LongAdder attemptCount = new LongAdder();
    AtomicLong measuring = new AtomicLong(); // 0 warming up, 1 measuring, 2 done
    ApiClient.Builder b = ApiClient.builder()
        .baseUrl("http://127.0.0.1:" + server.getAddress().getPort())
        .retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none())
        .deadline(Duration.ofSeconds(5))
        .connectionPool(512, Duration.ofSeconds(60))
        .addListener(new CallListener() {
          @Override
          public void adaptiveLimitChanged(String host, int from, int to) {
            limit.set(to);
          }

          @Override
          public void attemptEnd(CallContext call, int status, Throwable error, Duration d) {
            if (status == 200) {
              attemptTickSum.add(d.toNanos());
              attemptTickCount.increment();
              if (measuring.get() == 1) {
                attemptSum.add(d.toNanos());
                attemptCount.increment();
              }
            }
          }
        });
    if (staticLimit != null) {
      b.maxInFlightPerHost(staticLimit);
    } else {
      b.adaptiveConcurrency(AdaptiveLimit.vegas());
    }
    setCapacity(capacity);
    long warmupNanos = 2_000_000_000L;
    long measureNanos = (long) (seconds * 1e9);
    ConcurrentHistogram latency = new ConcurrentHistogram(3);
    LongAdder ok = new LongAdder();
    LongAdder tickSum = new LongAdder();
    LongAdder tickCount = new LongAdder();
    List<Tick> ticks = new ArrayList<>();
    int threads = 6 * capacity;
    long start = System.nanoTime();
    long requestsBefore = 0;
    long errorsBefore = 0;
    LongAdder unexpected = new LongAdder();
    AtomicReference<Throwable> firstUnexpected = new AtomicReference<>();
    try (ApiClient client = b.build();
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int t = 0; t < threads; t++) {
        pool.submit(() -> {
          while (measuring.get() < 2) {
            long s = System.nanoTime();
            try {
              client.get("/work").execute(String.class);
              long d = System.nanoTime() - s;
              tickSum.add(d);
              tickCount.increment();
              if (measuring.get() == 1) {
                ok.increment();
                latency.recordValue(d / 1000);
              }
            } catch (ApiException | Error e) {
              // Only the server's 503 is the load shed this simulates; anything else, before the
              // run ends and closes the client, is a call the figures must not silently absorb.
              if (!(e instanceof HttpStatusException h && h.status() == 503)
                  && measuring.get() < 2) {
                unexpected.increment();
                firstUnexpected.compareAndSet(null, e);
              }
              try {
                Thread.sleep(20);
              } catch (InterruptedException ie) {
                return;
              }
            } catch (RuntimeException e) {
              // Not left to end this thread quietly (the executor keeps it in a Future nobody
              // reads), which would leave the mode running with fewer threads.
              if (measuring.get() < 2) {
                unexpected.increment();
                firstUnexpected.compareAndSet(null, e);
              }
              try {
                Thread.sleep(20); // as above: a failure that repeats is not a busy loop
              } catch (InterruptedException ie) {
                return;
              }
            }
          }
        });
      }
      double limitSum = 0;
      int limitSamples = 0;
      long total = warmupNanos + measureNanos;
      while (true) {
        Thread.sleep(TICK_MS);
        long now = System.nanoTime() - start;
        if (step) {
          // Capacity halves for the middle third of the run, then comes back.
          int n = now < total / 3 || now >= 2 * total / 3 ? capacity : capacity / 2;
          if (n != currentCapacity) {
            setCapacity(n);
          }
        }
        if (measuring.get() == 0 && now >= warmupNanos) {
          requestsBefore = serverRequests.sum();
          errorsBefore = server503.sum();
          measuring.set(1);
        }
        long count = tickCount.sumThenReset();
        long sum = tickSum.sumThenReset();
        long aCount = attemptTickCount.sumThenReset();
        long aSum = attemptTickSum.sumThenReset();
        ticks.add(new Tick(now / 1e9, limit.get(), serverConcurrent.get(),
            count == 0 ? 0 : sum / 1e6 / count, aCount == 0 ? 0 : aSum / 1e6 / aCount,
            currentCapacity));
        if (measuring.get() == 1) {
          limitSum += limit.get();
          limitSamples++;
        }
        if (now >= total) {
          break;
        }
      }
      measuring.set(2);
      long requests = serverRequests.sum() - requestsBefore;
      long errors = server503.sum() - errorsBefore;
      pool.shutdown();
      return new Run(mode, ok.sum() / seconds, requests == 0 ? 0 : (double) errors / requests,
          latency.getMean() / 1000, latency.getValueAtPercentile(99) / 1000.0,
          attemptSum.sum() / 1e6 / Math.max(1, attemptCount.sum()),
          limitSum / Math.max(1, limitSamples), limit.get(), ticks, unexpected.sum(),
          firstUnexpected.get());
    }
  }

  public static void main(String[] args) throws Exception {
    System.setProperty("java.awt.headless", "true");
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 32;
    long serviceMs = args.length > 1 ? Long.parseLong(args[1]) : 40;
    double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 5;
    AdaptiveSimulation sim = new AdaptiveSimulation(n, serviceMs);
    List<Run> runs = new ArrayList<>();
    // Modes whose calls failed other than by the server's 503.
    List<String> failed = new ArrayList<>();
    try {
      for (int mult2 : new int[] {1, 2, 3, 4, 8}) {
        int limit = n * mult2 / 2;
        runs.add(sim.run("static " + limit + " (" + fmt(mult2 / 2.0) + "N)", limit, seconds,
            false));
        System.err.println(runs.get(runs.size() - 1).mode() + " done");
      }
      Run adaptive = sim.run("adaptive (vegas defaults)", null, seconds, false);
      runs.add(adaptive);
      Run step = sim.run("adaptive, capacity N -> N/2 -> N", null, 3 * seconds, true);
      System.err.println("adaptive done");
      print(n, serviceMs, seconds, runs, step);
      Run static4n = runs.get(4);
      plot(new File("docs/bench/adaptive.png"), n, adaptive, static4n, step);
      runs.add(step);
      for (Run r : runs) {
        if (r.unexpected() > 0) {
          failed.add(r.mode() + ": " + r.unexpected() + " calls failed other than by a 503, "
              + "the first: " + r.firstUnexpected());
        }
      }
    } finally {
      sim.server.stop(0);
    }
    if (!failed.isEmpty()) {
      System.out.println();
      System.out.println("FAILED: these modes did not measure what their rows say:");
      failed.forEach(f -> System.out.println("  " + f));
      System.exit(1);
    }
  }

  private static void print(int n, long serviceMs, double seconds, List<Run> runs, Run step) {
    double capacityRate = n * 1000.0 / serviceMs;
    System.out.printf(Locale.ROOT, "Server: N = %d workers, %d ms each (capacity %.0f calls/s),"
        + " 503 beyond %d concurrent; client: %d threads; %.0f s measured per mode after a"
        + " 2 s warm-up.%n%n", n, serviceMs, capacityRate, 2 * n, 6 * n, seconds);
    System.out.println(HEADER);
    double best = 0;
    for (Run r : runs) {
      if (r.mode().startsWith("static")) {
        best = Math.max(best, r.goodput());
      }
    }
    for (Run r : runs) {
      row(r);
    }
    Run adaptive = runs.get(runs.size() - 1);
    System.out.printf(Locale.ROOT, "%nAdaptive goodput / best static goodput: %.3f%n",
        adaptive.goodput() / best);
    System.out.println();
    System.out.println("Recovery run (capacity N for the first third, N/2 for the second,"
        + " N again for the last; whole run measured, warm-up excluded):");
    System.out.println();
    System.out.println(HEADER);
    row(step);
    System.out.println();
    System.out.println("Limit by phase in the recovery run (mean of 100 ms samples):");
    double total = step.ticks().get(step.ticks().size() - 1).seconds();
    double[] sums = new double[3];
    int[] counts = new int[3];
    for (Tick t : step.ticks()) {
      int phase = (int) Math.min(2, t.seconds() / (total / 3));
      // Skip each phase's first second: the limit is moving.
      if (t.seconds() - phase * total / 3 >= 1) {
        sums[phase] += t.limit();
        counts[phase]++;
      }
    }
    System.out.printf(Locale.ROOT, "N: %.1f, N/2: %.1f, N again: %.1f%n",
        sums[0] / counts[0], sums[1] / counts[1], sums[2] / counts[2]);
  }

  private static final String HEADER = "| mode | goodput (calls/s) | server 503 rate"
      + " | call latency mean (ms) | call latency p99 (ms) | attempt latency mean (ms)"
      + " | mean limit | final limit |\n|---|---:|---:|---:|---:|---:|---:|---:|";

  private static void row(Run r) {
    System.out.printf(Locale.ROOT, "| %s | %.0f | %.1f%% | %.1f | %.1f | %.1f | %.1f | %d |%n",
        r.mode(), r.goodput(), 100 * r.serverErrorRate(), r.meanMs(), r.p99Ms(), r.attemptMs(),
        r.meanLimit(), r.finalLimit());
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? String.valueOf((int) d) : String.valueOf(d);
  }

  // ---- the plot ------------------------------------------------------------------------------

  private static void plot(File file, int n, Run adaptive, Run static4n, Run step)
      throws IOException {
    int w = 1000;
    int panelH = 260;
    int h = 3 * panelH + 40;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, w, h);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));

    double maxLimit = 4 * n + 8;
    panel(g, 10, w, panelH, "Constant capacity N = " + n + ": in-flight limit and server"
            + " concurrency (dashed: N and 2N)",
        adaptive.ticks(), maxLimit, "calls", new double[] {n, 2 * n},
        new Series("adaptive limit", new Color(0, 90, 200), adaptive.ticks(), Tick::limit),
        new Series("server concurrency (adaptive)", new Color(120, 180, 240), adaptive.ticks(),
            Tick::serverConcurrent),
        new Series("server concurrency (static 4N)", new Color(220, 80, 60), static4n.ticks(),
            Tick::serverConcurrent));
    double maxLat = 0;
    for (Tick t : static4n.ticks()) {
      maxLat = Math.max(maxLat, t.meanAttemptMs());
    }
    for (Tick t : adaptive.ticks()) {
      maxLat = Math.max(maxLat, t.meanAttemptMs());
    }
    panel(g, 10 + panelH, w, panelH, "Mean latency of successful attempts (time at the server,"
            + " without the client's wait for a slot) per 100 ms",
        adaptive.ticks(), maxLat * 1.1, "ms", new double[0],
        new Series("adaptive", new Color(0, 90, 200), adaptive.ticks(), Tick::meanAttemptMs),
        new Series("static 4N", new Color(220, 80, 60), static4n.ticks(), Tick::meanAttemptMs));
    panel(g, 10 + 2 * panelH, w, panelH, "Recovery: capacity N -> N/2 -> N (grey: capacity)",
        step.ticks(), maxLimit, "calls", new double[0],
        new Series("adaptive limit", new Color(0, 90, 200), step.ticks(), Tick::limit),
        new Series("server concurrency", new Color(120, 180, 240), step.ticks(),
            Tick::serverConcurrent),
        new Series("capacity", Color.GRAY, step.ticks(), Tick::capacity));
    g.setColor(Color.DARK_GRAY);
    g.drawString("time (s); first 2 s are warm-up", w / 2 - 90, h - 12);
    g.dispose();
    ImageIO.write(img, "png", file);
  }

  interface Value {
    double of(Tick t);
  }

  record Series(String name, Color color, List<Tick> ticks, Value value) {}

  private static void panel(Graphics2D g, int top, int w, int h, String title, List<Tick> axis,
      double maxY, String unit, double[] guides, Series... series) {
    int left = 60;
    int right = w - 20;
    int plotTop = top + 30;
    int bottom = top + h - 30;
    double maxX = 0;
    for (Series s : series) {
      maxX = Math.max(maxX, s.ticks().get(s.ticks().size() - 1).seconds());
    }
    g.setColor(Color.BLACK);
    g.drawString(title, left, top + 16);
    g.drawLine(left, bottom, right, bottom);
    g.drawLine(left, plotTop, left, bottom);
    for (int i = 0; i <= 4; i++) {
      double v = maxY * i / 4;
      int y = (int) (bottom - (bottom - plotTop) * v / maxY);
      g.setColor(new Color(230, 230, 230));
      g.drawLine(left + 1, y, right, y);
      g.setColor(Color.DARK_GRAY);
      g.drawString(String.format(Locale.ROOT, "%.0f", v), 10, y + 4);
    }
    for (int s = 0; s <= (int) maxX; s += Math.max(1, (int) maxX / 10)) {
      int x = (int) (left + (right - left) * s / maxX);
      g.drawString(String.valueOf(s), x - 4, bottom + 14);
    }
    g.drawString(unit, 10, plotTop - 8);
    g.setStroke(new BasicStroke(1, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10,
        new float[] {6, 4}, 0));
    g.setColor(Color.GRAY);
    for (double guide : guides) {
      int y = (int) (bottom - (bottom - plotTop) * guide / maxY);
      g.drawLine(left, y, right, y);
    }
    int legendX = right - 260;
    int legendY = plotTop + 4;
    for (Series s : series) {
      g.setStroke(new BasicStroke(2));
      g.setColor(s.color());
      int px = -1;
      int py = -1;
      for (Tick t : s.ticks()) {
        int x = (int) (left + (right - left) * t.seconds() / maxX);
        int y = (int) (bottom - (bottom - plotTop) * Math.min(maxY, s.value().of(t)) / maxY);
        if (px >= 0) {
          g.drawLine(px, py, x, y);
        }
        px = x;
        py = y;
      }
      g.drawLine(legendX, legendY, legendX + 20, legendY);
      g.setColor(Color.BLACK);
      g.drawString(s.name(), legendX + 26, legendY + 4);
      legendY += 16;
    }
    g.setStroke(new BasicStroke(1));
  }
}
