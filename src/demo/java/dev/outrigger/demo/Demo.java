package dev.outrigger.demo;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiException;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Jitter;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Result;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * The main job: a batch of calls through one {@link ApiClient} with every policy on, against an
 * embedded flaky partner API (or a real one with {@code --url}), with a live progress line and a
 * summary of what each policy did. {@code --no-policies} runs the same batch on bare OkHttp.
 */
public final class Demo {
  record Order(String id, String status, int items) {}

  private static final PrintStream out = System.out;
  /** Set when the server counted another number of requests than the client's attempts. */
  private static volatile boolean mismatch;
  /** Set when more attempts were sent than the rate limit lets through from the start. */
  private static volatile boolean overLimit;

  private Demo() {}

  public static void main(String[] rawArgs) throws Exception {
    try {
      run(Options.parse(rawArgs));
      if (mismatch || overLimit) {
        // An attempt not accounted for, or one past the rate limit, is what the demo exists to
        // rule out: fail the run.
        System.exit(1);
      }
    } catch (BadSetting e) {
      // A bad flag, or a setting the client refused at build(): a message, not a stack trace.
      // Anything else thrown during the run is a failure, with its stack trace (exit 1), not
      // a bad flag.
      System.err.println("demo: " + e.getMessage());
      System.err.println("(see --help)");
      System.exit(2);
    }
  }

  /** A flag or a setting the demo or the client refused before any call was made. */
  static final class BadSetting extends RuntimeException {
    BadSetting(String message) {
      super(message, null, false, false);
    }
  }

  /** Runs {@code setUp}, reporting what it refuses as a {@link BadSetting}. */
  private static <T> T setting(java.util.function.Supplier<T> setUp) {
    try {
      return setUp.get();
    } catch (IllegalArgumentException e) {
      throw new BadSetting(e.getMessage());
    }
  }

  private static void run(Options o) throws Exception {
    if (o.help) {
      out.println(Options.HELP);
      return;
    }
    FlakyPartnerApi api = null;
    String base = o.url == null ? null : Options.origin(o.url);
    if (base == null) {
      // Quota 200/s per key; /inventory fails hard from a quarter of the run to 45% of it, by
      // the requests the server has seen, not by time: the bare run sends far faster than the
      // rate limit lets the other, and would be over before an outage timed for the other began.
      api = new FlakyPartnerApi(200, o.seed, o.calls / 4, (long) o.calls * 45 / 100);
      base = api.baseUrl();
    }
    // The bare run has no rate limit, and a --url run no embedded API to seed: neither shows
    // the setting as if it applied.
    out.printf(Locale.ROOT, "Outrigger demo: %d calls, concurrency %d, %s%s%n",
        o.calls, o.concurrency, o.noPolicies
            ? "NO POLICIES (bare OkHttp: no rate limit, retries, deadline or breaker)"
            : "client rate " + Options.number(o.rate) + "/s, burst " + o.burst(),
        o.url == null ? ", seed " + o.seed : "");
    out.println("target: " + (api == null ? Options.shown(o.url)
        : base + " (embedded flaky partner API: quota 200/s per key, 4% 503, 2% slow 1-2 s, "
            + "1% resets, /inventory outage window)"));
    try {
      Run run = o.noPolicies ? runBare(o, base) : runWithPolicies(o, base);
      if (api != null) {
        // Every call has ended: the server stops and its handlers end, so its counts are final
        // (an answer is counted once sent, and one it was still waiting to send is dropped).
        api.close();
      }
      run.print(api, o);
    } finally {
      if (api != null) {
        api.close();
      }
    }
  }

  /** Call {@code i}'s path: seven in ten to /orders, the rest to /inventory, by the seed. */
  private static String pathFor(int i, Options o) {
    if (o.url != null) {
      return "";
    }
    return new SplittableRandom(o.seed * 1_000_003L + i).nextInt(10) < 7
        ? "/orders/" + i : "/inventory/" + i;
  }

