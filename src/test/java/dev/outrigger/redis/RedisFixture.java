package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real {@code redis-server} on a free loopback port for the tests of one class, started from
 * the binary on the PATH ({@code OUTRIGGER_REDIS_SERVER} names another) and stopped after them.
 * Without the binary the class's tests are
 * skipped with a message saying how to get it, unless {@code OUTRIGGER_REQUIRE_REDIS=1} is set
 * (as in CI), in which case they fail.
 *
 * {@snippet :
 * @RegisterExtension
 * static final RedisFixture redis = new RedisFixture();
 * }
 *
 * <p>{@link #withUnixSocket()} also listens on a Unix socket in a temporary directory;
 * {@link #sentinelOf} runs a Sentinel monitoring another fixture's server, and
 * {@link #replicaOf} a replica of it (register them after that one, with {@code @Order});
 * {@link #undemotable()} is a master that Sentinel cannot turn into a replica.
 */
public final class RedisFixture implements BeforeAllCallback, AfterAllCallback {
  /**
   * The connectTimeout (and question timeout) of a store whose test needs Redis to answer, not
   * about timeouts: on a loaded 2-core machine the JVM's first store (Lettuce and netty loaded)
   * can take over the default second to connect and run its script, and would start on its
   * fallback; a question can take over the default 10 ms, and be answered by the fallback.
   */
  public static final Duration GENEROUS_TIMEOUT = Duration.ofSeconds(10);
  private static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

  private final boolean unixSocket;
  /** The server a Sentinel monitors (Sentinels only). */
  private final RedisFixture master;
  private final String masterId;
  /** The server this one replicates (replicas only). */
  private final RedisFixture primary;
  private final List<String> serverArgs;
  private Path binary;
  private int port;
  private Path dir;
  private Process process;

  /** A server on a free loopback port. */
  public RedisFixture() {
    this(false, null, null, null, List.of());
  }

  private RedisFixture(boolean unixSocket, RedisFixture master, String masterId,
      RedisFixture primary, List<String> serverArgs) {
    this.unixSocket = unixSocket;
    this.master = master;
    this.masterId = masterId;
    this.primary = primary;
    this.serverArgs = serverArgs;
  }

  /** A server on a free loopback port that also listens on {@link #socket()}. */
  public static RedisFixture withUnixSocket() {
    return new RedisFixture(true, null, null, null, List.of());
  }

  /**
   * A Sentinel on a free loopback port monitoring {@code master}'s server as {@code masterId}
   * (quorum 1, down after 2 s); it is ready once it names that server as the master.
   */
  public static RedisFixture sentinelOf(RedisFixture master, String masterId) {
    return new RedisFixture(false, master, masterId, null, List.of());
  }

  /** A replica of {@code primary}'s server; it is ready once its link to it is up. */
  public static RedisFixture replicaOf(RedisFixture primary) {
    return new RedisFixture(false, null, null, primary, List.of());
  }

  /**
   * A replica of {@code primary}'s server that a Sentinel cannot reconfigure ({@code SLAVEOF},
   * the command Sentinel sends, renamed away); {@code REPLICAOF} still promotes it by hand.
   */
  public static RedisFixture replicaSentinelCannotMove(RedisFixture primary) {
    return new RedisFixture(false, null, null, primary,
        List.of("--rename-command", "SLAVEOF", ""));
  }

  /**
   * A server whose {@code REPLICAOF} and {@code SLAVEOF} are renamed away: after a failover it
   * stays a master taking writes, as one Sentinel cannot reach to demote (a partition), and
   * Sentinel's demotion, which would also close its clients' connections, fails.
   */
  public static RedisFixture undemotable() {
    return new RedisFixture(false, null, null, null, List.of(
        "--rename-command", "REPLICAOF", "", "--rename-command", "SLAVEOF", ""));
  }

  /**
   * The {@code redis-server} binary: {@code $OUTRIGGER_REDIS_SERVER} when set, else the one on
   * the PATH (or in the usual places), if any.
   */
  public static Optional<Path> findBinary() {
    String given = System.getenv("OUTRIGGER_REDIS_SERVER");
    if (given != null && !given.isBlank()) {
      Path p = Path.of(given);
      return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
    }
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir : (path + File.pathSeparator + "/usr/bin:/usr/local/bin:/usr/sbin")
        .split(File.pathSeparator)) {
      if (dir.isEmpty()) {
        continue;
      }
      Path p = Path.of(dir, "redis-server");
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    Optional<Path> found = findBinary();
    if (found.isEmpty()) {
      String why = "no redis-server binary on the PATH: install Redis (Debian: apt-get install "
          + "redis-server) to run the shared rate-limit tests";
      if ("1".equals(System.getenv("OUTRIGGER_REQUIRE_REDIS"))) {
        throw new IllegalStateException(why + " (OUTRIGGER_REQUIRE_REDIS=1 requires them)");
      }
      Assumptions.abort(why + "; skipped");
    }
    binary = found.get();
    IOException last = null;
    for (int tries = 0; tries < 3; tries++) {
      port = freePort();
      try {
        start();
        return;
      } catch (IOException e) {
        // Someone took the port between our probe and Redis's bind: try another one.
        last = e;
      }
    }
    throw last;
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    stop();
    if (dir != null) {
      try (var files = Files.list(dir)) {
        for (Path f : files.toList()) {
          Files.deleteIfExists(f);
        }
      }
      Files.deleteIfExists(dir);
    }
  }

  /**
   * Checks that a store whose first connection's handshake is never answered (a socket that
   * accepts and stays silent, as a hung Redis or Sentinel) gives it up after its connectTimeout
   * (300 ms here) and connects again within {@code within}: {@code uriOf} makes the store's URI
   * from the silent socket's port. {@code atStart} is how many connections the store opens as it
   * is built (a store through Sentinel opens two: its lookup, and its subscription to Sentinel's
   * events, whose handshake is bounded the same way); one more must follow.
   */
  static void assertGivesUpASilentHandshake(java.util.function.IntFunction<String> uriOf,
      Duration within, int atStart) throws Exception {
    try (SilentServer silent = new SilentServer();
        RedisRateLimitStore store = RedisRateLimitStore.builder(uriOf.apply(silent.port()))
            .timeout(Duration.ofMillis(20)).probeInterval(Duration.ofMillis(50))
            .connectTimeout(Duration.ofMillis(300)).build()) {
      // Lettuce gives a handshake the URI's timeout (60 s unless the store sets it): until
      // the first connect fails, every call waits for it and none connects again.
      long end = System.nanoTime() + within.toNanos();
      RateLimit limit = RateLimit.perSecond(1000).burst(1000);
      while (silent.accepted() <= atStart && System.nanoTime() - end < 0) {
        store.reserve("k", limit, 1, 0);
        TimeUnit.MILLISECONDS.sleep(10);
      }
      assertEquals(atStart + 1, Math.min(atStart + 1, silent.accepted()), "connections tried "
          + "within " + within + " (connectTimeout 300 ms) when the first handshake is never "
          + "answered");
    }
  }

  /**
   * Checks that {@code via} (a store reaching this Redis another way: a socket, a Sentinel)
   * shares its buckets with {@code direct} (one reaching it by TCP): two permits of a burst of
   * two through {@code via}, answered by Redis, the bucket's key in this Redis, and none left for
   * {@code direct}.
   */
  public void assertSharesBuckets(RedisRateLimitStore via, RedisRateLimitStore direct,
      String how) throws Exception {
    command("FLUSHALL");
    // A permit a minute: no slow step between the calls lets one refill.
    RateLimit limit = RateLimit.per(1, Duration.ofMinutes(1)).burst(2);
    assertEquals(0, via.reserve("k", limit, 1, 0),
        "first permit " + how);
    assertEquals(0, via.reserve("k", limit, 1, 0),
        "second permit " + how);
    assertFalse(via.degraded(), "answered by Redis " + how);
    assertEquals(":1", command("EXISTS " + via.redisKey("k")),
        "the bucket's key in this Redis");
    assertTrue(direct.reserve("k", limit, 1, 0) < 0,
        "a permit beyond the shared burst, reaching the same Redis by TCP");
  }

  /** The Unix socket the server listens on ({@link #withUnixSocket()} only). */
  public Path socket() {
    if (!unixSocket) {
      throw new IllegalStateException("this fixture has no Unix socket: use withUnixSocket()");
    }
    return dir.resolve("redis.sock");
  }

  /**
   * {@code redis-sentinel://} through {@code sentinels} (on the loopback, in that order) to the
   * master they monitor as {@code mymaster}, with {@code clientName}, which marks the store's
   * connections in {@code CLIENT LIST}.
   */
  public static String sentinelUri(String clientName, RedisFixture... sentinels) {
    StringBuilder sb = new StringBuilder("redis-sentinel://");
    for (int i = 0; i < sentinels.length; i++) {
      sb.append(i == 0 ? "" : ",").append("127.0.0.1:").append(sentinels[i].port());
    }
    return sb.append("?clientName=").append(clientName).append("#mymaster").toString();
  }

  public int port() {
    return port;
  }

  /** {@code redis://127.0.0.1:port}. */
  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /** Starts the server (again, on the same port) and waits until it answers PING. */
  public void start() throws IOException, InterruptedException {
    if (process != null && process.isAlive()) {
      return;
    }
    Path log = Path.of("target", "redis-" + port + ".log");
    Files.createDirectories(log.getParent());
    if (dir == null) {
      // Its files (a replica's copy of its master's data, a socket, Sentinel's configuration)
      // stay out of the working directory. Short: a Unix socket's path holds at most 107 bytes.
      dir = Files.createTempDirectory(Path.of("/tmp"), "outrigger-redis");
    }
    List<String> args = new ArrayList<>(List.of(binary.toString()));
    if (master != null) {
      // Sentinel rewrites its configuration file, so it gets a fresh one it may write.
      Path conf = dir.resolve("sentinel.conf");
      Files.writeString(conf, "port " + port + "\nbind 127.0.0.1\ndir " + dir + "\n"
          + "sentinel monitor " + masterId + " 127.0.0.1 " + master.port() + " 1\n"
          + "sentinel down-after-milliseconds " + masterId + " 2000\n");
      args.addAll(List.of(conf.toString(), "--sentinel"));
    } else {
      // A replica's first sync starts at once, not after the 5 s a master waits by default
      // for more replicas to share it.
      args.addAll(List.of("--bind", "127.0.0.1", "--port", Integer.toString(port), "--save", "",
          "--appendonly", "no", "--dir", dir.toString(), "--repl-diskless-sync-delay", "0"));
      if (unixSocket) {
        args.addAll(List.of("--unixsocket", socket().toString(), "--unixsocketperm", "700"));
      }
      if (primary != null) {
        args.addAll(List.of("--replicaof", "127.0.0.1", Integer.toString(primary.port())));
      }
      args.addAll(serverArgs);
    }
    process = new ProcessBuilder(args)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .start();
    long end = System.nanoTime() + START_TIMEOUT_NANOS;
    while (System.nanoTime() - end < 0) {
      if (!process.isAlive()) {
        throw new IOException("redis-server exited with " + process.exitValue()
            + " while starting on port " + port + "; see " + log);
      }
      try {
        if (command("PING").startsWith("+PONG") && (master == null
            || command("SENTINEL get-master-addr-by-name " + masterId)
                .endsWith("\n" + master.port()))
            && (primary == null
            || command("INFO replication").contains("master_link_status:up"))) {
          return;
        }
      } catch (IOException notYet) {
        // Not listening yet.
      }
      TimeUnit.MILLISECONDS.sleep(20);
    }
    process.destroyForcibly();
    throw new IOException("redis-server did not answer PING on port " + port + " within 10 s"
        + (master == null ? "" : " (or did not name its master)")
        + (primary == null ? "" : " (or did not link to its master)"));
  }

  /** Stops the server and waits until it has exited. */
  public void stop() throws InterruptedException {
    if (process == null) {
      return;
    }
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
    process = null;
  }

  /** How many client connections named {@code name} this server has. */
  public int clientsNamed(String name) throws IOException {
    int n = 0;
    for (String line : command("CLIENT LIST").split("\n")) {
      if (line.contains(" name=" + name + " ")) {
        n++;
      }
    }
    return n;
  }

  /**
   * How many client connections named {@code name} are subscribed to a channel of this server
   * (a Sentinel's events).
   */
  public int subscribers(String name) throws IOException {
    int n = 0;
    for (String line : command("CLIENT LIST").split("\n")) {
      if (line.contains(" name=" + name + " ") && !line.contains(" sub=0 ")) {
        n++;
      }
    }
    return n;
  }

  /**
   * Waits until a connection named {@code name} is subscribed on this Sentinel and has sent a
   * {@code PING} on it: a Sentinel watch's subscription, whose answer on subscribing the watch
   * has handled by then (it pings only afterwards).
   */
  public void awaitSubscribedAndPinged(String name, Duration within) throws Exception {
    await("the subscription of '" + name + "' on Sentinel " + port() + ", checked with a PING",
        within, () -> command("CLIENT LIST").lines().anyMatch(l ->
            l.contains(" name=" + name + " ") && !l.contains(" sub=0 ")
                && l.contains(" cmd=ping ")));
  }

  /** What {@link #await} waits for; it may throw, which fails the wait at once. */
  @FunctionalInterface
  public interface Condition {
    boolean holds() throws Exception;
  }

  /**
   * Waits until {@code condition} holds, checking every 20 ms, and fails saying {@code what}
   * did not happen when it does not within {@code within}.
   */
  public static void await(String what, Duration within, Condition condition) throws Exception {
    long end = System.nanoTime() + within.toNanos();
    while (!condition.holds()) {
      if (System.nanoTime() - end > 0) {
        throw new AssertionError("not within " + within.toSeconds() + " s: " + what);
      }
      TimeUnit.MILLISECONDS.sleep(20);
    }
  }

  /**
   * Sends one command (words separated by spaces, no quoting) and returns the raw reply's first
   * line, for example {@code +OK} or {@code :1}; bulk replies return their content, arrays their
   * items one a line (nested arrays' items too).
   */
  public String command(String command) throws IOException {
    return flat(reply(command));
  }

  private static String flat(Object reply) {
    if (reply instanceof List<?> items) {
      StringBuilder all = new StringBuilder();
      for (Object item : items) {
        all.append(all.isEmpty() ? "" : "\n").append(flat(item));
      }
      return all.toString();
    }
    return (String) reply;
  }

  /**
   * Sends one command and returns its reply: a {@code List} for an array, else a
   * {@code String} as {@link #command} gives it (an array's bulk items stripped).
   */
  public Object reply(String command) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
      s.setSoTimeout(5000);
      String[] words = command.split(" ");
      StringBuilder req = new StringBuilder("*").append(words.length).append("\r\n");
      for (String w : words) {
        req.append('$').append(w.getBytes(StandardCharsets.UTF_8).length).append("\r\n")
            .append(w).append("\r\n");
      }
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = s.getInputStream();
      String first = line(in);
      if (first.startsWith("$") && !first.equals("$-1")) {
        return new String(in.readNBytes(Integer.parseInt(first.substring(1))),
            StandardCharsets.UTF_8);
      }
      return first.startsWith("*") ? items(in, first) : first;
    }
  }

  private static List<Object> items(InputStream in, String head) throws IOException {
    int n = Integer.parseInt(head.substring(1));
    List<Object> items = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String h = line(in);
      items.add(h.startsWith("*") ? items(in, h)
          : h.startsWith("$") && !h.equals("$-1")
              ? new String(in.readNBytes(Integer.parseInt(h.substring(1)) + 2),
                  StandardCharsets.UTF_8).strip()
              : h);
    }
    return items;
  }

  /**
   * How many times this server's ACL refused {@code command} (its {@code ACL LOG}, whose
   * entries count the refusals alike; {@code ACL LOG RESET} starts again).
   */
  public long refusals(String command) throws IOException {
    long n = 0;
    for (Object entry : (List<?>) reply("ACL LOG")) {
      List<?> fields = (List<?>) entry;
      Map<Object, Object> f = new HashMap<>();
      for (int i = 0; i + 1 < fields.size(); i += 2) {
        f.put(fields.get(i), fields.get(i + 1));
      }
      if ("command".equals(f.get("reason"))
          && command.equalsIgnoreCase((String) f.get("object"))) {
        n += Long.parseLong(((String) f.get("count")).substring(1));
      }
    }
    return n;
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int c = in.read(); c != -1; c = in.read()) {
      if (c == '\r') {
        in.read();
        break;
      }
      sb.append((char) c);
    }
    return sb.toString();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
