package dev.outrigger.redis;

import dev.outrigger.internal.Redactor;
import io.lettuce.core.RedisURI;
import io.lettuce.core.resource.Transports;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.StringTokenizer;
import java.util.regex.Pattern;

/**
 * Reads the URI given to {@link RedisRateLimitStore#builder(String)}, refusing at once what
 * Lettuce would read as something else: Lettuce takes {@code redis://host:notaport} as the host
 * {@code host:notaport}, {@code redis://:6379} as the host {@code :6379}, ignores a database
 * given as {@code ?database=x}, and reads a password holding {@code ?} or {@code #} as part of
 * the host. It also refuses a fragment without Sentinel and query parameters Lettuce would
 * ignore without a word (an unknown name such as {@code ?databse=1}, a name with no value,
 * {@code sentinelMasterId} without Sentinel, {@code verifyPeer} without TLS), two databases
 * that disagree (Lettuce reads the path's, then each parameter's over it:
 * {@code redis://host/1?db=2} is database 2), two Sentinel masters that disagree (the
 * parameter's wins over the {@code #}), a socket path Lettuce would read otherwise (a password
 * holding {@code /}) and {@code timeout}, which the store sets itself. Every message names what
 * to change and shows the URI without its user info.
 */
final class RedisUris {
  /** Schemes naming one Redis server by host and port. */
  private static final Set<String> HOST_SCHEMES = Set.of("redis", "rediss", "redis+ssl",
      "redis+tls");
  /**
   * Every scheme Lettuce reads: the above, a Unix socket ({@code redis-socket://path}, which
   * needs netty's native transport), and a master found through Sentinel
   * ({@code redis-sentinel://host:26379,host2:26379#mymaster}, {@code rediss-sentinel} for TLS).
   */
  private static final Set<String> SCHEMES = Set.of("redis", "rediss", "redis+ssl", "redis+tls",
      "redis-socket", "redis+socket", "redis-sentinel", "rediss-sentinel");
  /** Schemes Lettuce talks TLS with, where {@code verifyPeer} applies. */
  private static final Set<String> TLS_SCHEMES = Set.of("rediss", "redis+ssl", "redis+tls",
      "rediss-sentinel");
  /**
   * Every query parameter Lettuce reads (by its lower-case name), with the name to show; Lettuce
   * ignores any other. {@code timeout} is read by Lettuce but refused: the store sets it.
   */
  private static final Map<String, String> PARAMS = Map.of("database", "database",
      "db", "database", "timeout", "timeout", "clientname", "clientName",
      "libraryname", "libraryName", "libraryversion", "libraryVersion",
      "verifypeer", "verifyPeer", "sentinelmasterid", "sentinelMasterId");
  private static final String READ = "database (or db), clientName, libraryName, "
      + "libraryVersion, verifyPeer (TLS only) and sentinelMasterId (Sentinel only), each as "
      + "name=value; the store sets the timeouts itself";
  private static final Pattern HOST = Pattern.compile(
      "[A-Za-z0-9_][A-Za-z0-9._-]*|\\[[0-9A-Fa-f:.]+]");
  private static final Pattern DIGITS = Pattern.compile("[0-9]{1,10}");
  /** What separates a query's parameters, for the parser and Lettuce alike. */
  private static final Pattern PARAM_SEPARATOR = Pattern.compile("[&;]");
  private static final String EXAMPLE = "redis://host:6379/0";
  private static final String ENCODE = "percent-encode any '/', '?', '#' or '@' in the user "
      + "name or password (as %2F, %3F, %23, %40)";

  private RedisUris() {}