  private static Run runWithPolicies(Options o, String base) throws InterruptedException {
    Run run = new Run();
    CircuitBreaker breaker = CircuitBreaker.builder()
        .slidingWindowSize(50).minimumNumberOfCalls(20).failureRateThreshold(0.5)
        .waitInOpenState(Duration.ofSeconds(2)).permittedCallsInHalfOpen(3)
        // One breaker per endpoint: the /inventory outage must not stop /orders.
        .keyedBy(ctx -> ctx.host() + "/" + ctx.url().pathSegments().get(0))
        .build();
    try (ApiClient client = setting(() -> ApiClient.builder()
        .baseUrl(base)
        .deadline(Duration.ofSeconds(5))
        .rateLimit(RateLimit.perSecond(o.rate).burst(o.burst()))
        .retry(Retry.exponential(Duration.ofMillis(50), Duration.ofSeconds(1))
            .maxAttempts(4).jitter(Jitter.FULL))
        .circuitBreaker(breaker)
        .addListener(run.listener())
        .build())) {
      out.println(client.describe());
      if (o.url != null) {
        // A URL the client refuses is refused here, once, not counted as every call's failure.
        setting(() -> client.get(o.target));
      }
      run.execute(o, i -> {
        String path = pathFor(i, o);
        if (o.url != null) {
          client.get(o.target).execute(String.class);
        } else {
          client.get(path).header("X-Api-Key", "demo-key").execute(Order.class);
        }
        return null;
      });
      run.ended = true;
    }
    return run;
  }

  private static Run runBare(Options o, String base) throws InterruptedException {
    Run run = new Run();
    // Off: OkHttp would silently send again after a reset, which the server would count as a
    // request the client never counted. Bare means no retries of any kind.
    OkHttpClient okhttp = new OkHttpClient.Builder().retryOnConnectionFailure(false).build();
    try {
      run.execute(o, i -> {
        String url = o.url != null ? o.target : base + pathFor(i, o);
        run.attempts.increment();
        run.firstAttempts.increment();
        Request.Builder request = new Request.Builder().url(url);
        if (o.url == null) {
          // The embedded API's quota key; someone else's server gets none, as with policies.
          request.header("X-Api-Key", "demo-key");
        }
        try (Response r = okhttp.newCall(request.build()).execute()) {
          r.body().bytes();
          if (!r.isSuccessful()) {
            throw new BareStatus(r.code());
          }
        }
        return null;
      });
    } finally {
      okhttp.dispatcher().executorService().shutdown();
      okhttp.connectionPool().evictAll();
    }
    return run;
  }

  /** A non-2xx answer on the bare path. */
  private static final class BareStatus extends IOException {
    private static final long serialVersionUID = 1L;
    final int status;

    BareStatus(int status) {
      super("HTTP " + status);
      this.status = status;
    }
  }

  @FunctionalInterface
  private interface Call {
    Object run(int i) throws Exception;
  }

  /** Everything one run counted. */
  private static final class Run {
    final LongAdder attempts = new LongAdder();
    /** Attempts that were their call's first on the network: the calls that sent anything. */
    final LongAdder firstAttempts = new LongAdder();
    /**
     * Attempts that ended before their request was written (the deadline cut them while they
     * connected): the server cannot have seen them.
     */
    final LongAdder unwritten = new LongAdder();
    /**
     * Attempts the deadline cut once their request had begun to go out: the cut can close the
     * connection before the server read the request (a reset discards what it had not read), so
     * the server may or may not count them.
     */
    final LongAdder cutGoingOut = new LongAdder();
    /** The attempts sent, checked against the rate limit (null: none, no policies). */
    PermitBound bound;
    final Map<String, LongAdder> retriesByReason = new ConcurrentHashMap<>();
    final LongAdder rateLimitWaits = new LongAdder();
    final LongAdder rateLimitWaitNanos = new LongAdder();
    /** The server's requests to slow down (Retry-After, a used-up quota) that paused the key. */
    final LongAdder rateLimitPauses = new LongAdder();
    final LongAdder rateLimitPauseNanos = new LongAdder();
    final ConcurrentLinkedQueue<String> transitions = new ConcurrentLinkedQueue<>();
    /**
     * Set once the batch is done: the client's close() then closes the breakers still open, and
     * those transitions are the shutdown's, not the run's.
     */
    volatile boolean ended;
    final Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
    final AtomicInteger done = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();
    long[] latencies;
    long startNanos;
    long wallNanos;
    int total;

    long sinceStartMs() {
      return (System.nanoTime() - startNanos) / 1_000_000;
    }

