package dev.outrigger.bench;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.RateLimit;
import dev.outrigger.internal.breaker.BreakerState;
import dev.outrigger.internal.breaker.BreakerStateMachine;
import dev.outrigger.internal.breaker.Breakers;
import dev.outrigger.internal.http.DeadlineWatchdog;
import dev.outrigger.internal.ratelimit.RealRateLimiter;
import dev.outrigger.internal.retry.RetryBudget;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-call writes to shared state that every attempt to one host makes, alone, with no
 * OkHttp call between them: what each costs when two threads make them at once (run with -t 1
 * and -t 2; the difference is the cost of sharing). A rate-limit permit (one compare-and-set on
 * the host's bucket), the breaker's permission and recorded success, a retry-budget deposit, and
 * the deadline registered with the watchdog and cleared; {@link #all} makes them together, as a
 * call does, and {@link #defaults} all but the rate limit, as a client built with defaults does.
 * Each reads the clock once ({@link #nanoTime} alone, for reference).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 6, time = 1)
@Fork(2)
public class ContentionBenchmark {
  private static final String HOST = "bench.invalid:80";
  private static final long TEN_SECONDS = 10_000_000_000L;

  private RealRateLimiter limiter;
  private Breakers breakers;
  private RetryBudget budget;
  private OkHttpClient okhttp;
  /** One timer left armed throughout, as a call in flight would: see {@link #setUp}. */
  private DeadlineWatchdog.Timer inFlight;

  /** Each thread's own call for its timers to hold (never executed; the timers never fire). */
  @State(Scope.Thread)
  public static class PerThread {
    Call call;

    @Setup(Level.Trial)
    public void setUp(ContentionBenchmark b) {
      call = b.okhttp.newCall(new Request.Builder().url("http://bench.invalid/x").build());
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    okhttp = new OkHttpClient();
    limiter = new RealRateLimiter(RateLimit.perSecond(1e9).burst(1_000_000), System.nanoTime());
    breakers = new Breakers(CircuitBreaker.defaults(), CallListener.NONE);
    budget = new RetryBudget(0.2, TEN_SECONDS, 10, RetryBudget.DEFAULT_MAX_KEYS,
        System::nanoTime);
    DeadlineWatchdog.acquire();
    // With nothing armed the watchdog parks, and the next push must wake it: every timer here
    // is done at once, so each push would find it parked again and pay for the wake-up. Under
    // real traffic some call is in flight and the watchdog ticks: keep one armed timer so.
    inFlight = DeadlineWatchdog.watch(
        okhttp.newCall(new Request.Builder().url("http://bench.invalid/in-flight").build()),
        10 * 60 * TEN_SECONDS);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    inFlight.done();
    DeadlineWatchdog.release();
  }

  @Benchmark
  public long nanoTime() {
    return System.nanoTime();
  }

  @Benchmark
  public boolean bucket() {
    return permit(System.nanoTime()) != 0;
  }

  @Benchmark
  public Object breaker() {
    long now = System.nanoTime();
    BreakerStateMachine b = breakers.get(HOST, now);
    BreakerState token = b.acquire(now);
    b.onResult(token, BreakerStateMachine.SUCCESS, now);
    return token;
  }

  @Benchmark
  public long budget() {
    long now = System.nanoTime();
    budget.deposit(HOST, now);
    return now;
  }

  @Benchmark
  public boolean watchdog(PerThread t) {
    long now = System.nanoTime();
    return DeadlineWatchdog.watch(t.call, now + TEN_SECONDS, TEN_SECONDS).done();
  }

  @Benchmark
  public Object all(PerThread t) {
    return writes(permit(System.nanoTime()), t);
  }

  /**
   * {@link #all} without the rate limit, which a client has only when configured: the shared
   * writes of a client built with defaults (its in-flight limit's counter aside).
   */
  @Benchmark
  public Object defaults(PerThread t) {
    return writes(System.nanoTime(), t);
  }

  /** The breaker's permission and success, a budget deposit and a watchdog timer at {@code now}. */
  private Object writes(long now, PerThread t) {
    BreakerStateMachine b = breakers.get(HOST, now);
    BreakerState token = b.acquire(now);
    budget.deposit(HOST, now);
    DeadlineWatchdog.Timer timer = DeadlineWatchdog.watch(t.call, now + TEN_SECONDS, TEN_SECONDS);
    timer.done();
    b.onResult(token, BreakerStateMachine.SUCCESS, now);
    return token;
  }

  /**
   * Takes a permit at {@code now}; returns the reading it was granted at. At 1e9 permits a
   * second only a reading made stale by a preemption of over a millisecond (another thread's
   * later reading moved the bucket on) is refused: read the clock again, as a waiting limiter
   * would after its wait.
   */
  private long permit(long now) {
    while (!limiter.tryAcquire(HOST, 1, now)) {
      now = System.nanoTime();
    }
    return now;
  }
}
