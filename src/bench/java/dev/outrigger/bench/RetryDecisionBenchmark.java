package dev.outrigger.bench;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.Jitter;
import dev.outrigger.Retry;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.retry.Backoff;
import dev.outrigger.internal.retry.RetryBudget;
import dev.outrigger.internal.retry.RetryInterceptor;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the retry policy costs per call, with the rest of the chain answering in memory: a call
 * that succeeds at once (the common case: one attempt, one budget deposit), a call that fails
 * once with 503 and then succeeds (the decision, the dropped response turned into an exception,
 * a zero-length "sleep"), the jitter draw alone, and the budget's deposit and withdrawal.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RetryDecisionBenchmark {
  private static final MediaType TEXT = MediaType.get("text/plain");
  private static final Request REQUEST =
      new Request.Builder().url("http://bench.invalid:8080/items/1").build();
  private static final Redactor REDACTOR = new Redactor(Set.of(), Set.of());

  /** Real time, but backoffs return at once so only the decision is measured. */
  private static final NanoClock NO_SLEEP = new NanoClock() {
    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public void sleepNanos(long nanos) {}
  };

  private final Retry retry = Retry.exponential(Duration.ofMillis(100), Duration.ofSeconds(2))
      .maxAttempts(3).jitter(Jitter.FULL);
  private final RetryInterceptor budgeted = new RetryInterceptor(retry, NO_SLEEP);
  // Retrying on every call would drain a budget in a moment; the retry path runs without one.
  private final RetryInterceptor unbudgeted = new RetryInterceptor(retry.noBudget(), NO_SLEEP);
  private final Backoff backoff =
      new Backoff(100_000_000L, 2_000_000_000L, 2.0, Jitter.DECORRELATED);
  private final RetryBudget budget =
      new RetryBudget(1.0, 10_000_000_000L, 10, 1024, System::nanoTime);

  // Shared, so OkHttp's own allocation (an 8 KiB Okio segment per body) stays out of the
  // measurement; bodies are only peeked and closing them is a no-op.
  private static final Response OK = response(200);
  private static final Response UNAVAILABLE = response(503);

  private static Response response(int code) {
    return new Response.Builder().request(REQUEST).protocol(Protocol.HTTP_1_1).code(code)
        .message("x").body(ResponseBody.create("body", TEXT)).build();
  }

  /** The chain below the policy: the given statuses, one per attempt. */
  private static final class Answer implements CallInterceptor.Chain {
    private final RealCallContext ctx = new RealCallContext("GET", REQUEST.url(),
        Deadline.after(Duration.ofSeconds(10)), true, NO_SLEEP, CallListener.NONE, REDACTOR);
    private final int[] codes;
    private int next;

    Answer(int... codes) {
      this.codes = codes;
    }

    @Override
    public Request request() {
      return REQUEST;
    }

    @Override
    public CallContext context() {
      return ctx;
    }

    @Override
    public Response proceed(Request request) {
      ctx.markSent();
      ctx.markRequestWritten();
      return codes[next++] == 200 ? OK : UNAVAILABLE;
    }
  }

  /** The chain below the policy alone, to subtract. */
  @Benchmark
  public Response baselineWithoutPolicy() {
    Answer a = new Answer(200);
    return a.proceed(a.request());
  }

  @Benchmark
  public Response successAtOnce() {
    Response r = budgeted.intercept(new Answer(200));
    r.close();
    return r;
  }

  @Benchmark
  public Response oneRetryThenSuccess() {
    Response r = unbudgeted.intercept(new Answer(503, 200));
    r.close();
    return r;
  }

  @Benchmark
  public long decorrelatedDelay() {
    return backoff.next(3, 400_000_000L, ThreadLocalRandom.current());
  }

  @Benchmark
  public boolean budgetDepositAndWithdraw() {
    budget.deposit("bench.invalid:8080");
    return budget.tryWithdraw("bench.invalid:8080");
  }
}