    CallListener listener() {
      return new CallListener() {
        @Override
        public void attemptStart(CallContext call) {
          attempts.increment();
          bound.sent();
          // Counted already, this attempt included.
          if (call.attemptsSent() == 1) {
            firstAttempts.increment();
          }
        }

        @Override
        public void attemptEnd(CallContext call, int status, Throwable error,
            Duration elapsed) {
          if (!call.requestWritten()) {
            unwritten.increment();
          } else if (error instanceof DeadlineExceededException) {
            cutGoingOut.increment();
          }
        }

        @Override
        public void retryScheduled(CallContext call, Duration delay, String reason) {
          retriesByReason.computeIfAbsent(reason, k -> new LongAdder()).increment();
        }

        @Override
        public void rateLimitWaited(CallContext call, String key, Duration waited) {
          rateLimitWaits.increment();
          rateLimitWaitNanos.add(waited.toNanos());
        }

        @Override
        public void rateLimitPaused(CallContext call, String key, Duration pause) {
          rateLimitPauses.increment();
          rateLimitPauseNanos.add(pause.toNanos());
        }

        @Override
        public void breakerTransition(String key, CircuitBreaker.State from,
            CircuitBreaker.State to) {
          if (!ended) {
            transitions.add(String.format(Locale.ROOT, "%6.1f s  %s: %s -> %s",
                sinceStartMs() / 1000.0, key, from, to));
          }
        }
      };
    }

    void execute(Options o, Call call) throws InterruptedException {
      total = o.calls;
      latencies = new long[o.calls];
      startNanos = System.nanoTime();
      bound = o.noPolicies ? null : new PermitBound(o.rate, o.burst(), startNanos);
      // On a terminal, one line redrawn in place, which lines written meanwhile (the library's
      // log lines) do not break; elsewhere (a file, CI), a plain line every 2 s.
      ProgressLine line = isTerminal() && System.getenv("CI") == null
          ? new ProgressLine(out) : null;
      Thread progress = Thread.ofVirtual().start(() -> progressLoop(line));
      try (FanOut<Object> fan = FanOut.<Object>builder().maxConcurrency(o.concurrency)
          .failFast(false).build()) {
        for (int i = 0; i < o.calls; i++) {
          int n = i;
          fan.submit(() -> {
            long t0 = System.nanoTime();
            try {
              Object v = call.run(n);
              count("ok");
              return v;
            } catch (Exception e) {
              failed.incrementAndGet();
              count(kind(e));
              throw e;
            } finally {
              latencies[n] = System.nanoTime() - t0;
              done.incrementAndGet();
            }
          });
        }
        List<Result<Object>> results = fan.join();
        if (results.size() != o.calls) {
          throw new IllegalStateException(
              "expected " + o.calls + " results, got " + results.size());
        }
      } finally {
        wallNanos = System.nanoTime() - startNanos;
        progress.interrupt();
        try {
          progress.join();
        } finally {
          if (line != null) {
            line.close();
          }
        }
      }
    }

    private void count(String kind) {
      outcomes.computeIfAbsent(kind, k -> new LongAdder()).increment();
    }

    private static String kind(Throwable e) {
      if (e instanceof BareStatus b) {
        return "HTTP " + b.status;
      }
      if (!(e instanceof ApiException a)) {
        return "transport (" + e.getClass().getSimpleName() + ")";
      }
      String kind;
      if (e instanceof HttpStatusException h) {
        kind = "HTTP " + h.status();
      } else if (e instanceof TransportException t) {
        kind = "transport " + t.kind();
      } else if (e instanceof CircuitOpenException) {
        kind = "circuit open";
      } else if (e instanceof RateLimitedException) {
        kind = "rate limited";
      } else if (e instanceof DeadlineExceededException) {
        kind = "deadline exceeded";
      } else {
        kind = e.getClass().getSimpleName();
      }
      // Whatever ended it, a call that sent no attempt reads (not sent), so these outcomes add
      // up to the calls that sent nothing: a deadline can run out right after a wait for a
      // permit, before the first attempt. A refusal that came on a retry, after the call had
      // sent attempts, reads (retry refused).
      if (a.attempts() == 0) {
        return kind + " (not sent)";
      }
      return e instanceof CircuitOpenException || e instanceof RateLimitedException
          ? kind + " (retry refused)" : kind;
    }

