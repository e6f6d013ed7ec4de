package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import dev.outrigger.JavaProcess;
import java.io.File;
import java.io.IOException;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's opening section on the demo (src/demo/java, built by the demo profile only): compiled
 * here with the JDK's compiler and run in a JVM of its own, without an slf4j binding.
 */
class ReadmeDemoTest {
  @TempDir static Path classes;

  private record Run(int status, String out, String err) {}

  @BeforeAll
  static void compileTheDemo() throws IOException {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp",
        String.join(File.pathSeparator, JavaProcess.testClassPath()), "--release", "21",
        "-proc:none"));
    try (Stream<Path> sources = Files.walk(Path.of("src/demo/java"))) {
      sources.filter(p -> p.toString().endsWith(".java")).forEach(p -> args.add(p.toString()));
    }
    assertEquals(0, javac.run(null, null, null, args.toArray(String[]::new)));
  }

  private static Run demo(String... flags) throws Exception {
    return demo(null, flags);
  }

  /** As {@link #demo(String...)}, logging through logback as {@code logback} says, if not null. */
  private static Run demo(Path logback, String... flags) throws Exception {
    String cp = Stream.concat(Stream.of(classes.toString()), JavaProcess.testClassPath().stream()
            .filter(e -> (logback != null || !e.contains("logback"))
                && !e.endsWith("test-classes")))
        .collect(Collectors.joining(File.pathSeparator));
    List<String> cmd = new ArrayList<>(
        List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    if (logback != null) {
      cmd.add("-Dlogback.configurationFile=" + logback);
    }
    cmd.addAll(List.of("-cp", cp, "dev.outrigger.demo.Demo"));
    cmd.addAll(List.of(flags));
    Path out = Files.createTempFile(classes, "out", ".txt");
    Path err = Files.createTempFile(classes, "err", ".txt");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
        .start();
    try {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the demo did not end");
      return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      JavaProcess.kill(p);
    }
  }

  /** "--help lists them: --calls, --concurrency, --rate, --seed, --no-policies, --url". */
  @Test
  void helpListsTheFlags() throws Exception {
    Run r = demo("--help");
    assertEquals(0, r.status(), r.err());
    for (String flag : List.of("--calls", "--concurrency", "--rate", "--seed", "--no-policies",
        "--url")) {
      assertTrue(r.out().contains(flag), flag + " in\n" + r.out());
    }
  }

  /**
   * --help names every flag the demo takes, and what the summary shows of them: -h (taken, and
   * not listed) and the rate limit's burst (a tenth of the rate, shown in the summary beside
   * it, and said nowhere).
   */
  @Test
  void helpNamesTheShortFlagAndTheBurst() throws Exception {
    Run r = demo("-h");
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("  -h, --help "), r.out());
    assertTrue(r.out().replaceAll("\\s+", " ").contains("with a burst of a tenth of a second's "
        + "worth, at least 1 (default 150, burst 15;"), r.out());
  }

  /**
   * The help fits a terminal's 80 columns, as the progress line does: a wider line wraps in the
   * middle of the flag column. Its title took 85 columns, and six other lines 81 or 82.
   */
  @Test
  void helpFitsEightyColumns() throws Exception {
    Run r = demo("--help");
    assertEquals(0, r.status(), r.err());
    for (String line : r.out().split("\n")) {
      assertTrue(line.length() <= 80, line.length() + ": " + line);
    }
  }

  /** "`--help` anywhere among the flags prints the help and exits 0, whatever else is there". */
  @Test
  void helpWinsOverABadFlagBesideIt() throws Exception {
    String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8)
        .replaceAll("\\s+", " ");
    assertTrue(readme.contains("`--help` anywhere among the flags prints the help and exits 0,"
        + " whatever else is there"), "the README sentence this test checks");
    for (String[] flags : List.of(new String[] {"--bogus", "--help"},
        new String[] {"--calls", "abc", "-h"}, new String[] {"--help", "--rate"})) {
      Run r = demo(flags);
      assertEquals(0, r.status(), List.of(flags) + ": " + r.err());
      assertTrue(r.out().contains("--concurrency"), "the help for " + List.of(flags) + ":\n"
          + r.out());
      assertEquals("", r.err(), "no error for " + List.of(flags));
    }
  }

  /**
   * "An unknown flag prints a message and the usage; a bad value (--calls abc) prints a message
   * that points to --help. Either way the demo exits with status 2".
   */
  @Test
  void badFlagsExitWithStatusTwo() throws Exception {
    Run unknown = demo("--bogus");
    assertEquals(2, unknown.status());
    assertTrue(unknown.err().contains("--bogus"), unknown.err());
    assertTrue(unknown.err().contains("--concurrency"), "the usage: " + unknown.err());
    Run bad = demo("--calls", "abc");
    assertEquals(2, bad.status());
    assertTrue(bad.err().contains("abc"), bad.err());
    assertTrue(bad.err().contains("--help"), bad.err());
    assertFalse(bad.err().contains("--concurrency N"), "no usage for a bad value: " + bad.err());
  }

  /**
   * "What the demo does and prints": a client with a rate limit (150/s, burst 15), retries (4
   * attempts, full jitter), a 5 s deadline, a breaker per endpoint and the in-flight limit;
   * the summary, and "the line requests N (client counted N attempts: they agree)".
   */
  @Test
  void aShortRunPrintsItsPoliciesAndTheServerAgreesWithTheClient() throws Exception {
    Run r = demo("--calls", "60");
    assertEquals(0, r.status(), r.err());
    String out = r.out();
    assertTrue(out.contains("Deadline[default PT5S]"), out);
    assertTrue(out.contains("Retry[4 attempts") && out.contains("jitter FULL"), out);
    assertTrue(out.contains("RateLimit[150.0/s, burst 15]"), out);
    assertTrue(out.contains("custom key"), "a breaker per endpoint: " + out);
    assertTrue(out.contains("InFlightLimit[1024 per host]"), out);
    assertFalse(out.contains("ClientThrottle") || out.contains("adaptive"), out);
    assertTrue(out.contains("== Summary (Outrigger)"), out);
    // The API's reset (1%) on a pooled connection sends its request again within the attempt,
    // named on the line: requests 66 (client counted 65 attempts, 1 more sent again ...).
    Matcher m = Pattern.compile("requests\\s+(\\d+) \\(client counted (\\d+) attempts"
        + "(?:, (\\d+) more sent again within their attempt after a reset)?: they agree\\)")
        .matcher(out);
    assertTrue(m.find(), out);
    long again = m.group(3) == null ? 0 : Long.parseLong(m.group(3));
    assertEquals(Long.parseLong(m.group(2)) + again, Long.parseLong(m.group(1)), m.group());
  }

  /**
   * "--no-policies runs the same calls on bare OkHttp for comparison": the bare run meets the
   * /inventory outage too. It sends far faster than the rate limit lets the client, and an outage
   * timed for the client's pace began after the bare run was over.
   */
  @Test
  void theBareRunMeetsTheInventoryOutage() throws Exception {
    Run r = demo("--calls", "500", "--no-policies");
    assertEquals(0, r.status(), r.err());
    Matcher m = Pattern.compile("500 \\(outage\\): (\\d+)").matcher(r.out());
    assertTrue(m.find(), r.out());
    assertTrue(Integer.parseInt(m.group(1)) > 0, "no outage answer in\n" + r.out());
  }

  /**
   * "the line requests N (client counted N attempts: they agree)" with a thousand connections
   * open: the embedded API's JDK server closed a connection as its answer ended whenever 200
   * were idle already, so the client wrote its next request into a closed connection, which
   * the server never read. The bare run (3,000 calls, 1,000 in flight) counted 9-23% of its
   * calls as transport failures, far beyond the API's 1% resets, and ended in MISMATCH.
   */
  @Test
  void aThousandConnectionsAreAllServedAndTheServerAgrees() throws Exception {
    Run r = demo("--calls", "3000", "--concurrency", "1000", "--no-policies");
    assertEquals(0, r.status(), r.out() + r.err());
    assertTrue(r.out().contains("attempts: they agree)"), r.out());
    Matcher resets = Pattern.compile("reset, no answer: (\\d+)").matcher(r.out());
    assertTrue(resets.find(), r.out());
    // Every transport failure is one of the API's resets.
    Matcher failed = Pattern.compile("transport \\(\\w+\\)\\s+(\\d+)").matcher(r.out());
    long failures = 0;
    while (failed.find()) {
      failures += Long.parseLong(failed.group(1));
    }
    assertEquals(Long.parseLong(resets.group(1)), failures, r.out());
  }

  /**
   * "A bad value prints a message that points to --help" and exits with status 2: a number of
   * calls the demo cannot hold too, refused before anything starts. It was taken, and the run
   * died of an OutOfMemoryError (exit status 1, a stack trace) or crawled for minutes.
   */
  @Test
  void tooManyCallsAreABadValue() throws Exception {
    Run r = demo("--calls", "2147483647");
    assertEquals(2, r.status(), r.out() + r.err());
    assertTrue(r.err().contains("--calls must be at most 1000000, but was 2147483647"), r.err());
    assertTrue(r.err().contains("--help"), r.err());
    assertFalse(r.out().contains("Outrigger demo:"), "nothing started: " + r.out());
    // The same value after an equals sign, as most command lines take it.
    Run past = demo("--calls=99999999999");
    assertEquals(2, past.status(), past.err());
    assertTrue(past.err().contains("--calls must be at most 1000000, but was 99999999999"),
        past.err());
  }

  /**
   * "--url URL: call this URL (GET) instead of the embedded API", and "--no-policies runs the
   * same calls on bare OkHttp": neither sends the embedded API's made-up X-Api-Key to someone
   * else's server. The bare run sent it on every call; the client did not.
   */
  @Test
  void aUrlOfTheCallersGetsNoApiKeyOfTheDemos() throws Exception {
    ConcurrentLinkedQueue<String> keys = new ConcurrentLinkedQueue<>();
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", ex -> {
      try (ex) {
        keys.add(String.valueOf(ex.getRequestHeaders().getFirst("X-Api-Key")));
        ex.sendResponseHeaders(200, 2);
        ex.getResponseBody().write("ok".getBytes(StandardCharsets.UTF_8));
      }
    });
    server.start();
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/ping";
      Run bare = demo("--url", url, "--calls", "3", "--no-policies");
      assertEquals(0, bare.status(), bare.err());
      Run client = demo("--url", url, "--calls", "3");
      assertEquals(0, client.status(), client.err());
      assertEquals(List.of("null", "null", "null", "null", "null", "null"), List.copyOf(keys));
    } finally {
      server.stop(0);
    }
  }

  /**
   * "--url URL: call this URL (GET)", and "--no-policies runs the same calls on bare OkHttp": a
   * brace in the URL (a JSON filter in a query, say) is text to send, not a placeholder. The
   * client read it as a {name} to fill, and every call failed before sending with an
   * IllegalArgumentException, counted as "transport (IllegalArgumentException)" (and not as
   * sending nothing), while the bare run sent the URL.
   */
  @Test
  void aUrlWithBracesIsSentAsIsByBothRuns() throws Exception {
    ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
    HttpServer server = recordingServer(seen);
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/p{a}?q={x}&r=1";
      Run client = demo("--url", url, "--calls", "2");
      assertEquals(0, client.status(), client.err());
      assertTrue(client.out().contains("\n  ok                                 2 "),
          client.out());
      Run bare = demo("--url", url, "--calls", "2", "--no-policies");
      assertEquals(0, bare.status(), bare.err());
      assertEquals(List.of("/p%7Ba%7D?q=%7Bx%7D&r=1", "/p%7Ba%7D?q=%7Bx%7D&r=1",
          "/p%7Ba%7D?q=%7Bx%7D&r=1", "/p%7Ba%7D?q=%7Bx%7D&r=1"), List.copyOf(seen));
    } finally {
      server.stop(0);
    }
  }

  /**
   * A bad value exits with status 2 before anything starts: a --url with a user name or
   * password, which neither run would send. The client refused such a URL on every call (each
   * read "transport (IllegalArgumentException)") while bare OkHttp sent it without them.
   */
  @Test
  void aUrlWithCredentialsIsABadValue() throws Exception {
    ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
    HttpServer server = recordingServer(seen);
    try {
      String url = "http://user:s3cret@127.0.0.1:" + server.getAddress().getPort() + "/ping";
      Run r = demo("--url", url, "--calls", "2");
      assertEquals(2, r.status(), r.out() + r.err());
      assertTrue(r.err().contains("--url must not have a user name or password"), r.err());
      assertTrue(r.err().contains("--help"), r.err());
      assertFalse((r.out() + r.err()).contains("s3cret"), r.out() + r.err());
      assertFalse(r.out().contains("Outrigger demo:"), "nothing started: " + r.out());
      assertEquals(List.of(), List.copyOf(seen));
    } finally {
      server.stop(0);
    }
  }

  /**
   * "== What the server saw" with --url: the demo cannot read another server's counts, and says
   * so, in both runs, instead of leaving the section out without a word.
   */
  @Test
  void aUrlRunSaysTheServersCountsAreUnknown() throws Exception {
    ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
    HttpServer server = recordingServer(seen);
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/ping";
      for (Run r : List.of(demo("--url", url, "--calls", "3"),
          demo("--url", url, "--calls", "3", "--no-policies"))) {
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("== What the server saw\nunknown            --url: the "
            + "server is not the embedded API"), r.out());
        assertFalse(r.out().contains("client counted"), r.out());
        assertFalse(r.out().contains("seed"), "no embedded API to seed: " + r.out());
      }
      assertEquals(6, seen.size());
    } finally {
      server.stop(0);
    }
  }

  /** A server on loopback answering 200 "ok", recording each request's raw path and query. */
  private static HttpServer recordingServer(ConcurrentLinkedQueue<String> seen)
      throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", ex -> {
      try (ex) {
        seen.add(ex.getRequestURI().getRawPath() + (ex.getRequestURI().getRawQuery() == null
            ? "" : "?" + ex.getRequestURI().getRawQuery()));
        ex.sendResponseHeaders(200, 2);
        ex.getResponseBody().write("ok".getBytes(StandardCharsets.UTF_8));
      }
    });
    server.start();
    return server;
  }

  /**
   * "== What the server saw": each number on its answers line counts answers of its own kind,
   * so together they are the requests. The slow answers are 200s (late ones) and were listed as
   * a kind beside them, so the line added up to more than the server's requests.
   */
  @Test
  void theServersAnswersAddUpToItsRequests() throws Exception {
    Run r = demo("--calls", "500", "--no-policies");
    assertEquals(0, r.status(), r.err());
    Matcher requests = Pattern.compile("requests\\s+(\\d+) ").matcher(r.out());
    Matcher answers = Pattern.compile("answers\\s+(.*)").matcher(r.out());
    assertTrue(requests.find() && answers.find(), r.out());
    Matcher count = Pattern.compile(": (\\d+)").matcher(answers.group(1));
    long sum = 0;
    while (count.find()) {
      sum += Long.parseLong(count.group(1));
    }
    assertEquals(Long.parseLong(requests.group(1)), sum, answers.group());
    assertTrue(answers.group(1).matches("200: \\d+ \\(\\d+ of them slow, 1-2 s\\) .*"),
        answers.group());
  }

  /**
   * "--rate 250 asks for more than the quota: the API answers 429 with Retry-After, the client
   * pauses the key for as long as told": the summary shows the pauses the server asked for,
   * at least one whenever the server answered a 429.
   */
  @Test
  void theSummaryShowsThePausesTheServerAskedFor() throws Exception {
    Run r = demo("--calls", "600", "--rate", "250");
    assertEquals(0, r.status(), r.err());
    Matcher pauses = Pattern.compile("server pauses\\s+(\\d+) \\(Retry-After or a used-up "
        + "quota paused the key; [0-9.]+ s asked in total\\)").matcher(r.out());
    assertTrue(pauses.find(), r.out());
    Matcher tooMany = Pattern.compile("answers .* 429: (\\d+)").matcher(r.out());
    if (tooMany.find() && Long.parseLong(tooMany.group(1)) > 0) {
      assertTrue(Long.parseLong(pauses.group(1)) >= 1, r.out());
    }
  }

  /**
   * "--no-policies runs the same calls on bare OkHttp": its banner and summary claim no rate
   * limit. The banner read "client rate 150/s" for a run with none. (Nor do its latencies hold
   * waits for permits or retries.)
   */
  @Test
  void theBareRunClaimsNoRateLimit() throws Exception {
    Run r = demo("--calls", "20", "--no-policies");
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().startsWith("Outrigger demo: 20 calls, concurrency 64, NO POLICIES (bare "
        + "OkHttp: no rate limit, retries, deadline or breaker), seed 42\n"), r.out());
    assertFalse(r.out().contains("150/s"), r.out());
    assertTrue(r.out().contains("\nrate limit         none (no policies); "), r.out());
    assertTrue(Pattern.compile("\\nlatency .* \\(of each call\\)\\n").matcher(r.out()).find(),
        r.out());
  }

  /**
   * The summary says what its sums and latencies are of: the rate-limit waits are summed over
   * attempts that wait side by side (a run of 21 s read "1096.8 s waited in total"), and a
   * call's latency holds its waits for permits and its retries.
   */
  @Test
  void theSummarySaysWhatItsWaitsAndLatenciesAreOf() throws Exception {
    Run r = demo("--calls", "60");
    assertEquals(0, r.status(), r.err());
    assertTrue(Pattern.compile("\\nrate-limit waits   \\d+ attempts waited for a permit, [0-9.]+ s "
        + "summed over them\\n").matcher(r.out()).find(), r.out());
    assertTrue(Pattern.compile("\\nlatency            p50 .* max \\d+ ms \\(of each call, with "
        + "its waits and retries\\)\\n").matcher(r.out()).find(), r.out());
  }

  /**
   * "A flag the run would not use is refused, not ignored": --rate with --no-policies and --seed
   * with --url exit with status 2 before anything starts, saying which flag to drop. Both were
   * taken and silently ignored, so a bare run "at --rate 50" ran at full speed.
   */
  @Test
  void aFlagTheRunWouldNotUseIsAUsageError() throws Exception {
    String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8)
        .replaceAll("\\s+", " ");
    assertTrue(readme.contains("A flag the run would not use is refused, not ignored"),
        "the README sentence this test checks");
    Run rate = demo("--calls", "20", "--rate", "50", "--no-policies");
    assertEquals(2, rate.status(), rate.out() + rate.err());
    assertTrue(rate.err().contains("--rate sets the client's rate limit, and --no-policies runs "
        + "without one: drop --rate, or --no-policies"), rate.err());
    assertTrue(rate.err().contains("--help"), rate.err());
    assertFalse(rate.out().contains("Outrigger demo:"), "nothing started: " + rate.out());
    Run seed = demo("--seed=7", "--url", "http://127.0.0.1:9/ping", "--calls", "1");
    assertEquals(2, seed.status(), seed.out() + seed.err());
    assertTrue(seed.err().contains("--seed seeds the embedded API's faults and paths, and --url "
        + "calls another server instead: drop --seed, or --url"), seed.err());
    assertFalse(seed.out().contains("Outrigger demo:"), "nothing started: " + seed.out());
    Run help = demo("-h");
    assertTrue(help.out().replaceAll("\\s+", " ").contains("A flag the run would not use is "
        + "refused, not ignored: --rate with --no-policies (no rate limit), --seed with --url "
        + "(no embedded API); both exit with status 2"), help.out());
  }

  /**
   * The progress line fits a terminal's 80 columns at any count: a wider one wraps, and each
   * redraw in place then scrolls a new line. At a million calls it took 89 columns (a 30-column
   * bar beside 1000000/1000000, failed 1000000, the calls per second and the seconds).
   */
  @Test
  void theProgressLineFitsEightyColumnsAtAnyCount() throws Exception {
    // ProgressLine uses the JDK alone: load it from the demo compiled above, not from a stale
    // copy a -Pdemo build may have left in target/classes.
    try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()},
        ClassLoader.getPlatformClassLoader())) {
      Method format = loader.loadClass("dev.outrigger.demo.ProgressLine")
          .getDeclaredMethod("format", int.class, int.class, int.class, double.class);
      format.setAccessible(true);
      // A default run's line is as it was: the full 30-column bar.
      assertEquals("[###############...............] 1500/3000  failed 3  150 calls/s  10.0 s",
          format.invoke(null, 1500, 3000, 3, 10.0));
      String million = (String) format.invoke(null, 1_000_000, 1_000_000, 1_000_000, 300.0);
      assertTrue(million.length() <= 80, million.length() + ": " + million);
      assertTrue(million.matches("\\[#+\\] 1000000/1000000  failed 1000000  3333 calls/s  "
          + "300.0 s"), million);
      String half = (String) format.invoke(null, 500_000, 1_000_000, 7, 150.0);
      assertTrue(half.length() <= 80 && half.matches("\\[#+\\.+\\] 500000/1000000 .*"), half);
      // Past what the demo takes: an int's counts, a rate of millions, years of seconds.
      for (Object[] a : List.of(new Object[] {Integer.MAX_VALUE, Integer.MAX_VALUE, 12, 0.001},
          new Object[] {Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE, 1e12},
          new Object[] {0, 0, 0, 0.001})) {
        String line = (String) format.invoke(null, a);
        assertTrue(line.length() <= 80, line.length() + ": " + line);
      }
    }
  }

  /** A small rate reads as digits in the summary, not as Double's "1.0E-4". */
  @Test
  void aSmallRateReadsAsDigits() throws Exception {
    Run r = demo("--calls", "1", "--rate", "0.0001");
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("rate limit         0.0001/s + burst 1: at most 1 + 0.0001 * T"),
        r.out());
  }

  /**
   * "The bound is on permits, and the demo checks it on what it bounds": the attempts sent in
   * the run's first t seconds, set against burst + rate × t, with no second of sends beside the
   * limit; the server's busiest second is labelled as arrivals, with why it may read higher. The
   * summary set the busiest second of sends beside "at most 165 permits in any second", and
   * threads that woke late for their permits sent together: 173 read as the limit exceeded.
   * (The server's quota reads with its burst, a second's worth: a busiest second of 203
   * arrivals read against "server quota 200/s", with no 429.)
   */
  @Test
  void theRateLimitIsCheckedOnTheAttemptsSentSinceTheStart() throws Exception {
    Run r = demo("--calls", "60");
    assertEquals(0, r.status(), r.out() + r.err());
    String out = r.out();
    assertTrue(out.contains("\nrate limit         150/s + burst 15: at most 15 + 150 * T "
        + "permits in any T seconds (165 in one)\n  kept             yes: t seconds into the "
        + "run, at most 15 + 150 * t attempts had been sent ("), out);
    int server = out.indexOf("== What the server saw");
    assertTrue(server > 0, out);
    assertFalse(out.substring(0, server).contains("busiest"), "a second of sends: " + out);
    assertTrue(Pattern.compile("\\nrate observed      busiest second \\d+ req, average \\d+ "
        + "req/s; server quota 200/s, burst 200\\n {19}\\(timed as they arrived: after their "
        + "permits, ")
        .matcher(out).find(), out);
  }

  /**
   * A bad value exits with status 2 before anything starts: a --rate below what the rate limit
   * takes (one call per 50 years). It passed the flag's check (above 0), and the client's build()
   * refused it after the banner, with the rate printed as 300 digits, and the embedded API, had
   * started.
   */
  @Test
  void aRateTheRateLimitRefusesIsABadValue() throws Exception {
    Run r = demo("--calls", "1", "--rate", "1e-300");
    assertEquals(2, r.status(), r.out() + r.err());
    assertTrue(r.err().contains("--rate 1e-300: rate must be at least one permit per 50 years"),
        r.err());
    assertTrue(r.err().contains("--help"), r.err());
    assertFalse(r.out().contains("Outrigger demo:"), "nothing started: " + r.out());
  }

  /**
   * "== What the server saw": an answer is counted when it is sent. With seed 2679, calls 0
   * and 1 get quick answers and call 2's request a slow one (1.99 s). At 0.25 calls/s, one at a
   * time, call 2's permit comes 4 s after call 1's, and call 2 began as soon as call 1 (warm,
   * answered at once) ended: it is sent with about 1 s of its 5 s deadline left, which cuts the
   * attempt about 1 s before that answer is due, time for the demo to stop the server first.
   * Both margins are about a second whatever the first call's cold start took (call 1 waited
   * that out). The server counted that 200 when it decided on it, before its wait, so the
   * summary said one 200 more than the client's. (Seed 582 with two calls at 0.21 calls/s left
   * the slow call 0.24 s, plus call 0's time, to be sent after its permit: on a loaded machine
   * it once read "deadline exceeded (not sent)".)
   */
  @Test
  void aSlowAnswerTheClientGaveUpOnIsNotCountedAsSent() throws Exception {
    Run r = demo("--calls", "3", "--concurrency", "1", "--rate", "0.25", "--seed", "2679");
    assertEquals(0, r.status(), r.err());
    Matcher ok = Pattern.compile("\\n  ok\\s+(\\d+) ").matcher(r.out());
    Matcher cut = Pattern.compile("\\n  deadline exceeded\\s+(\\d+) ").matcher(r.out());
    assertTrue(ok.find() && cut.find(), r.out());
    assertEquals("2", ok.group(1), r.out());
    assertEquals("1", cut.group(1), r.out());
    Matcher answers = Pattern.compile("answers\\s+200: (\\d+) \\((\\d+) of them slow")
        .matcher(r.out());
    assertTrue(answers.find(), r.out());
    assertEquals("2", answers.group(1), "the 200s sent, in\n" + r.out());
    assertEquals("0", answers.group(2), "the slow 200s sent, in\n" + r.out());
    assertTrue(r.out().contains("dropped, client gone: 1"), r.out());
  }

  /**
   * "a refusal by the open breaker or the rate limit reads (not sent) when the call sent
   * nothing": every call that sent nothing lands in a (not sent) outcome, so those outcomes add
   * up to "calls that sent nothing". At 20 calls/s with 150 in flight, calls refused by the rate
   * limit make way for others so fast that some get a permit whose wait ends just as their 5 s
   * deadline does: those ran out of time before their first attempt and read "deadline
   * exceeded", among the calls that had sent one, so the two lines differed. (The exit status
   * is theServerAgreesWithTheClientWhenDeadlinesCutAttemptsEarly's concern.)
   */
  @Test
  void theOutcomesNotSentAddUpToTheCallsThatSentNothing() throws Exception {
    Run r = demo("--calls", "5000", "--rate", "20", "--concurrency", "150");
    Matcher nothing = Pattern.compile("calls that sent nothing\\s+(\\d+)").matcher(r.out());
    assertTrue(nothing.find(), r.out());
    Matcher notSent = Pattern.compile("\\n  [^\\n]+ \\(not sent\\)\\s+(\\d+) ").matcher(r.out());
    long sum = 0;
    while (notSent.find()) {
      sum += Long.parseLong(notSent.group(1));
    }
    assertEquals(Long.parseLong(nothing.group(1)), sum, r.out());
  }

  /**
   * "the line requests N (client counted N attempts: they agree) is the check that every attempt
   * was accounted for": an attempt the deadline cut before its request was written never reached
   * the server, and is named and left out. At 20 calls/s with 150 in flight, some calls get
   * their permit with a few microseconds of their deadline left; the cut closed the attempt
   * while it connected, and the client's count ran ahead of the server's: MISMATCH, exit
   * status 1.
   */
  @Test
  void theServerAgreesWithTheClientWhenDeadlinesCutAttemptsEarly() throws Exception {
    // The library's DEBUG line for each request it sends again within its attempt, on standard
    // error: the count the demo's own line can only bound by the server's resets.
    Path config = classes.resolve("logback-resends.xml");
    Files.writeString(config, """
        <configuration>
          <appender name="ERR" class="ch.qos.logback.core.ConsoleAppender">
            <target>System.err</target>
            <encoder><pattern>%level %logger - %msg%n</pattern></encoder>
          </appender>
          <logger name="dev.outrigger.internal.http.IdleConnectionCheck" level="DEBUG"/>
          <root level="WARN"><appender-ref ref="ERR"/></root>
        </configuration>
        """);
    Run r = demo(config, "--calls", "5000", "--rate", "20", "--concurrency", "150");
    assertEquals(0, r.status(), r.out() + r.err());
    Matcher m = Pattern.compile("requests\\s+(\\d+) \\(client counted (\\d+) attempts"
        + "(?:, (\\d+) of them cut before their request was written)?"
        + "(?:, (\\d+) cut by their deadline as they went out, which the server may not have "
        + "read)?(?:, (\\d+) more sent again within their attempt after a reset)?: they agree\\)")
        .matcher(r.out());
    assertTrue(m.find(), r.out());
    long unwritten = m.group(3) == null ? 0 : Long.parseLong(m.group(3));
    long maybe = m.group(4) == null ? 0 : Long.parseLong(m.group(4));
    long again = m.group(5) == null ? 0 : Long.parseLong(m.group(5));
    long most = Long.parseLong(m.group(2)) - unwritten;
    long seen = Long.parseLong(m.group(1));
    // A cut as the request went out can close the connection before the server reads it.
    assertTrue(seen >= most - maybe, m.group());
    // A request whose pooled connection the server reset unanswered goes again within its
    // attempt, once at most: never more of those than resets. The demo names the requests the
    // server saw beyond the attempts so; each must be one the client sent again, and said so.
    assertEquals(Math.max(0, seen - most), again, m.group());
    Matcher resets = Pattern.compile("reset, no answer: (\\d+)").matcher(r.out());
    assertTrue(resets.find(), r.out());
    assertTrue(again <= Long.parseLong(resets.group(1)), r.out());
    long resent = r.err().lines().filter(l -> l.contains("written already, again")).count();
    assertTrue(again <= resent, again + " more requests at the server, " + resent
        + " sent again by the client:\n" + r.out() + r.err());
  }

  /**
   * "A progress line runs while it works": on a terminal it is one line redrawn in place, and
   * the breaker's log lines (slf4j, on standard error, as the demo profile's slf4j-simple
   * writes them) do not break it. The demo runs on a pseudo-terminal (util-linux script), with
   * logback writing the library's INFO lines to standard error. A log line was written after the
   * bar's text, on its line: "[#####....] 266/1000  failed 0  51 calls/s  5.2 s[outrigger-fanout-243]
   * INFO ... circuit breaker ...: CLOSED -> OPEN".
   */
  @Test
  void logLinesDoNotBreakTheProgressBarOnATerminal() throws Exception {
    Path script = Path.of("/usr/bin/script");
    assumeTrue(Files.isExecutable(script), "needs util-linux script for a pseudo-terminal");
    Path config = classes.resolve("logback-stderr.xml");
    Files.writeString(config, """
        <configuration>
          <appender name="ERR" class="ch.qos.logback.core.ConsoleAppender">
            <target>System.err</target>
            <encoder><pattern>[%thread] %level %logger - %msg%n</pattern></encoder>
          </appender>
          <logger name="dev.outrigger" level="INFO"/>
          <root level="WARN"><appender-ref ref="ERR"/></root>
        </configuration>
        """);
    String cp = Stream.concat(Stream.of(classes.toString()), JavaProcess.testClassPath().stream()
            .filter(e -> !e.endsWith("test-classes")))
        .collect(Collectors.joining(File.pathSeparator));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cmd = Stream.of(java, "-Dlogback.configurationFile=" + config, "-cp", cp,
            "dev.outrigger.demo.Demo", "--calls", "1000")
        .map(a -> "'" + a.replace("'", "'\\''") + "'")
        .collect(Collectors.joining(" "));
    Path out = Files.createTempFile(classes, "tty", ".txt");
    ProcessBuilder pb = new ProcessBuilder(script.toString(), "-qefc", cmd, "/dev/null")
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(out.toFile()).redirectErrorStream(true);
    // The demo draws a plain line every 2 s instead when it sees CI set.
    pb.environment().remove("CI");
    Process p = pb.start();
    try {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the demo did not end");
      String screen = String.join("\n", screen(Files.readString(out, StandardCharsets.UTF_8)));
      assertEquals(0, p.exitValue(), screen);
      List<String> logLines = screen.lines().filter(l -> l.contains("circuit breaker")).toList();
      assertFalse(logLines.isEmpty(), "no breaker transition logged in\n" + screen);
      for (String l : logLines) {
        assertFalse(l.contains("calls/s"), "the bar and a log line on one line:\n" + l);
      }
      assertTrue(screen.lines().anyMatch(l -> l.matches("\\[#{30}\\] 1000/1000 .*calls/s.*")),
          "the finished bar on a line of its own in\n" + screen);
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      JavaProcess.kill(p);
    }
  }

  /**
   * "A progress line runs while it works: on a terminal, one line redrawn in place", through
   * README's own command. exec:exec piped the demo's output through Maven, so the demo never saw
   * a terminal there and printed a plain line every 2 s.
   */
  @Test
  void theReadmeCommandDrawsTheBarInPlaceOnATerminal() throws Exception {
    Run r = readmeCommand("--calls 30", true);
    assertEquals(0, r.status(), r.out());
    assertTrue(r.out().contains("== Summary (Outrigger)"), r.out());
    // Drawn in place: a carriage return, then the bar, where a plain line ends with a newline.
    assertTrue(Pattern.compile("\\r\\[[#.]{30}\\] ").matcher(r.out()).find(),
        "the bar printed as plain lines:\n" + r.out());
  }

  /**
   * "Maven splits demo.args at spaces as a shell would, quotes grouping, so a value with a space
   * in it is quoted inside": a --url whose path has a space, through README's own command. The
   * pom passed demo.args as one argument, which the demo split at every space, quotes and all:
   * "--url", "'http://127.0.0.1:port/a", "b'", refused as a bad URL.
   */
  @Test
  void aQuotedValueInDemoArgsKeepsItsSpace() throws Exception {
    ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
    HttpServer server = recordingServer(seen);
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/a b";
      Run r = readmeCommand("--url '" + url + "' --calls 2", false);
      assertEquals(0, r.status(), r.out());
      assertEquals(List.of("/a%20b", "/a%20b"), List.copyOf(seen), r.out());
    } finally {
      server.stop(0);
    }
  }

  /**
   * A flag's value that holds a space, given to the demo as one argument (as a shell passes a
   * quoted one), is one value. The demo split every argument at its spaces: "--url
   * http://host/a b" read as the URL http://host/a and the unknown flag "b", status 2.
   */
  @Test
  void anArgumentWithASpaceIsOneValue() throws Exception {
    ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
    HttpServer server = recordingServer(seen);
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/a b";
      Run r = demo("--url", url, "--calls", "1");
      assertEquals(0, r.status(), r.out() + r.err());
      assertEquals(List.of("/a%20b"), List.copyOf(seen));
    } finally {
      server.stop(0);
    }
  }

  /**
   * docs/benchmarks.md: "The profile has Maven split exec.appArgs into words as a shell would,
   * as the demo's demo.args", so a quoted value keeps its space. The bench profile passed
   * exec.appArgs as one argument, which each bench program split at every space itself: a
   * quoted value (a JMH {@code -jvmArgsAppend '-Xmx1g -Xms1g'}) came apart. Run here with the
   * demo as the main class, which says what it got.
   */
  @Test
  void theBenchProfileSplitsAppArgsAsTheDemoProfileSplitsDemoArgs() throws Exception {
    String docs = Files.readString(Path.of("docs/benchmarks.md"), StandardCharsets.UTF_8)
        .replaceAll("\\s+", " ");
    assertTrue(docs.contains("The profile has Maven split `exec.appArgs` into words as a shell "
        + "would, as the demo's `demo.args`"), "the docs sentence this test checks");
    ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
    HttpServer server = recordingServer(seen);
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/a b";
      // Skipped offline without the bench profile's dependencies, which .ci/run never fetches.
      Run r = maven(false, false, "-Pbench", "-Dexec.mainClass=dev.outrigger.demo.Demo",
          "-Dexec.appArgs=--url '" + url + "' --calls 2");
      assertEquals(0, r.status(), r.out());
      assertEquals(List.of("/a%20b", "/a%20b"), List.copyOf(seen), r.out());
    } finally {
      server.stop(0);
    }
  }

  /**
   * README's command, {@code mvn -q -Pdemo compile exec:exec -Ddemo.args=...}, with
   * {@code demoArgs}; on a pseudo-terminal (util-linux script) when {@code onATerminal}.
   */
  private static Run readmeCommand(String demoArgs, boolean onATerminal) throws Exception {
    return maven(onATerminal, true, "-Pdemo", "-Ddemo.args=" + demoArgs);
  }

  /**
   * {@code mvn -o -q -B validate exec:exec} with {@code options} (a profile, properties); on a
   * pseudo-terminal (util-linux script) when {@code onATerminal}. Its output is both streams
   * together. Maven runs offline, on a copy of the pom whose target/classes holds the library
   * and the demo compiled above (the project's own target/classes is not touched while the
   * tests run); validate selects the JDK 21+ as compile does. Skipped without mvn (or script),
   * or when the profile's plugins or dependencies are not in the local repository, unless
   * {@code required} and OUTRIGGER_REQUIRE_DEMO_TTY=1.
   */
  private static Run maven(boolean onATerminal, boolean required, String... options)
      throws Exception {
    Path script = Path.of("/usr/bin/script");
    assumeTrue(!onATerminal || Files.isExecutable(script),
        "needs util-linux script for a pseudo-terminal");
    Path mvn = Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
        .filter(d -> !d.isEmpty()).map(d -> Path.of(d, "mvn")).filter(Files::isExecutable)
        .findFirst().orElse(null);
    assumeTrue(mvn != null, "needs mvn on the PATH");
    Path project = Files.createTempDirectory(classes, "project");
    Files.copy(Path.of("pom.xml"), project.resolve("pom.xml"));
    Path target = project.resolve("target").resolve("classes");
    Path main = JavaProcess.testClassPath().stream().map(Path::of)
        .filter(e -> e.endsWith(Path.of("target", "classes"))).findFirst().orElseThrow();
    for (Path tree : List.of(main, classes)) {
      try (Stream<Path> files = Files.walk(tree)) {
        for (Path f : files.filter(f -> f.toString().endsWith(".class")).toList()) {
          Path to = target.resolve(tree.relativize(f).toString());
          Files.createDirectories(to.getParent());
          Files.copy(f, to);
        }
      }
    }
    List<String> cmd = new ArrayList<>(List.of(mvn.toString(), "-o", "-q", "-B", "validate",
        "exec:exec"));
    cmd.addAll(List.of(options));
    Path out = Files.createTempFile(classes, "mvn", ".txt");
    ProcessBuilder pb = new ProcessBuilder(!onATerminal ? cmd : List.of(script.toString(),
            "-qefc", cmd.stream().map(a -> "'" + a.replace("'", "'\\''") + "'")
                .collect(Collectors.joining(" ")), "/dev/null"))
        .directory(project.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(out.toFile()).redirectErrorStream(true);
    // The demo draws a plain line every 2 s instead when it sees CI set.
    pb.environment().remove("CI");
    Process p = pb.start();
    try {
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "maven and the demo did not end");
      String output = Files.readString(out, StandardCharsets.UTF_8);
      // A local repository without the demo's plugins cannot run offline: nothing to judge
      // here, but for CI, whose .ci/run fetched them first and asks for this test to run.
      boolean missing = p.exitValue() != 0 && (output.contains("offline")
          || output.contains("No plugin found for prefix"));
      if (missing && required && "1".equals(System.getenv("OUTRIGGER_REQUIRE_DEMO_TTY"))) {
        fail("OUTRIGGER_REQUIRE_DEMO_TTY=1, but the demo's plugins are not in the local"
            + " repository (run `mvn -Pdemo compile exec:exec` once online):\n" + output);
      }
      assumeTrue(!missing, output);
      return new Run(p.exitValue(), output, "");
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      JavaProcess.kill(p);
    }
  }

  /**
   * The lines a terminal shows for {@code typescript}: a carriage return goes back to the start
   * of the line, where the next characters overwrite what was there.
   */
  private static List<String> screen(String typescript) {
    List<String> lines = new ArrayList<>();
    StringBuilder line = new StringBuilder();
    int col = 0;
    for (char c : typescript.toCharArray()) {
      if (c == '\r') {
        col = 0;
      } else if (c == '\n') {
        lines.add(line.toString().stripTrailing());
        line.setLength(0);
        col = 0;
      } else {
        if (col < line.length()) {
          line.setCharAt(col, c);
        } else {
          line.append(c);
        }
        col++;
      }
    }
    lines.add(line.toString().stripTrailing());
    return lines;
  }
}
