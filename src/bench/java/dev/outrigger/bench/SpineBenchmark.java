package dev.outrigger.bench;

import dev.outrigger.ApiClient;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.Deadline;
import dev.outrigger.Retry;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.bulkhead.InFlightLimiter;
import dev.outrigger.internal.deadline.DeadlineInterceptor;
import dev.outrigger.internal.http.Transport;
import dev.outrigger.internal.retry.RetryInterceptor;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
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
 * The spine of an Outrigger call taken apart, in memory (the same answering interceptor as
 * {@link ChainOverheadBenchmark}): raw OkHttp; Outrigger's transport alone behind a call context
 * (one OkHttp call, the deadline watchdog, the body read whole and left in place, as a client
 * with no interceptor of the user's does); the transport with the
 * deadline step, the retry step (one attempt) and the in-flight limit, the chain a client with no
 * policies runs; and that client itself, which adds resolving the URL, the request object and
 * decoding the body. Each row minus the one before is what that layer costs.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SpineBenchmark {
  private static final String URL = "http://bench.invalid/items/1";

  private OkHttpClient okhttp;
  private Request request;
  private PolicyChain transportOnly;
  private PolicyChain noPolicyChain;
  private ApiClient client;
  private Redactor redactor;

  @Setup(Level.Trial)
  public void setUp() {
    okhttp = new OkHttpClient.Builder().addInterceptor(ChainOverheadBenchmark.ANSWER).build();
    request = new Request.Builder().url(URL).build();
    redactor = new Redactor(Set.of(), Set.of());
    // A client keeps the deadline watchdog running; the chains below use it too.
    client = ApiClient.builder().okHttpClient(okhttp).retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none()).build();
    transportOnly =
        new PolicyChain(List.of(new Transport(okhttp, null, 16 << 20, null, true, true)));
    noPolicyChain = new PolicyChain(List.of(
        new DeadlineInterceptor(Duration.ofSeconds(30)),
        new RetryInterceptor(Retry.none(), NanoClock.SYSTEM),
        new InFlightLimiter(InFlightLimiter.DEFAULT_MAX_PER_HOST, NanoClock.SYSTEM),
        new Transport(okhttp, null, 16 << 20, null, true, true)));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    client.close();
  }

  @Benchmark
  public String rawOkHttp() throws IOException {
    try (Response r = okhttp.newCall(request).execute()) {
      return r.body().string();
    }
  }

  @Benchmark
  public String transportOnly() throws IOException {
    return through(transportOnly);
  }

  @Benchmark
  public String noPolicyChain() throws IOException {
    return through(noPolicyChain);
  }

  @Benchmark
  public String client() {
    return client.get(URL).execute(String.class);
  }

  private String through(PolicyChain chain) throws IOException {
    long now = System.nanoTime();
    RealCallContext ctx = new RealCallContext("GET", request.url(),
        Deadline.after(Duration.ofSeconds(30)), now + 30_000_000_000L, true, NanoClock.SYSTEM,
        now, CallListener.NONE, redactor);
    if (chain == transportOnly) {
      ctx.beginAttempt();
    }
    try (Response r = chain.proceed(ctx, request)) {
      return r.body().string();
    }
  }
}