    private void progressLoop(ProgressLine line) {
      long period = line != null ? 200 : 2000;
      try {
        while (!Thread.currentThread().isInterrupted()) {
          TimeUnit.MILLISECONDS.sleep(period);
          printProgress(line);
        }
      } catch (InterruptedException e) {
        // done
      }
      printProgress(line);
    }

    /**
     * Whether standard output is a terminal. From JDK 22 {@code System.console()} is not null
     * even when output is redirected; {@code Console.isTerminal()} (22+) tells.
     */
    private static boolean isTerminal() {
      java.io.Console console = System.console();
      if (console == null) {
        return false;
      }
      try {
        return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
      } catch (ReflectiveOperationException e) {
        return true; // JDK 21: a console exists only for a terminal
      }
    }

    private void printProgress(ProgressLine bar) {
      double secs = Math.max(0.001, sinceStartMs() / 1000.0);
      String line = ProgressLine.format(done.get(), total, failed.get(), secs);
      if (bar != null) {
        bar.draw(line);
      } else {
        out.println(line);
        out.flush();
      }
    }

    void print(FlakyPartnerApi api, Options o) {
      long[] sorted = latencies.clone();
      Arrays.sort(sorted);
      double wall = wallNanos / 1e9;
      out.println();
      out.println("== Summary " + (o.noPolicies ? "(bare OkHttp, no policies)" : "(Outrigger)"));
      out.printf(Locale.ROOT, "wall time          %.2f s for %d calls (%.0f calls/s)%n",
          wall, total, total / wall);
      out.println("outcomes");
      new TreeMap<>(outcomes).forEach((k, v) ->
          out.printf(Locale.ROOT, "  %-29s %6d  (%.1f%%)%n", k, v.sum(), 100.0 * v.sum() / total));
      long retries = retriesByReason.values().stream().mapToLong(LongAdder::sum).sum();
      long sent = attempts.sum();
      long first = firstAttempts.sum();
      // attempts = first attempts (one per call that sent anything) + retries sent; a retry
      // is scheduled before the policies let it through, so an open breaker or the rate limit
      // may still refuse it.
      out.printf(Locale.ROOT, "attempts sent      %d (%.2f per call) = %d first attempts + %d "
          + "retries%n", sent, (double) sent / total, first, sent - first);
      if (first < total) {
        out.printf(Locale.ROOT, "  calls that sent nothing  %d (the outcomes marked (not sent): "
            + "refused, or out of time, before their first attempt)%n", total - first);
      }
      long refusedRetries = retries - (sent - first);
      out.printf(Locale.ROOT, "retries scheduled  %d%s%n", retries, refusedRetries <= 0 ? ""
          : String.format(Locale.ROOT, " (%d refused before sending)", refusedRetries));
      new TreeMap<>(retriesByReason).forEach((k, v) ->
          out.printf(Locale.ROOT, "  retry reason %-24s %6d%n", k, v.sum()));
      if (o.noPolicies) {
        out.printf(Locale.ROOT, "rate limit         none (no policies); %.0f attempts/s on "
            + "average%n", sent / wall);
      } else {
        printRateLimit(o, sent / wall);
        // Calls wait side by side: the sum of their waits may be many times the wall time.
        out.printf(Locale.ROOT, "rate-limit waits   %d attempts waited for a permit, %.1f s "
            + "summed over them%n", rateLimitWaits.sum(), rateLimitWaitNanos.sum() / 1e9);
        // The server's Retry-After or used-up quota (overlapping pauses do not add up: the sum
        // is of what each answer asked, the key paused at most that long).
        out.printf(Locale.ROOT, "server pauses      %d (Retry-After or a used-up quota paused "
            + "the key; %.1f s asked in total)%n", rateLimitPauses.sum(),
            rateLimitPauseNanos.sum() / 1e9);
        out.println("breaker transitions" + (transitions.isEmpty() ? "  none" : ""));
        transitions.forEach(t -> out.println("  " + t));
      }
      out.printf(Locale.ROOT, "latency            p50 %s  p95 %s  p99 %s  max %s (of each "
          + "call%s)%n", ms(sorted, 0.50), ms(sorted, 0.95), ms(sorted, 0.99), ms(sorted, 1.0),
          o.noPolicies ? "" : ", with its waits and retries");
      if (api != null) {
        out.println("== What the server saw");
        // An attempt the deadline cut before its request was written never reached the server.
        // One cut once its request began to go out may or may not have been read by the server.
        // A request whose pooled connection the server closed without answering (a reset, here)
        // goes again at once within its attempt when it may go twice: one more request each, at
        // most, for the server, none for the client's count.
        long cut = unwritten.sum();
        long maybe = cutGoingOut.sum();
        long most = attempts.sum() - cut;
        long seen = api.requests.get();
        long again = Math.max(0, seen - most);
        mismatch = again > api.resets.get() || seen < most - maybe;
        out.printf(Locale.ROOT, "requests           %d (client counted %d attempts%s%s%s: %s)%n",
            seen, attempts.sum(), cut == 0 ? ""
                : String.format(Locale.ROOT, ", %d of them cut before their request was written",
                    cut), maybe == 0 ? ""
                : String.format(Locale.ROOT, ", %d cut by their deadline as they went out, which "
                    + "the server may not have read", maybe), again == 0 ? ""
                : String.format(Locale.ROOT, ", %d more sent again within their attempt after "
                    + "a reset", again),
            mismatch ? "MISMATCH" : "they agree");
        // One count per request, each answer counted once sent: the slow answers are among the
        // 200s, a reset is no answer, and a request the client hung up on before its answer was
        // sent (a slow one its deadline cut) is dropped.
        out.printf(Locale.ROOT, "answers            200: %d (%d of them slow, 1-2 s)  429: %d  "
            + "503: %d  500 (outage): %d  reset, no answer: %d  dropped, client gone: %d%n",
            api.ok.get(), api.slow.get(), api.throttled.get(), api.unavailable.get(),
            api.outage.get(), api.resets.get(), api.dropped.get());
        // The quota's bucket holds a second's worth: a second may take twice the quota unrefused.
        out.printf(Locale.ROOT, "rate observed      busiest second %d req, average %.0f req/s; "
            + "server quota %.0f/s, burst %.0f%n", api.busiestSecond(), api.requests.get() / wall,
            api.quotaPerSecond(), api.quotaPerSecond());
        if (!o.noPolicies) {
          out.printf(Locale.ROOT, "                   (timed as they arrived: after their "
              + "permits, by as long as their threads waited for a CPU, so on a busy machine "
              + "a second may hold more than the %d permits any second allows)%n",
              o.perSecond());
        }
      } else {
        // Someone else's server: say its counts are not known rather than leave them out.
        out.println("== What the server saw");
        out.println("unknown            --url: the server is not the embedded API, and the demo "
            + "cannot read its counts; the numbers above are the client's alone");
      }
    }