  /**
   * The Lettuce URI of {@code text}.
   *
   * @throws IllegalArgumentException naming what to change, when {@code text} is blank, has no
   *     or an unknown scheme, a missing or malformed host, a port that is not 1 to 65535, a
   *     database that is not a number from 0, user info Lettuce would read as the host, a query
   *     parameter other than {@code database}, {@code db}, {@code clientName},
   *     {@code libraryName}, {@code libraryVersion}, {@code verifyPeer} (TLS only, {@code NONE},
   *     {@code CA} or {@code FULL}) and {@code sentinelMasterId} (Sentinel only), one with no
   *     value, {@code db} not in lower case, two databases that disagree (the path's and a
   *     parameter's, or two parameters'), an {@code '@'} after the {@code '#'} (a
   *     {@code '#'} in the user info, not encoded as {@code %23}), a fragment without Sentinel
   *     (Lettuce ignores it), a {@code '?'} after the {@code '#'}, or a Sentinel URI naming no
   *     master or whose user info holds a {@code ','} or {@code '@'} (one per Sentinel, or one
   *     after the first), or that names several Sentinels, one by an IPv6 address
   */
  static RedisURI parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("redisUri must not be null or blank: give one such as "
          + EXAMPLE);
    }
    String raw = text.trim();
    // Parsed without its user info (the authority's, or all up to the last '@' of text whose
    // authority is no host list: see withoutUserInfo); quoted with its query's values masked
    // too (see shown()).
    String plain = withoutUserInfo(raw);
    String shown = masked(plain);
    boolean userInfo = !plain.equals(raw);
    int sep = raw.indexOf("://");
    if (sep < 0) {
      throw bad(shown, "has no scheme: start it with redis:// (rediss:// for TLS), as in "
          + EXAMPLE);
    }
    String scheme = raw.substring(0, sep).toLowerCase(Locale.ROOT);
    if (!SCHEMES.contains(scheme)) {
      throw bad(shown, "has " + quoteScheme(raw.substring(0, sep)) + ": use redis:// (rediss:// "
          + "for TLS)");
    }
    raw = scheme + raw.substring(sep); // Lettuce reads lower-case schemes only
    int hash = raw.indexOf('#');
    if (hash >= 0 && raw.indexOf('@', hash) >= 0) {
      // Lettuce reads all after the first '#' as the fragment: a '#' in a password makes the
      // text before it the host (redis://s3cr#t@host connects to "s3cr"), or through Sentinel
      // a Sentinel, and "t@host" the master's name. No master name holds an '@'.
      throw bad(shown, "has an '@' after its '#', which Lettuce would read as part of the "
          + "fragment, and the text before the '#' as the host: percent-encode a '#' in the "
          + "user name or password as %23 (any '/', '?' or '@' in them as %2F, %3F, %40)");
    }
    if (hash >= 0 && !scheme.endsWith("sentinel")) {
      // Lettuce reads the fragment only as a Sentinel master's name, and ignores it otherwise.
      throw bad(shown, "has a fragment (the part from its '#'), which Lettuce ignores without "
          + "Sentinel: leave it out, or reach a master through Sentinel with "
          + "redis-sentinel://host:26379#mymaster");
    }
    String rest = plain.substring(plain.indexOf("://") + 3);
    int end = firstOf(rest, "/?#");
    String authority = rest.substring(0, end);
    int query = rest.indexOf('?', end);
    int fragment = rest.indexOf('#', end);
    if (fragment >= 0 && query > fragment) {
      // Lettuce reads all that follows the '#' as the fragment: a Sentinel master's name, or
      // nothing at all, while the parameters look read.
      throw bad(shown, "has a '?' after its '#': put the parameters before the '#', as in "
          + "redis-sentinel://host:26379?clientName=app#mymaster");
    }
    String path =
        rest.substring(end, query >= 0 ? query : fragment >= 0 ? fragment : rest.length());
    String params = query < 0 ? ""
        : rest.substring(query + 1, fragment > query ? fragment : rest.length());

    if (scheme.endsWith("sentinel") && userInfoSplitsSentinels(raw)) {
      // Lettuce takes all up to the authority's last '@' for the one user info, and only the
      // Sentinels after it: redis-sentinel://:pw@h1,:pw@h2#m asks h2 alone, with the password
      // "pw@h1,:pw" (and h1,:pw@h2 makes "h1," a user name).
      throw bad(shown, "has a user name or password before more than one Sentinel, or a ',' "
          + "or '@' in one: Lettuce reads a single user info, all up to the last '@', and only "
          + "the Sentinels after it. Give it once, before the first Sentinel, as in "
          + "redis-sentinel://:password@host1:26379,host2:26379#mymaster, with any ',' or '@' "
          + "in it percent-encoded (%2C, %40); it is the master's password (Lettuce asks the "
          + "Sentinels without one)");
    }
    if (scheme.contains("socket") && !authority.isEmpty()) {
      // Lettuce takes the socket's path from the first '/' after the authority: it reads
      // redis-socket://var/run/redis.sock as /run/redis.sock.
      throw bad(shown, "has '" + authority + "' before the socket's path, which Lettuce would "
          + "not read as part of it: give the absolute path after three slashes, as in "
          + "redis-socket:///var/run/redis.sock");
    }
    String host = null;
    int port = RedisURI.DEFAULT_REDIS_PORT;
    // The Sentinels as the text names them once its user info is set aside, as host:port.
    java.util.List<String> sentinels = new java.util.ArrayList<>();
    Integer database = null;
    // Where the database was given (the path's /1, db=1), and a second one that disagrees:
    // refused once every parameter is checked, so that a bad one is named first.
    String databaseFrom = null;
    String twoDatabases = null;
    if (HOST_SCHEMES.contains(scheme)) {
      int colon = portColon(authority);
      host = colon < 0 ? authority : authority.substring(0, colon);
      checkHost(shown, host);
      if (colon >= 0) {
        port = port(shown, authority.substring(colon + 1));
      }
    } else if (scheme.endsWith("sentinel")) {
      for (String sentinel : authority.split(",", -1)) {
        int colon = portColon(sentinel);
        String sentinelHost = colon < 0 ? sentinel : sentinel.substring(0, colon);
        checkHost(shown, sentinelHost);
        int sentinelPort = colon < 0 ? RedisURI.DEFAULT_SENTINEL_PORT
            : port(shown, sentinel.substring(colon + 1));
        sentinels.add(hostPort(sentinelHost, sentinelPort).toLowerCase(Locale.ROOT));
      }
      if (sentinels.size() > 1 && authority.indexOf('[') >= 0) {
        // Lettuce reads the list with java.net.URI, which refuses an IPv6 address in it: the
        // message would otherwise be URI's, or, with user info, a false hint to encode it.
        throw bad(shown, "has an IPv6 address among several Sentinels, which Lettuce cannot "
            + "read: name the Sentinels by host name (or IPv4 address), or give one Sentinel "
            + "alone, as in redis-sentinel://[::1]:26379#mymaster");
      }
    }
    if (!scheme.contains("socket") && !path.isEmpty() && !path.equals("/")) {
      database = database(shown, path.substring(1));
      databaseFrom = "the path's " + path;
    }
    // Lettuce splits the decoded query at '&' and ';' and ignores, unsaid, a name it does not
    // know or one without a value: a typo such as ?databse=1 would share database 0.
    boolean masterId = false;
    // The master named by a parameter, where, and a second name that disagrees (as databases).
    String masterName = null;
    String masterFrom = null;
    String twoMasters = null;
    StringTokenizer tokens = new StringTokenizer(decoded(params), "&;");
    while (tokens.hasMoreTokens()) {
      String param = tokens.nextToken();
      int eq = param.indexOf('=');
      String name = eq < 0 ? param : param.substring(0, eq);
      String value = eq < 0 ? "" : param.substring(eq + 1);
      String known = PARAMS.get(name.toLowerCase(Locale.ROOT));
      if (known == null) {
        throw bad(shown, "has the parameter '" + name + "', which Lettuce would ignore: the "
            + "ones read are " + READ);
      }
      if (known.equals("timeout")) {
        throw bad(shown, "has the parameter '" + name + "': the store sets Lettuce's timeouts "
            + "itself; give the wait for each answer with RedisRateLimitStore.Builder.timeout("
            + "Duration) and the wait for a connection (its handshake and a Sentinel lookup "
            + "included) with connectTimeout(Duration)");
      }
      if (value.isEmpty()) {
        throw bad(shown, "has the parameter '" + name + "' with no value, which Lettuce would "
            + "ignore: give it as " + known + "=value, or leave it out");
      }
      if (name.equalsIgnoreCase("db") && !name.equals("db")) {
        // Lettuce reads 'database' in any case, but 'db' only in lower case: DB=1 is database 0.
        throw bad(shown, "has the parameter '" + name + "', which Lettuce reads only in lower "
            + "case: write db=" + value + " or database=" + value);
      }
      if (known.equals("database")) {
        int d = database(shown, value);
        String from = name + "=" + value;
        if (database != null && database != d && twoDatabases == null) {
          // Lettuce reads the path, then each parameter over it: the last one wins unsaid.
          twoDatabases = "gives two databases, " + databaseFrom + " and " + from + ", and "
              + "Lettuce would use the last without a word: drop " + databaseFrom + " or "
              + from;
        }
        database = d;
        databaseFrom = from;
      }
      if (known.equals("sentinelMasterId") && !scheme.endsWith("sentinel")) {
        throw bad(shown, "has the parameter '" + name + "', which means nothing without "
            + "Sentinel: leave it out, or reach the master through Sentinel with "
            + "redis-sentinel://host:26379#mymaster");
      }
      if (known.equals("sentinelMasterId")) {
        String from = name + "=" + value;
        if (masterFrom != null && !masterName.equals(value) && twoMasters == null) {
          // As two databases: the last one read wins unsaid, and another master is another
          // Redis.
          twoMasters = "names two masters, " + masterFrom + " and " + from + ", and Lettuce "
              + "would use the last without a word: drop " + masterFrom + " or " + from;
        }
        masterName = value;
        masterFrom = from;
        masterId = true;
      }
      if (known.equals("verifyPeer")) {
        if (!TLS_SCHEMES.contains(scheme)) {
          // Lettuce ignores it without TLS: ?verifyPeer=FULL would talk in plain text.
          throw bad(shown, "has the parameter '" + name + "', which applies to TLS only, and "
              + "this URI is not TLS: use rediss:// (rediss-sentinel:// through Sentinel) for "
              + "TLS, or leave it out");
        }
        if (!Set.of("NONE", "CA", "FULL").contains(value.toUpperCase(Locale.ROOT))) {
          throw bad(shown, "has verifyPeer '" + value + "': give NONE, CA or FULL");
        }
      }
    }
    if (twoDatabases != null) {
      throw bad(shown, twoDatabases);
    }
    boolean fragmentNamesMaster = fragment >= 0 && fragment < rest.length() - 1;
    if (twoMasters == null && masterFrom != null && fragmentNamesMaster) {
      String named = decoded(rest.substring(fragment + 1));
      if (!named.equals(masterName)) {
        // Lettuce takes the parameter's name over the '#': the fragment's is dropped unsaid.
        twoMasters = "names two masters, #" + named + " and " + masterFrom + ", and Lettuce "
            + "would use " + masterFrom + " without a word: drop one of them";
      }
    }
    if (twoMasters != null) {
      throw bad(shown, twoMasters);
    }
    if (scheme.endsWith("sentinel") && !masterId && !fragmentNamesMaster) {
      throw bad(shown, "names no master for Sentinel to find: end it with the name Sentinel "
          + "monitors it under, as in redis-sentinel://host:26379#mymaster");
    }

    RedisURI uri;
    try {
      uri = RedisURI.create(raw);
    } catch (RuntimeException e) {
      // Not Lettuce's exception as the cause, nor its message when there is user info: both
      // may quote the URI, password and all.
      throw bad(shown, userInfo ? "cannot be read by Lettuce: " + ENCODE
          : "cannot be read by Lettuce (" + e.getMessage() + ")");
    }
    if (database != null && database != uri.getDatabase()) {
      // Through Sentinel or a socket there is no host to compare below.
      throw bad(shown, "is read by Lettuce as database " + uri.getDatabase() + ", not "
          + database + ": " + ENCODE);
    }
    // What Lettuce read must be what the text says once its user info is set aside: a '?', '#'
    // or '/' in a password otherwise moves the host into the user info or the password into the
    // host (and from there into log lines).
    if (host != null && !(host.equalsIgnoreCase(uri.getHost()) && port == uri.getPort()
        && (database == null || database == uri.getDatabase()))) {
      throw bad(shown, "is read by Lettuce as another host, port or database: " + ENCODE);
    }
    if (uri.getSocket() != null && !uri.getSocket().equals(path)
        && !uri.getSocket().equals(decoded(path))) {
      // redis-socket://:pw/x@/run/redis.sock: Lettuce reads no password, and the socket
      // "/x@/run/redis.sock" (which it then shows in log lines).
      throw bad(shown, "is read by Lettuce as another socket path: " + ENCODE);
    }
    if (!sentinels.isEmpty() && !sentinels.equals(uri.getSentinels().stream()
        .map(sentinel -> hostPort(sentinel.getHost(), sentinel.getPort())
            .toLowerCase(Locale.ROOT)).toList())) {
      // redis-sentinel://pw?x@s1,s2#m: Lettuce asks the Sentinel "pw" (and logs its name).
      throw bad(shown, "is read by Lettuce as other Sentinels: " + ENCODE);
    }
    return uri;
  }

  /**
   * Where a store at {@code uri} talks to, for its messages, logs and {@code toString()}: the
   * socket's path, the master's name and its Sentinels, or the host and port.
   */
  static String where(RedisURI uri) {
    if (uri.getSocket() != null) {
      return uri.getSocket();
    }
    if (!uri.getSentinels().isEmpty()) {
      StringBuilder sb = new StringBuilder("master '").append(uri.getSentinelMasterId())
          .append("' via Sentinel ");
      for (int i = 0; i < uri.getSentinels().size(); i++) {
        RedisURI sentinel = uri.getSentinels().get(i);
        sb.append(i == 0 ? "" : ", ").append(hostPort(sentinel.getHost(), sentinel.getPort()));
      }
      return sb.toString();
    }
    return hostPort(uri.getHost(), uri.getPort());
  }

  static String hostPort(String host, int port) {
    // Lettuce keeps a Sentinel's IPv6 address without its brackets.
    boolean bare6 = host.indexOf(':') >= 0 && !host.startsWith("[");
    return (bare6 ? "[" + host + "]" : host) + ":" + port;
  }

  /**
   * Refuses a Unix socket URI when Lettuce cannot open one: it needs netty's native transport
   * (epoll on Linux, kqueue on macOS), an optional dependency of Lettuce, and otherwise fails
   * only once the store connects.
   *
   * @throws IllegalArgumentException naming the dependency to add, when {@code uri} is a socket
   *     and no native transport is on the class path
   */
  static void requireSocketTransport(String text, RedisURI uri) {
    if (uri.getSocket() != null && !Transports.NativeTransports.isDomainSocketSupported()) {
      throw bad(shown(text.trim()), "names a Unix socket, which Lettuce "
          + "reaches only through netty's native transport: add io.netty:"
          + "netty-transport-native-epoll with the classifier of the platform (linux-x86_64, "
          + "linux-aarch_64) on Linux, or io.netty:netty-transport-native-kqueue on macOS, in "
          + "the version of Lettuce's netty; or reach Redis over TCP with redis://host:port");
    }
  }

  /**
   * Whether the user info of the Sentinel URI {@code raw}, as Lettuce reads it (the authority up
   * to its last {@code '@'}), holds a {@code ','} or an {@code '@'} as written: a user info per
   * Sentinel, or one after the first Sentinel, which Lettuce reads as a password holding the
   * Sentinels before it. Encoded ({@code %2C}, {@code %40}), they are read as part of the
   * password. A URI {@link URI} cannot read is left to Lettuce, which refuses it too.
   */
  private static boolean userInfoSplitsSentinels(String raw) {
    try {
      String authority = new URI(raw).getRawAuthority();
      int at = authority == null ? -1 : authority.lastIndexOf('@');
      return at > 0
          && (authority.lastIndexOf(',', at) >= 0 || authority.lastIndexOf('@', at - 1) >= 0);
    } catch (URISyntaxException e) {
      return false;
    }
  }

  /**
   * Where the port of {@code hostPort} starts (its ':'), or -1: after an IPv6 address's closing
   * bracket, and never inside an unbracketed IPv6 address (several ':'), whole a bad host.
   */
  private static int portColon(String hostPort) {
    if (hostPort.startsWith("[")) {
      int close = hostPort.indexOf(']');
      return close < 0 ? -1 : hostPort.indexOf(':', close);
    }
    int colon = hostPort.indexOf(':');
    return colon == hostPort.lastIndexOf(':') ? colon : -1;
  }

  private static void checkHost(String shown, String host) {
    if (host.isEmpty()) {
      throw bad(shown, "names no host: give one, as in " + EXAMPLE);
    }
    if (!HOST.matcher(host).matches()) {
      throw bad(shown, "has the host '" + host + "': give one host name or IP address (an IPv6 "
          + "address in brackets, as in redis://[::1]:6379)");
    }
  }

  private static int port(String shown, String port) {
    if (DIGITS.matcher(port).matches()) {
      long p = Long.parseLong(port);
      if (p >= 1 && p <= 65535) {
        return (int) p;
      }
    }
    throw bad(shown, "has the port '" + port + "': give a number from 1 to 65535 after the "
        + "host's ':', or no ':' for 6379");
  }

  private static int database(String shown, String database) {
    if (DIGITS.matcher(database).matches()) {
      long d = Long.parseLong(database);
      if (d <= Integer.MAX_VALUE) {
        return (int) d;
      }
    }
    throw bad(shown, "has the database '" + database + "': give a number from 0, as in "
        + EXAMPLE + " or ?database=0");
  }

  /**
   * The query as Lettuce reads it ({@link URI#getQuery()}: percent escapes decoded), or as
   * written when it is malformed (Lettuce then refuses the whole URI).
   */
  private static String decoded(String params) {
    if (params.isEmpty()) {
      return params;
    }
    try {
      String query = new URI("redis://h/?" + params).getQuery();
      return query == null ? "" : query;
    } catch (URISyntaxException e) {
      return params;
    }
  }

  /**
   * {@code raw} as messages may quote it: without its user info, and with the values of query
   * parameters masked unless they are ones Lettuce reads (none of which is a secret): those that
   * name secrets ({@code password}, {@code token}), and any other the builder refuses. The user
   * info is the authority's, up to its last {@code @}, when the rest of the authority reads as a
   * host and port or a list of them (Sentinels); only text that does not read so loses
   * everything up to its last {@code @} (a password may hold any character), so an {@code @} in
   * the query of a well-formed URI is kept.
   */
  static String shown(String raw) {
    return masked(withoutUserInfo(raw));
  }

  /**
   * {@code raw} without its user info, as {@link #shown} takes it out: the authority up to its
   * last {@code '@'}, when what follows is one host and port or a list of them (Sentinels), and
   * nothing when there is no authority (a socket); an {@code '@'} after the authority is then
   * the query's ({@code ?clientName=a@b}), and the parser checks every parameter. Otherwise all
   * up to the text's last {@code '@'}, since a password may hold any character
   * ({@code redis://u:pa?ss@host}).
   */
  private static String withoutUserInfo(String raw) {
    try {
      URI u = new URI(raw);
      int start = raw.indexOf("://") + 3;
      String authority = u.getRawAuthority();
      if (start >= 3 && authority != null && raw.startsWith(authority, start)
          && !atSignsInValues(raw, start + authority.length())) {
        // An '@' after what URI read as the authority that is no client name's (or library
        // name's) may end a password holding a '?', '/' or '#' (redis://my_pw?x@host, or
        // redis://user:123?x@host, which URI reads as host "user", port 123): all up to it goes.
        return Redactor.withoutUserInfo(raw);
      }
      if (u.getHost() != null) {
        return u.getRawUserInfo() == null ? raw
            : raw.replaceFirst(Pattern.quote(u.getRawUserInfo() + "@"), "");
      }
      if (start < 3) {
        return Redactor.withoutUserInfo(raw);
      }
      if (authority == null) {
        // Nothing between the '//' and the path (redis-socket:///path): no user info.
        return raw.startsWith("/", start) ? raw : Redactor.withoutUserInfo(raw);
      }
      // URI reads several hosts as no host: the user info is then the authority's alone.
      int at = authority.lastIndexOf('@');
      if (isHostList(authority.substring(at + 1)) && raw.startsWith(authority, start)) {
        return at < 0 ? raw : raw.substring(0, start) + raw.substring(start + at + 1);
      }
      return Redactor.withoutUserInfo(raw);
    } catch (URISyntaxException e) {
      return Redactor.withoutUserInfo(raw);
    }
  }

  /**
   * Whether each {@code '@'} of {@code raw} from {@code from} on (after the authority) stands
   * in the value of a parameter that may hold one: {@code clientName}, {@code libraryName} or
   * {@code libraryVersion} ({@code ?clientName=orders@pod-7}, {@code ?clientName=a/b@c}), with
   * no {@code '#'} (the fragment's start) before it in that value. Any other may be the end of a
   * password.
   */
  private static boolean atSignsInValues(String raw, int from) {
    for (int at = raw.indexOf('@', from); at >= 0; at = raw.indexOf('@', at + 1)) {
      int param = Math.max(raw.lastIndexOf('?', at), raw.lastIndexOf('&', at)) + 1;
      if (param <= from) {
        return false;
      }
      String before = raw.substring(param, at);
      int eq = before.indexOf('=');
      if (eq < 0 || !AT_PARAMETERS.contains(before.substring(0, eq).toLowerCase(Locale.ROOT))
          || before.indexOf('#') >= 0) {
        return false;
      }
    }
    return true;
  }

  /** Parameters whose value may hold an {@code '@'}: none of them is a secret. */
  private static final Set<String> AT_PARAMETERS =
      Set.of("clientname", "libraryname", "libraryversion");

  /** Whether {@code hosts} is a ','-separated list of hosts, each with an optional port. */
  private static boolean isHostList(String hosts) {
    for (String hostPort : hosts.split(",", -1)) {
      int colon = portColon(hostPort);
      String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
      if (!HOST.matcher(host).matches()
          || (colon >= 0 && !DIGITS.matcher(hostPort.substring(colon + 1)).matches())) {
        return false;
      }
    }
    return true;
  }

  /** {@code s} with its query's values masked as {@link #shown} says. */
  private static String masked(String s) {
    int q = s.indexOf('?');
    if (q < 0) {
      return s;
    }
    int hash = s.indexOf('#', q);
    String query = hash < 0 ? s.substring(q + 1) : s.substring(q + 1, hash);
    StringBuilder sb = new StringBuilder(s.length()).append(s, 0, q + 1);
    // Split at '&' and ';' as the parser (and Lettuce) do, on the text as written.
    java.util.regex.Matcher m = PARAM_SEPARATOR.matcher(query);
    int from = 0;
    while (true) {
      boolean more = m.find();
      int to = more ? m.start() : query.length();
      String p = query.substring(from, to);
      int eq = p.indexOf('=');
      String name = eq < 0 ? p : decoded(p.substring(0, eq));
      // A known name's value holding an escaped '&' or ';' hides more parameters in it.
      String lower = p.toLowerCase(Locale.ROOT);
      boolean plain = PARAMS.containsKey(name.toLowerCase(Locale.ROOT))
          && !Redactor.DEFAULTS.isSecretQuery(name)
          && !lower.contains("%26") && !lower.contains("%3b");
      sb.append(eq >= 0 && !plain ? p.substring(0, eq + 1) + Redactor.MASK : p);
      if (!more) {
        break;
      }
      sb.append(query.charAt(to));
      from = to + 1;
    }
    return sb.append(hash < 0 ? "" : s.substring(hash)).toString();
  }

  private static String quoteScheme(String scheme) {
    // Only a scheme-shaped prefix is quoted: anything else may be part of a mistyped password.
    return scheme.matches("[A-Za-z][A-Za-z0-9+.-]{0,30}") ? "the scheme '" + scheme + "'"
        : "an unknown scheme";
  }

  private static int firstOf(String s, String chars) {
    int first = s.length();
    for (char c : chars.toCharArray()) {
      int i = s.indexOf(c);
      if (i >= 0 && i < first) {
        first = i;
      }
    }
    return first;
  }

  private static IllegalArgumentException bad(String shown, String what) {
    return new IllegalArgumentException("redisUri '" + shown + "' " + what);
  }
}
