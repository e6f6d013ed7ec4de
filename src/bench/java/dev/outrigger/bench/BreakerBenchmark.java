package dev.outrigger.bench;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.internal.breaker.BreakerState;
import dev.outrigger.internal.breaker.BreakerStateMachine;
import dev.outrigger.internal.breaker.Breakers;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The hot path of a circuit breaker: ask for permission, then record a fast success, on one
 * breaker shared by every benchmark thread (run with -t 1 and -t 2). All three use a count
 * window of 100 calls with a minimum of 20:
 *
 * <ul>
 *   <li>Outrigger: {@code acquire} + {@code onSuccess} (full sliding window with slow-call
 *       tracking; the call's duration and end time are given, as the interceptor measures them
 *       anyway);
 *   <li>Resilience4j 2.4.0: {@code tryAcquirePermission} + {@code onSuccess(duration, unit)}
 *       (same window and slow-call tracking);
 *   <li>Failsafe 3.3.2: {@code tryAcquirePermit} + {@code recordSuccess} (50 failures of the last
 *       100 executions; no slow-call tracking).
 * </ul>
 *
 * <p>Extras: Outrigger with the per-host lookup of the interceptor included ({@code keyed}), and
 * both time-based windows (100 one-second buckets), which read the clock on every call
 * ({@code nanoTime} measures that read alone), and {@code ownAtomicBaseline}: one atomic add on
 * a counter of the thread's own, the floor for any breaker that records atomically, and a gauge
 * of how much the machine's other load inflates a run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class BreakerBenchmark {
  private static final long DURATION_NANOS = 1_000_000L;
  private static final String KEY = "api.example.com:443";

  private BreakerStateMachine outrigger;
  private BreakerStateMachine outriggerTime;
  private Breakers outriggerBreakers;
  private long now;
  private io.github.resilience4j.circuitbreaker.CircuitBreaker r4j;
  private io.github.resilience4j.circuitbreaker.CircuitBreaker r4jTime;
  private dev.failsafe.CircuitBreaker<Object> failsafe;

  @Setup
  public void setUp() {
    now = System.nanoTime();
    CircuitBreaker count = CircuitBreaker.builder().slidingWindowSize(100)
        .minimumNumberOfCalls(20).failureRateThreshold(0.5).build();
    outrigger = new BreakerStateMachine(KEY, count, CallListener.NONE, now);
    outriggerBreakers = new Breakers(count, CallListener.NONE);
    outriggerTime = new BreakerStateMachine(KEY, count.newBuilder()
        .slidingWindowType(CircuitBreaker.WindowType.TIME_BASED).build(), CallListener.NONE, now);

    CircuitBreakerConfig r4jCount = CircuitBreakerConfig.custom()
        .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
        .slidingWindowSize(100).minimumNumberOfCalls(20).failureRateThreshold(50)
        .slowCallDurationThreshold(Duration.ofSeconds(60)).slowCallRateThreshold(100)
        .build();
    r4j = io.github.resilience4j.circuitbreaker.CircuitBreaker.of("count", r4jCount);
    r4jTime = io.github.resilience4j.circuitbreaker.CircuitBreaker.of("time",
        CircuitBreakerConfig.from(r4jCount)
            .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.TIME_BASED).build());

    failsafe = dev.failsafe.CircuitBreaker.builder().withFailureThreshold(50, 100)
        .withDelay(Duration.ofSeconds(5)).build();
  }

  @Benchmark
  public void outrigger() {
    BreakerState token = outrigger.acquire(now);
    outrigger.onSuccess(token, DURATION_NANOS, now);
  }

  @Benchmark
  public void outriggerKeyed() {
    BreakerStateMachine b = outriggerBreakers.get(KEY, now);
    BreakerState token = b.acquire(now);
    b.onSuccess(token, DURATION_NANOS, now);
  }

  @Benchmark
  public void resilience4j() {
    if (r4j.tryAcquirePermission()) {
      r4j.onSuccess(DURATION_NANOS, TimeUnit.NANOSECONDS);
    }
  }

  @Benchmark
  public void failsafe() {
    if (failsafe.tryAcquirePermit()) {
      failsafe.recordSuccess();
    }
  }

  /** One counter per benchmark thread. */
  @State(Scope.Thread)
  public static class OwnCounter {
    final AtomicLong count = new AtomicLong();
  }

  @Benchmark
  public long ownAtomicBaseline(OwnCounter own) {
    return own.count.getAndIncrement();
  }

  @Benchmark
  public long nanoTime() {
    return System.nanoTime();
  }

  @Benchmark
  public void outriggerTimeWindow() {
    long t = System.nanoTime();
    BreakerState token = outriggerTime.acquire(t);
    outriggerTime.onSuccess(token, DURATION_NANOS, t);
  }

  @Benchmark
  public void resilience4jTimeWindow() {
    if (r4jTime.tryAcquirePermission()) {
      r4jTime.onSuccess(DURATION_NANOS, TimeUnit.NANOSECONDS);
    }
  }
}