    /**
     * The rate limit's bound and whether the attempts sent kept within it. The bound is on
     * permits, and is checked on what it bounds: the attempts sent from the start, each after its
     * permit, never a second of sends, which threads that woke late for their permits bunch.
     */
    private void printRateLimit(Options o, double average) {
      String rate = Options.number(o.rate);
      out.printf(Locale.ROOT, "rate limit         %s/s + burst %d: at most %d + %s * T permits "
          + "in any T seconds (%d in one)%n", rate, o.burst(), o.burst(), rate, o.perSecond());
      PermitBound.Excess over = bound.excess();
      overLimit = over != null;
      if (over == null) {
        out.printf(Locale.ROOT, "  kept             yes: t seconds into the run, at most %d + %s "
            + "* t attempts had been sent (%.0f/s on average)%n", o.burst(), rate, average);
      } else {
        double t = over.elapsedNanos() / 1e9;
        out.printf(Locale.ROOT, "  kept             NO: %.3f s into the run, %d attempts had been "
            + "sent, over %d + %s * %.3f = %d%n", t, over.sent(), o.burst(), rate, t,
            bound.allowed(over.elapsedNanos()));
      }
    }

    private static String ms(long[] sorted, double q) {
      if (sorted.length == 0) {
        return "-";
      }
      int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
      return String.format(Locale.ROOT, "%d ms", sorted[Math.max(0, i)] / 1_000_000);
    }
  }

