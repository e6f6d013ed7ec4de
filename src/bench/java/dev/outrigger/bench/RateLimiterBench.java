package dev.outrigger.bench;

import com.google.common.util.concurrent.RateLimiter;
import dev.outrigger.RateLimit;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.internal.AtomicRateLimiter;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * A non-blocking permit check ({@code tryAcquire}) of Outrigger's {@link dev.outrigger.RateLimiter}
 * beside Guava, Bucket4j, Resilience4j's {@code AtomicRateLimiter} and Failsafe, all in the same
 * run, with two baselines (a clock read and an atomic increment). Run it with 1 and 2 threads
 * ({@link RateLimiterBenchMain} does both and the accuracy check).
 *
 * <p>Two regimes: {@code open}, a rate so high (10^9/s) that every check grants and writes the
 * state; {@code saturated}, 1000/s hammered far beyond the rate, so almost every check is
 * refused (the case a limiter exists for).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public class RateLimiterBench {

  @Param({"open", "saturated"})
  public String regime;

  private dev.outrigger.RateLimiter outrigger;
  private RateLimiter guava;
  private Bucket bucket4j;
  private AtomicRateLimiter resilience4j;
  private dev.failsafe.RateLimiter<Object> failsafe;
  private final AtomicLong counter = new AtomicLong();

  @Setup
  public void setup() {
    boolean open = regime.equals("open");
    if (open) {
      outrigger = dev.outrigger.RateLimiter.of(RateLimit.perSecond(1e9).burst(1_000_000));
      guava = RateLimiter.create(1e9);
      bucket4j = Bucket.builder().addLimit(Bandwidth.builder().capacity(1_000_000_000L)
          .refillGreedy(1_000_000_000L, Duration.ofSeconds(1)).build()).build();
      resilience4j = new AtomicRateLimiter("bench", RateLimiterConfig.custom()
          .limitForPeriod(Integer.MAX_VALUE).limitRefreshPeriod(Duration.ofSeconds(1))
          .timeoutDuration(Duration.ZERO).build());
      failsafe = dev.failsafe.RateLimiter.smoothBuilder(Duration.ofNanos(1)).build();
    } else {
      outrigger = dev.outrigger.RateLimiter.of(RateLimit.perSecond(1000).burst(10));
      guava = RateLimiter.create(1000);
      bucket4j = Bucket.builder().addLimit(Bandwidth.builder().capacity(10)
          .refillGreedy(1000, Duration.ofSeconds(1)).build()).build();
      resilience4j = new AtomicRateLimiter("bench", RateLimiterConfig.custom()
          .limitForPeriod(10).limitRefreshPeriod(Duration.ofMillis(10))
          .timeoutDuration(Duration.ZERO).build());
      failsafe = dev.failsafe.RateLimiter.smoothBuilder(1000, Duration.ofSeconds(1)).build();
    }
  }

  @Benchmark
  public boolean outrigger() {
    return outrigger.tryAcquire();
  }

  @Benchmark
  public boolean guava() {
    return guava.tryAcquire();
  }

  @Benchmark
  public boolean bucket4j() {
    return bucket4j.tryConsume(1);
  }

  @Benchmark
  public boolean resilience4j() {
    return resilience4j.acquirePermission();
  }

  @Benchmark
  public boolean failsafe() {
    return failsafe.tryAcquirePermit();
  }

  /** Baseline: the clock read every limiter needs. */
  @Benchmark
  public long baselineNanoTime() {
    return System.nanoTime();
  }

  /** Baseline: one shared atomic increment. */
  @Benchmark
  public long baselineAtomicIncrement() {
    return counter.incrementAndGet();
  }
}
