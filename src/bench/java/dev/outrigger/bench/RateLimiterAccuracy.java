package dev.outrigger.bench;

import dev.outrigger.RateLimit;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.internal.AtomicRateLimiter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The accuracy check: each limiter set to 1000 permits per second (burst 10 where it has one) is
 * hammered with {@code tryAcquire} by 2 threads for 5 s; a token bucket must grant exactly
 * {@code burst + 5000} (plus or minus 1 for the permit due at the very end).
 *
 * <pre>
 * mvn -q -ntp -Pbench compile exec:exec -Dexec.mainClass=dev.outrigger.bench.RateLimiterAccuracy
 * </pre>
 *
 * It also reports the most permits granted in any window of 1 ms, 10 ms, 100 ms and 1 s, which a
 * token bucket keeps at or below {@code burst + rate * window}; fixed windows overshoot there, at
 * their edges.
 */
public final class RateLimiterAccuracy {
  private static final int THREADS = 2;
  private static final long RUN_NANOS = 5_000_000_000L;
  /** Windows in which the most grants are counted: 1 ms, 10 ms, 100 ms, 1 s. */
  private static final long[] WINDOWS = {1_000_000L, 10_000_000L, 100_000_000L, 1_000_000_000L};

  private RateLimiterAccuracy() {}

  /** A limiter under test: how to build one, and the most its semantics allow in the run. */
  private record Subject(Supplier<BooleanSupplier> factory, long burst, String note) {}

  public static void main(String[] args) throws Exception {
    Map<String, Subject> subjects = new LinkedHashMap<>();
    subjects.put("outrigger", new Subject(() -> {
      dev.outrigger.RateLimiter l =
          dev.outrigger.RateLimiter.of(RateLimit.perSecond(1000).burst(10));
      return l::tryAcquire;
    }, 10, "token bucket, burst 10"));
    subjects.put("guava", new Subject(() -> {
      com.google.common.util.concurrent.RateLimiter l =
          com.google.common.util.concurrent.RateLimiter.create(1000);
      return l::tryAcquire;
    }, 1, "SmoothBursty, starts empty"));
    subjects.put("bucket4j", new Subject(() -> {
      Bucket b = Bucket.builder().addLimit(Bandwidth.builder().capacity(10)
          .refillGreedy(1000, Duration.ofSeconds(1)).build()).build();
      return () -> b.tryConsume(1);
    }, 10, "greedy refill, burst 10, ms clock"));
    subjects.put("resilience4j", new Subject(() -> {
      AtomicRateLimiter l = new AtomicRateLimiter("acc", RateLimiterConfig.custom()
          .limitForPeriod(10).limitRefreshPeriod(Duration.ofMillis(10))
          .timeoutDuration(Duration.ZERO).build());
      return l::acquirePermission;
    }, 10, "10 per 10 ms cycle"));
    subjects.put("failsafe-smooth", new Subject(() -> {
      dev.failsafe.RateLimiter<Object> l =
          dev.failsafe.RateLimiter.smoothBuilder(1000, Duration.ofSeconds(1)).build();
      return l::tryAcquirePermit;
    }, 1, "smooth, one per ms"));
    subjects.put("failsafe-bursty", new Subject(() -> {
      dev.failsafe.RateLimiter<Object> l =
          dev.failsafe.RateLimiter.burstyBuilder(10, Duration.ofMillis(10)).build();
      return l::tryAcquirePermit;
    }, 10, "10 per 10 ms window"));

    System.out.println("Accuracy: 1000/s, " + THREADS + " threads hammering tryAcquire for 5 s");
    System.out.println();
    System.out.println("| limiter | granted | ideal (burst + 5000) | error | most in 1 ms / 10 ms"
        + " / 100 ms / 1 s (token-bucket bound) | semantics |");
    System.out.println("|---|---|---|---|---|---|");
    for (Map.Entry<String, Subject> e : subjects.entrySet()) {
      Subject s = e.getValue();
      long[] r = run(s.factory().get());
      long ideal = s.burst() + 5000;
      StringBuilder windows = new StringBuilder();
      for (int w = 0; w < WINDOWS.length; w++) {
        long bound = s.burst() + WINDOWS[w] / 1_000_000L;
        windows.append(w == 0 ? "" : " / ").append(r[w + 1]).append(" (").append(bound)
            .append(')');
      }
      System.out.printf("| %s | %d | %d | %+d | %s | %s |%n", e.getKey(), r[0], ideal,
          r[0] - ideal, windows, s.note());
    }
  }

  /** Returns {granted, then the most granted in any window of each of {@link #WINDOWS}}. */
  private static long[] run(BooleanSupplier tryAcquire) throws InterruptedException {
    LongAdder granted = new LongAdder();
    List<long[]> stamps = new ArrayList<>();
    CountDownLatch ready = new CountDownLatch(THREADS);
    CountDownLatch go = new CountDownLatch(1);
    long[] start = new long[1];
    List<Thread> threads = new ArrayList<>();
    // A worker that throws would leave the run with fewer threads and a table that looks
    // complete: the first throw fails the run instead.
    java.util.concurrent.atomic.AtomicReference<Throwable> threw =
        new java.util.concurrent.atomic.AtomicReference<>();
    for (int i = 0; i < THREADS; i++) {
      long[] mine = new long[20_000];
      stamps.add(mine);
      threads.add(Thread.ofPlatform().uncaughtExceptionHandler((t, e) -> {
        threw.compareAndSet(null, e);
      }).start(() -> {
        ready.countDown();
        try {
          go.await();
        } catch (InterruptedException ex) {
          return;
        }
        long end = start[0] + RUN_NANOS;
        int n = 0;
        for (long now = System.nanoTime(); now - end < 0; now = System.nanoTime()) {
          if (tryAcquire.getAsBoolean()) {
            granted.increment();
            if (n < mine.length) {
              mine[n++] = System.nanoTime();
            }
          }
        }
        if (n < mine.length) {
          mine[n] = Long.MIN_VALUE;
        }
      }));
    }
    ready.await();
    start[0] = System.nanoTime();
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    if (threw.get() != null) {
      throw new IllegalStateException("a worker threw; the run's figures would be wrong",
          threw.get());
    }
    List<Long> all = new ArrayList<>();
    for (long[] m : stamps) {
      for (long v : m) {
        if (v == Long.MIN_VALUE) {
          break;
        }
        if (v != 0) {
          all.add(v);
        }
      }
    }
    all.sort(null);
    long[] out = new long[1 + WINDOWS.length];
    out[0] = granted.sum();
    for (int w = 0; w < WINDOWS.length; w++) {
      long worst = 0;
      for (int i = 0, j = 0; j < all.size(); j++) {
        while (all.get(j) - all.get(i) >= WINDOWS[w]) {
          i++;
        }
        worst = Math.max(worst, j - i + 1);
      }
      out[w + 1] = worst;
    }
    return out;
  }
}