  /** Command-line flags. */
  static final class Options {
    static final String HELP = """
        Outrigger demo: a batch of calls through one ApiClient to an embedded flaky API.

          --calls N          how many calls (default 3000, at most 1000000)
          --concurrency N    calls in flight at most, through FanOut (default 64)
          --rate R           client-side rate limit, calls per second, with a burst of a
                             tenth of a second's worth, at least 1 (default 150, burst
                             15; the embedded API's quota is 200/s); not with
                             --no-policies
          --seed S           seed of the embedded API's faults and of the calls' paths
                             (default 42): one seed, the same fault for each request;
                             not with --url
          --no-policies      the same batch on bare OkHttp, to compare
          --url URL          call this URL (GET) instead of the embedded API (printed
                             without its query; no user name or password; a { or } in
                             it, path or query, is sent percent-encoded, %7B and %7D, by
                             both runs alike)
          -h, --help         this text
        A flag's value may also follow an equals sign: --calls=500. A flag the run
        would not use is refused, not ignored: --rate with --no-policies (no rate
        limit), --seed with --url (no embedded API); both exit with status 2, as a bad
        value does.

        Run with: mvn -q -Pdemo compile exec:exec -Ddemo.args="--calls 1000 --rate 100"
        Maven splits demo.args at spaces, as a shell would: quote a value that holds
        one, -Ddemo.args="--url 'http://localhost:8080/a b'" (no backslash escapes).
        """;

    /**
     * The most calls: the run keeps each call's latency and queues every call in one FanOut at
     * the start, so two billion died of an OutOfMemoryError and fifty million crawled in GC.
     */
    static final int MAX_CALLS = 1_000_000;

    int calls = 3000;
    int concurrency = 64;
    double rate = 150;
    long seed = 42;
    boolean noPolicies;
    boolean help;
    /** --rate was given: refused beside --no-policies, which has no rate limit. */
    boolean rateGiven;
    /** --seed was given: refused beside --url, which has no embedded API to seed. */
    boolean seedGiven;
    /** The URL as given, or null: printed through {@link #shown}. */
    String url;
    /** What both runs send for {@link #url}: see {@link #target}. */
    String target;

    /**
     * The options in {@code raw}; {@code --help} anywhere wins over every other flag, as in
     * most command-line tools, so "--bogus --help" prints the help rather than an error.
     *
     * @throws BadSetting for an unknown flag or a bad value
     */
    static Options parse(String[] raw) {
      try {
        return parseOrThrow(raw);
      } catch (IllegalArgumentException e) {
        throw new BadSetting(e.getMessage());
      }
    }

    private static Options parseOrThrow(String[] raw) {
      // Each argument is one flag or value, spaces and all: the pom has Maven split demo.args
      // as a shell would, quotes grouping.
      List<String> args = new ArrayList<>();
      for (String a : raw) {
        int eq = a.indexOf('=');
        if (a.startsWith("--") && eq > 2) {
          // --calls=500, as GNU tools and most CLIs take it, beside --calls 500.
          args.add(a.substring(0, eq));
          args.add(a.substring(eq + 1));
        } else {
          args.add(a);
        }
      }
      Options o = new Options();
      if (args.contains("--help") || args.contains("-h")) {
        o.help = true;
        return o;
      }
      for (int i = 0; i < args.size(); i++) {
        String a = args.get(i);
        switch (a) {
          case "--help", "-h" -> o.help = true;
          case "--no-policies" -> o.noPolicies = true;
          case "--calls" -> o.calls = positiveInt(a, value(args, ++i, a), MAX_CALLS);
          case "--concurrency" -> o.concurrency =
              positiveInt(a, value(args, ++i, a), Integer.MAX_VALUE);
          case "--rate" -> {
            o.rateGiven = true;
            String v = value(args, ++i, a);
            try {
              o.rate = Double.parseDouble(v);
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException("--rate takes a number, but was '" + v + "'");
            }
            if (!(o.rate > 0 && o.rate <= 1e9)) {
              throw new IllegalArgumentException(
                  "--rate must be above 0 and at most 1e9 calls per second, but was " + v);
            }
            try {
              // The rate limit's own bounds (at least one call per 50 years), checked now:
              // build() refused it only after the banner and the embedded API had started.
              RateLimit.perSecond(o.rate).burst(o.burst());
            } catch (IllegalArgumentException e) {
              throw new IllegalArgumentException("--rate " + v + ": " + e.getMessage());
            }
          }
          case "--seed" -> {
            o.seedGiven = true;
            String v = value(args, ++i, a);
            try {
              o.seed = Long.parseLong(v);
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException("--seed takes a whole number, but was '" + v
                  + "'");
            }
          }
          case "--url" -> {
            o.url = value(args, ++i, a);
            o.target = target(o.url); // checked now, before anything starts
          }
          default -> throw new IllegalArgumentException("unknown flag " + a + "\n\n" + HELP);
        }
      }
      // Refused rather than ignored: a run that silently dropped a flag would be read as if
      // the flag had shaped it.
      if (o.noPolicies && o.rateGiven) {
        throw new IllegalArgumentException("--rate sets the client's rate limit, and "
            + "--no-policies runs without one: drop --rate, or --no-policies");
      }
      if (o.url != null && o.seedGiven) {
        throw new IllegalArgumentException("--seed seeds the embedded API's faults and paths, "
            + "and --url calls another server instead: drop --seed, or --url");
      }
      return o;
    }

