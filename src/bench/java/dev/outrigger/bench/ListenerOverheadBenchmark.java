package dev.outrigger.bench;

import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.jfr.JfrListener;
import dev.outrigger.micrometer.OutriggerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Recording;
import okhttp3.HttpUrl;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What observing one call costs: the four events of a successful one-attempt call (call start,
 * attempt start, attempt end, call end) sent to no listener, to the JFR listener with no
 * recording running, with a recording running (default thresholds: the fast call is not
 * recorded), and to {@link OutriggerMetrics} over a {@code SimpleMeterRegistry}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ListenerOverheadBenchmark {
  private static final HttpUrl URL = HttpUrl.get("https://api.example.com/v1/posts/42");
  private static final Duration ELAPSED = Duration.ofMillis(3);

  @Param({"none", "jfr-off", "jfr-recording", "micrometer"})
  public String listener;

  private CallListener target;
  private Recording recording;
  private final Redactor redactor = new Redactor(Set.of(), Set.of());

  @Setup
  public void setUp() {
    target = switch (listener) {
      case "none" -> CallListener.NONE;
      case "jfr-off", "jfr-recording" -> JfrListener.INSTANCE;
      case "micrometer" -> OutriggerMetrics.of(new SimpleMeterRegistry());
      default -> throw new IllegalArgumentException(listener);
    };
    if (listener.equals("jfr-recording")) {
      recording = new Recording();
      recording.start();
    }
  }

  @TearDown
  public void tearDown() {
    if (recording != null) {
      recording.close();
    }
  }

  @Benchmark
  public RealCallContext oneCall() {
    RealCallContext ctx = new RealCallContext("GET", URL, Deadline.after(Duration.ofSeconds(10),
        System::nanoTime), true, NanoClock.SYSTEM, target, redactor);
    target.callStart(ctx);
    ctx.beginAttempt();
    target.attemptStart(ctx);
    target.attemptEnd(ctx, 200, null, ELAPSED);
    target.callEnd(ctx, 200, null, ELAPSED);
    return ctx;
  }
}