    private static String value(List<String> args, int i, String flag) {
      if (i >= args.size()) {
        throw new IllegalArgumentException(flag + " needs a value");
      }
      return args.get(i);
    }

    /** {@code url}'s scheme, host and port: the client's base URL in {@code --url} mode. */
    static String origin(String url) {
      HttpUrl u = HttpUrl.parse(url);
      if (u == null) {
        throw new IllegalArgumentException(
            "--url takes an http:// or https:// URL, but was '" + shown(url) + "'");
      }
      return u.newBuilder().username("").password("").encodedPath("/").query(null)
          .fragment(null).build().toString();
    }

    /**
     * {@code url} as both runs send it: a brace percent-encoded, in the path (as OkHttp already
     * does) and in the query alike, since the client reads {@code {name}} as a placeholder and
     * bare OkHttp sends it as text; no fragment.
     *
     * @throws IllegalArgumentException if {@code url} is not an http(s) URL, or has a user name or
     *     password, which neither run would send (OkHttp sends no credentials from a URL, and the
     *     client refuses such a URL)
     */
    static String target(String url) {
      origin(url);
      HttpUrl u = HttpUrl.parse(url);
      if (!u.username().isEmpty() || !u.password().isEmpty()) {
        throw new IllegalArgumentException("--url must not have a user name or password, which "
            + "neither run would send (OkHttp sends no credentials from a URL), but was '"
            + shown(url) + "' with them");
      }
      return u.newBuilder().fragment(null).build().toString()
          .replace("{", "%7B").replace("}", "%7D");
    }

    /** {@code url} as it may be printed: no user info, no query or fragment. */
    static String shown(String url) {
      HttpUrl u = HttpUrl.parse(url);
      if (u == null) {
        int at = url.indexOf('@');
        return at < 0 ? url.replaceAll("[?#].*", "") : "(a URL with user info)";
      }
      return u.newBuilder().username("").password("").query(null).fragment(null).build()
          + (u.query() != null ? "?(query hidden)" : "");
    }

    /** The rate limit's burst: a tenth of a second's worth, at least one. */
    int burst() {
      return Math.max(1, (int) (rate / 10));
    }

    /** The most permits the rate limit grants in any one second: burst + rate, rounded down. */
    long perSecond() {
      return burst() + (long) Math.floor(rate);
    }

    /** A rate as written: 150, or 0.5. */
    static String number(double v) {
      // Plain digits, never Double's "1.0E-4".
      return v == Math.rint(v) && Math.abs(v) < 1e15
          ? Long.toString((long) v)
          : java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    private static int positiveInt(String flag, String v, int max) {
      int n;
      try {
        n = Integer.parseInt(v);
      } catch (NumberFormatException e) {
        // A whole number past an int's range is too big, not malformed.
        throw new IllegalArgumentException(v.matches("\\+?\\d+")
            ? flag + " must be at most " + max + ", but was " + v
            : flag + " takes a whole number, but was '" + v + "'");
      }
      if (n < 1) {
        throw new IllegalArgumentException(flag + " must be at least 1, but was " + n);
      }
      if (n > max) {
        throw new IllegalArgumentException(flag + " must be at most " + max + ", but was " + n);
      }
      return n;
    }
  }
}
