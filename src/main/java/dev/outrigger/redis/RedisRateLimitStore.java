package dev.outrigger.redis;

import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.RateLimitedException;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Transports;
import io.netty.channel.ChannelFactory;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.resolver.AddressResolver;
import io.netty.resolver.dns.DefaultDnsCache;
import io.netty.resolver.dns.DefaultDnsCnameCache;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * A {@link RateLimitStore} in Redis: every client using the same Redis (and key prefix) shares
 * each key's quota, across threads, clients and JVMs.
 *
 * {@snippet :
 * try (RedisRateLimitStore redis = RedisRateLimitStore.builder("redis://10.0.0.5:6379").build();
 *      ApiClient client = ApiClient.builder()
 *          .baseUrl("https://partner.example.com")
 *          .rateLimit(RateLimit.per(1000, Duration.ofMinutes(1)).burst(50).store(redis))
 *          .build()) {
 *   client.get("/orders").execute(String.class);
 * }
 * }
 *
 * <p><b>Semantics.</b> The same token bucket as the in-memory limiter (every bandwidth, continuous
 * refill, waits in line, server pauses), computed by one atomic Lua script per acquire on Redis's
 * own clock ({@code TIME}), so no JVM's clock matters; a step back of that clock is undone, a
 * step forward of {@code S} lets each key through up to {@code min(burst, rate * S)} more calls
 * (see the README). One round trip per permit ({@code EVALSHA}; after a Redis restart one
 * {@code EVAL} reloads the script), and one more for a call that waited, to learn whether a
 * server pause told meanwhile holds it ({@link #heldFor}), or that was refused or interrupted
 * once Redis had booked its wait, to give the permit back ({@link #giveBack}, not waited for).
 * Every JVM using the same key must configure the same limit. Keys are stored hashed
 * ({@code outrigger:ratelimit:{sha256}}), so a key that is an API token never appears in Redis;
 * a bucket's key expires once it has refilled.
 *
 * <p><b>Pre-fetching</b> ({@link Builder#prefetch(int)}, default 1 = off): when permits are
 * available now, one round trip takes up to {@code prefetch} of them and the extra ones are kept
 * in this store for at most one second. That divides the round trips by up to
 * {@code prefetch}, at a price: in any window of time {@code T}, the server can see at most
 * {@code burst + rate * T + N * (prefetch - 1)} calls, where {@code N} is the number of store
 * instances (a permit taken before the window can be used inside it). Without pre-fetching the
 * bound is the bucket's own, {@code burst + rate * T} (on the times Redis granted them; network
 * jitter between clients and server comes on top for any distributed limiter).
 *
 * <p><b>When Redis is down or slow.</b> Each question waits at most {@link Builder#timeout}
 * (default 10 ms), so a call never hangs on Redis; a call whose question fails uses the
 * fallback. A lost connection, an error, or three slow answers in a row (one is a hiccup, not an
 * outage) make Redis unavailable: the store logs one WARN and stops asking it, except for one
 * call per {@link Builder#probeInterval} (default 1 s), which reconnects when needed (the
 * connection that left unanswered the question beginning the outage, or a probe's, is closed:
 * a peer that vanished without a word leaves it open for minutes); the first
 * answer ends the outage, with an INFO log (a server pause told meanwhile is told to Redis
 * before the key's next question). The fallback, by default, is a bucket in this JVM
 * with a share of each bandwidth: {@code 1 / (stores seen using the key in the last 10 s)},
 * learnt from Redis while it worked (the whole quota when never learnt), so the replicas together
 * stay near the quota. It starts empty, since it cannot know what the others took just before:
 * an outage never begins with a burst. Keys beyond the limit's {@link RateLimit#maxKeys(int)}
 * (counted per limit: one client's keys never count against another's, sharing the store)
 * share one fallback bucket per limit, with the share of the most stores seen using any of them.
 * {@link Fallback#localShare(double)} fixes the share;
 * {@link Fallback#failFast()} refuses the calls with {@link RateLimitedException} instead.
 * An error about one key only ({@code WRONGTYPE}: another application wrote a value of another
 * type under the name of its bucket) is no outage: only that key's calls use the fallback, and
 * one WARN names the Redis key and says to change the {@link Builder#keyPrefix}.
 *
 * <p>A call whose deadline ends before Redis answers (what it has left is under the timeout) is
 * refused with {@link RateLimitedException}: it has no time left to use a permit. It makes no
 * fallback bucket (one made for it would refill until the next outage and begin it with a
 * burst), unless Redis already counts as unavailable, when the fallback answers it as any call.
 *
 * <p><b>Through Sentinel</b> ({@code redis-sentinel://}), the store also subscribes to one
 * Sentinel's {@code +switch-master} channel (on a thread of its own, moving to another Sentinel
 * when that one is lost): when the master is switched, the next questions go to the new master
 * at once, rather than to the old one until it refuses writes or drops its clients (about 10 s
 * later). A question in flight to the old master at the switch may still have been counted
 * there; see the README for the measured window.
 *
 * <p>Thread-safe. Share one store between clients; {@link #close()} it when the application
 * stops (it closes the Redis connection, the Sentinel subscription and its thread, and the
 * Lettuce resources it created). Lettuce is an optional dependency of Outrigger: add
 * {@code io.lettuce:lettuce-core} to use this class.
 */
public final class RedisRateLimitStore implements RateLimitStore, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RedisRateLimitStore.class);
  private static final long SECOND = 1_000_000_000L;
  /** How long pre-fetched permits stay usable. */
  private static final long STOCK_TTL_NANOS = SECOND;
  /** How often a store registers itself as a user of a key (for the fallback's share). */
  private static final long REGISTER_EVERY_NANOS = SECOND;
  /** Slow answers in a row that make Redis unavailable (one is a hiccup, not an outage). */
  private static final int SLOW_ANSWERS_FOR_OUTAGE = 3;
  /** Limits with an overflow fallback of their own past which idle ones are dropped. */
  private static final int MAX_OVERFLOW_LIMITS = 64;
  /** Local state of a key (or a limit's beyond the table) unused this long may be dropped. */
  private static final long IDLE_KEY_NANOS = 60 * SECOND;

  private final RedisURI uri;
  private final String where;
  private final String prefix;
  private final long timeoutNanos;
  private final long probeNanos;
  private final int prefetch;
  private final Fallback fallback;
  private final LongSupplier nanos;
  private final ClientResources resources;
  private final boolean ownResources;
  /**
   * The address resolver of the resources this store made (null with the caller's): netty's DNS
   * resolver, as Lettuce's default, but this store's own, which close() closes while the event
   * loops still run. Lettuce's default is one for the whole JVM, which closes the UDP socket it
   * opened on an event loop only once that loop has terminated, when the close can no longer run
   * there: the socket stayed open for good, after many stores' close().
   */
  private final DnsResolverGroup resolvers;
  private final ResolvingClient client;
  private final String clientId = UUID.randomUUID().toString();
  private final AtomicReference<CompletableFuture<StatefulRedisConnection<String, String>>> conn;
  /** Follows Sentinel's master switches (Sentinel URIs only, else null). */
  private final SentinelWatch watch;
  /** Master switches followed: a question failing across one is asked again (see eval). */
  private final AtomicLong masterSwitches = new AtomicLong();
  private final AtomicBoolean down = new AtomicBoolean();
  private final AtomicInteger slowAnswers = new AtomicInteger();
  /** When the last slow question counted timed out: questions asked before then met its stall. */
  private final AtomicLong slowStallEnd = new AtomicLong();
  /**
   * Whether a fallback bucket may exist (made in a hiccup or an outage) since Redis answered:
   * set once the bucket is made (see fallbackBucket).
   */
  private final AtomicBoolean localBuckets = new AtomicBoolean();
  private final LongAdder fallbacks = new LongAdder();
  private final AtomicLong nextProbe = new AtomicLong();
  private final ConcurrentHashMap<String, KeyState> keys = new ConcurrentHashMap<>();
  /** How many keys of each limit {@link #keys} holds (see keyState). */
  private final ConcurrentHashMap<RateLimit, Integer> tableKeys = new ConcurrentHashMap<>();
  /**
   * The fallback of keys beyond the table, one per limit: a bucket shared by all such keys of
   * that limit, and the most stores Redis saw using any of them (see {@link Overflow}).
   */
  private final ConcurrentHashMap<RateLimit, Overflow> overflow = new ConcurrentHashMap<>();
  private final AtomicLong nextSweep;
  /** When a key error of a key beyond the table may next be logged (see keyErrorSeen). */
  private final AtomicLong nextOverflowKeyWarn = new AtomicLong();
  private final AtomicBoolean closed = new AtomicBoolean();
  /** Tests only: run by fallbackBucket between making a bucket and marking that one exists. */
  Runnable betweenFallbackSteps;
  /** Tests only: run by sweep between finding a key idle and dropping its state. */
  Runnable betweenSweepSteps;

  private RedisRateLimitStore(Builder b) {
    // A copy for this store, whose connectTimeout also bounds what Lettuce times with the URI's
    // own timeout (60 s by default): a connection's handshake, and a Sentinel lookup.
    this.uri = RedisUris.parse(b.redisUri);
    uri.setTimeout(b.connectTimeout);
    // Lettuce connects to each Sentinel with that Sentinel's own URI and its timeout.
    uri.getSentinels().forEach(sentinel -> sentinel.setTimeout(b.connectTimeout));
    this.where = RedisUris.where(uri);
    this.prefix = b.keyPrefix;
    this.timeoutNanos = b.timeout.toNanos();
    this.probeNanos = b.probeInterval.toNanos();
    this.prefetch = b.prefetch;
    this.fallback = b.fallback;
    this.nanos = b.nanos;
    this.ownResources = b.resources == null;
    // ClientResources.create() starts netty's HashedWheelTimer, whose start() waits for its
    // thread with any interrupt swallowed: a build on a cancelled task's thread would lose it.
    boolean interrupted = Thread.currentThread().isInterrupted();
    try {
      this.resolvers = ownResources ? new DnsResolverGroup() : null;
      this.resources = ownResources
          ? ClientResources.builder().addressResolverGroup(resolvers).build() : b.resources;
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      this.client = new ResolvingClient(resources);
    } catch (RuntimeException | Error e) {
      if (ownResources) {
        resources.shutdown(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
      }
      throw e;
    }
    long now = nanos.getAsLong();
    this.nextSweep = new AtomicLong(now + SECOND);
    try {
      // Fail fast while disconnected (no queue of stale acquires replayed later), reconnect
      // only when this store asks, and drop commands nobody waits for after a while.
      client.setOptions(ClientOptions.builder()
          .autoReconnect(false)
          .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
          .socketOptions(socketOptions(uri, b.connectTimeout))
          .timeoutOptions(TimeoutOptions.enabled(
              Duration.ofNanos(Math.max(SECOND, 10 * timeoutNanos))))
          .build());
      this.conn = new AtomicReference<>(connect(uri));
      // connectTimeout bounds the network part of the connect, counted from here: connectAsync
      // first sets the connection up on this thread (in a cold JVM, Lettuce's and netty's class
      // loading and a reflective scan of Lettuce's command API, once per JVM: 0.5 s or more,
      // which left a healthy Redis no time to answer), and only then starts connecting, its
      // address resolved off this thread (see ResolvingClient).
      long connecting = nanos.getAsLong();
      // Started after the first lookup, so a switch it follows always has a connection to
      // replace. (A switch between that lookup and the watch's first question to Sentinel, a
      // few milliseconds at most, is noticed the old way: the old master refuses writes.)
      this.watch = uri.getSentinels().isEmpty() ? null
          : new SentinelWatch(client, uri, where, probeNanos, nanos,
              new SentinelWatch.Listener() {
                @Override
                public void masterSwitched(String host, int port) {
                  RedisRateLimitStore.this.masterSwitched(host, port);
                }

                @Override
                public CompletionStage<String> whyNotMaster() {
                  return RedisRateLimitStore.this.whyNotMaster();
                }
              });
      if (watch != null) {
        watch.start();
      }
      // Through Sentinel, Lettuce asks the Sentinels one after another, each for up to
      // connectTimeout, before it connects to the master: a Sentinel that is down (a host gone,
      // whose connect hangs) must not make a healthy set-up start unavailable.
      int sentinels = uri.getSentinels().size();
      warmUp(b.connectTimeout.toNanos(), sentinels, connecting);
      if (watch != null) {
        // A store built is following switches, unless no Sentinel took the subscription in
        // time (then one WARN, and it keeps trying). The watch asks them in turn as well.
        watch.awaitFirstRound(b.connectTimeout.toNanos() * sentinels);
      }
    } catch (RuntimeException | Error e) {
      // A build that fails (a URI Lettuce refuses as it connects, a database Redis does not
      // have) leaves no client, connection or Lettuce thread behind.
      close();
      throw e;
    }
  }

  /**
   * A builder for a store at {@code redisUri}, for example {@code redis://10.0.0.5:6379/0}
   * ({@code rediss://} for TLS; the scheme in any case). A user name or password holding
   * {@code /}, {@code ?}, {@code #} or {@code @} must be percent-encoded. A master found through
   * Sentinel is {@code redis-sentinel://host:26379,host2:26379/0#mymaster}
   * ({@code rediss-sentinel://} for TLS); a Unix socket is {@code redis-socket:///path/redis.sock}
   * (it needs netty's native transport, {@code io.netty:netty-transport-native-epoll} on Linux or
   * {@code -kqueue} on macOS, in the version Lettuce uses).
   *
   * <p>Through Sentinel, a user name and password go once, before the first Sentinel
   * ({@code redis-sentinel://:pw@host:26379,host2:26379#mymaster}, any {@code ','} or
   * {@code '@'} in them percent-encoded); they are the master's (Lettuce asks the Sentinels
   * without a password).
   *
   * <p>Query parameters: {@code database} (or {@code db}, in lower case), {@code clientName},
   * {@code libraryName}, {@code libraryVersion}, and {@code verifyPeer} ({@code NONE}, {@code CA}
   * or {@code FULL}) with TLS, and {@code sentinelMasterId} with Sentinel (or the {@code #});
   * Lettuce reads these and ignores any other name, so the builder refuses any other. Timeouts
   * are set with {@link Builder#timeout} and {@link Builder#connectTimeout}, not in the URI.
   *
   * @throws IllegalArgumentException if {@code redisUri} is blank, has no or an unknown scheme,
   *     names no host or several, has a port that is not a number from 1 to 65535 or a database
   *     that is not a number from 0 (or two that disagree, as {@code /1?db=2}), would be read
   *     as another host, other Sentinels or another socket path (a user name or password not
   *     percent-encoded, an {@code '@'} after a {@code '#'}), names two Sentinel masters that
   *     disagree ({@code ?sentinelMasterId=a#b}), has a fragment without Sentinel, or has a query
   *     parameter Lettuce would ignore (an unknown name, no value,
   *     {@code verifyPeer} without TLS, {@code db} not in lower case) or
   *     {@code timeout}, is a Sentinel URI naming no master or with a user info per Sentinel (or
   *     an unencoded {@code ','} or {@code '@'} in it) or naming several Sentinels, one by an
   *     IPv6 address (Lettuce cannot read it), or is a Unix socket without netty's
   *     native transport; the message never shows
   *     the user name or password
   */
  public static Builder builder(String redisUri) {
    return new Builder(redisUri);
  }

  /**
   * Connects, loads the script and runs it once (a pause of nothing, which writes nothing), so
   * that the first calls do not pay for connecting or class loading. The three steps share one
   * budget: each is waited for until the connectTimeout after {@code connecting}, when the
   * connect started, not a connectTimeout each (a Redis answering each step just in time would
   * hold the build three times as long as the connectTimeout it promises); through Sentinel, one
   * connectTimeout more for each Sentinel Lettuce may have to ask first, in turn.
   */
  private void warmUp(long connectTimeoutNanos, int sentinels, long connecting) {
    long waitNanos = connectTimeoutNanos * (sentinels + 1);
    String within = sentinels == 0
        ? " within the connectTimeout, " + Duration.ofNanos(waitNanos).toMillis() + " ms"
        : " within " + Duration.ofNanos(waitNanos).toMillis() + " ms (the connectTimeout for"
            + " each of the " + sentinels + (sentinels == 1 ? " Sentinel" : " Sentinels")
            + " and the master)";
    long deadline = connecting + waitNanos;
    try {
      StatefulRedisConnection<String, String> c = unanswered(
          () -> await(conn.get(), deadline, false), "no connection" + within, null);
      unanswered(() -> await(c.async().scriptLoad(BucketScript.SOURCE), deadline),
          "no answer to SCRIPT LOAD" + within, c);
      KeyState warm = new KeyState(redisKeys(""), null, null, connecting);
      unanswered(() -> await(c.async().evalsha(BucketScript.SHA1, ScriptOutputType.MULTI,
          warm.redisKeys, "p", "0", "0", "0", "", "1", "1"), deadline),
          "no answer to the script" + within, c);
    } catch (StoreFailure e) {
      if (databaseOutOfRange(e)) {
        // Not an outage: every reconnection would be refused the same way, forever.
        close();
        throw new IllegalArgumentException("redisUri names database " + uri.getDatabase()
            + ", which Redis at " + where + " does not have (see its 'databases' setting): "
            + "give a lower number");
      }
      // A master the Sentinel Lettuce asks does not know: no reconnection would change that
      // either. Told by that Sentinel's own answer to the watch, which asks the Sentinels in
      // the lookup's order, rather than by Lettuce's message ("Cannot provide redisAddress
      // ..."), whose text and wrapping are Lettuce's to change.
      String unknownTo = watch == null ? null
          : watch.unknownTo(waitNanos);
      if (unknownTo != null) {
        close();
        throw new IllegalArgumentException("redisUri names the master '"
            + uri.getSentinelMasterId() + "', which Sentinel " + unknownTo + " does not know "
            + "(the store asks the first Sentinel of the URI that answers): give the name of a "
            + "master in its 'sentinel monitor' lines");
      }
      failed(e, nanos.getAsLong());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failed(new StoreFailure("interrupted while connecting", e), nanos.getAsLong());
    }
  }

  /** A wait of the warm-up (see unanswered). */
  private interface WarmUpStep<T> {
    T run() throws StoreFailure, InterruptedException;
  }

  /**
   * Runs {@code step}; one that timed out is an outage saying {@code why}, not one slow answer:
   * a Redis that gave no connection or answer in the whole connectTimeout cannot be reached (a
   * hiccup would leave the store counting it available, and its first calls waiting for it).
   * A step on connection {@code c} (null: the connect) that timed out has it closed by failed,
   * as a probe's would be.
   */
  private static <T> T unanswered(WarmUpStep<T> step, String why,
      StatefulRedisConnection<String, String> c) throws StoreFailure, InterruptedException {
    try {
      return step.run();
    } catch (StoreFailure e) {
      if (!e.slow) {
        throw e;
      }
      StoreFailure outage = new StoreFailure(why, null);
      outage.unanswered = c;
      throw outage;
    }
  }

  /** Whether Redis refused to select the URI's database (SELECT's "DB index is out of range"). */
  private static boolean databaseOutOfRange(StoreFailure e) {
    return causedBy(e, m -> m.contains("DB index is out of range"));
  }

  /**
   * Whether {@code e} or one of its causes is an error Redis answered a command with, whose
   * message {@code message} accepts.
   */
  static boolean causedBy(Throwable e, Predicate<String> message) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof RedisCommandExecutionException && t.getMessage() != null
          && message.test(t.getMessage())) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@inheritDoc}
   *
   * <p>Redis is asked for at most the store's {@code timeout}, and never longer than
   * {@code maxWaitNanos}. When Redis does not answer within the shorter {@code maxWaitNanos}
   * while it counts as available, the call is refused with {@link RateLimitedException} (the
   * caller has no time left to use a permit) and no fallback bucket is made or used; while it
   * counts as unavailable, the fallback answers, as for any call.
   *
   * @throws RateLimitedException also when Redis does not answer within {@code maxWaitNanos},
   *     shorter than the store's timeout, while Redis counts as available
   */
  @Override
  public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos)
      throws InterruptedException {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(limit, "limit");
    if (permits < 1) {
      throw new IllegalArgumentException("permits must be at least 1, but was " + permits);
    }
    if (closed.get()) {
      throw new IllegalStateException("this RedisRateLimitStore is closed");
    }
    if (permits > limit.burst()) {
      return NEVER;
    }
    long now = nanos.getAsLong();
    KeyState ks = keyState(key, limit, now);
    // This thread's booking from an earlier call (used since): giveBack must never find it.
    KeyState.Booking earlier = ks.booking.get();
    if (earlier != null && earlier.threadId() == Thread.currentThread().threadId()) {
      ks.booking.compareAndSet(earlier, null);
    }
    if (permits == 1 && ks.takeStocked(now)) {
      return 0;
    }
    if (mayAskRedis(now)) {
      // A key beyond the table has nowhere to keep pre-fetched permits: they would be dropped,
      // taken from the quota of every store sharing the key.
      int want = permits == 1 && !ks.overflow() ? prefetch : permits;
      String[] args = args(ks, limit, "r", Integer.toString(permits), Integer.toString(want),
          Long.toString(Math.max(0, maxWaitNanos) / 1000), ks.register(now) ? clientId : "");
      List<Object> r;
      // Never wait for Redis longer than the caller has left (its deadline).
      boolean cut = maxWaitNanos > 0 && maxWaitNanos < timeoutNanos;
      long deadline = now + (cut ? maxWaitNanos : timeoutNanos);
      try {
        tellUnsentPause(ks, limit, now, deadline);
        r = eval(ks, args, deadline);
      } catch (StoreFailure e) {
        if (keyError(e)) {
          return keyFailed(ks, limit, permits, maxWaitNanos, now, e);
        }
        if (cut && e.slow && !down.get()) {
          // Cut short by the caller's deadline: that says nothing of Redis, and the caller has
          // no time left to use a permit. A fallback bucket made (or taken from) for it would
          // only outlive the call: one made now, refilling until the next outage, would begin
          // that outage with a burst.
          throw new RateLimitedException("the shared rate limit in Redis at " + where
              + " did not answer within the " + maxWaitNanos / 1000 + " µs left before the "
              + "call's deadline (the store waits up to " + timeoutNanos / 1000 + " µs)",
              null, 0);
        }
        if (!(cut && e.slow)) { // a cut during an outage: served by its fallback, as any call
          failed(e, now);
        }
        long later = nanos.getAsLong();
        return fallback(ks, limit, permits, Math.max(0, maxWaitNanos - (later - now)), later);
      }
      recovered();
      long taken = (Long) r.get(0);
      long waitNanos = (Long) r.get(1) * 1000;
      long clients = (Long) r.get(2);
      if (clients > 0) {
        // Registered (once a second per key): the key's own error, if it had one, is gone.
        ks.activeClients = (int) Math.min(Integer.MAX_VALUE, clients);
        if (ks.shared != null) {
          ks.shared.seen(ks.activeClients);
          ks.shared.answered(ks.redisKeys[0]);
        }
        if (ks.keyError) {
          keyRecovered(ks);
        }
      }
      if (taken == 0) {
        return -Math.max(1, waitNanos);
      }
      if (taken > permits) {
        ks.addStock((int) (taken - permits), nanos.getAsLong(), prefetch - 1);
      }
      if (r.size() > 3 && !ks.overflow()) {
        // Booked in line: kept for giveBack, should the caller not use it.
        ks.booking.set(new KeyState.Booking(
            Thread.currentThread().threadId(), waitNanos, (String) r.get(3)));
      }
      return waitNanos;
    }
    return fallback(ks, limit, permits, maxWaitNanos, now);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Redis is asked (one round trip, for at most the store's {@code timeout} and never longer
   * than {@code maxWaitNanos}) unless it counts as unavailable; a pause this store could not tell
   * Redis (an outage) is known here, in the key's fallback bucket. A question Redis does not
   * answer counts as any question does (three slow answers in a row make it unavailable), and
   * holds the permits only for a pause known here.
   */
  @Override
  public long heldFor(String key, RateLimit limit, long lateNanos, long maxWaitNanos)
      throws InterruptedException {
    long now = nanos.getAsLong();
    long due = now - Math.max(0, lateNanos);
    KeyState ks = keyState(key, limit, now);
    // Told while Redis could not be asked: in the key's fallback bucket, and not yet in Redis.
    Long unsent = ks.unsentPauseEnd.get();
    long held = unsent != null && unsent - due > 0 ? Math.max(0, unsent - now) : -1;
    // Read before Redis answers, which may drop them (see recovered). A key beyond the table
    // books a key error in its limit's key-error bucket, apart from the outage's (keyFailed):
    // the pause holding it is the one told to the bucket it booked in.
    long heldByFallback = heldIn(ks.fallback.get(), now, due);
    long heldByKeyError = ks.overflow() ? heldIn(ks.shared.keyErrorBucket.get(), now, due)
        : heldByFallback;
    if (down.get() || closed.get()) {
      return Math.max(held, heldByFallback);
    }
    String[] args = args(ks, limit, "h", Long.toString(Math.max(0, lateNanos) / 1000), "0",
        "0", "");
    boolean cut = maxWaitNanos < timeoutNanos;
    try {
      List<Object> r = eval(ks, args, now + (cut ? Math.max(0, maxWaitNanos) : timeoutNanos));
      recovered();
      held = Math.max(held, heldByFallback);
      return (Long) r.get(0) != 0 ? Math.max(held, (Long) r.get(1) * 1000) : held;
    } catch (StoreFailure e) {
      if (keyError(e)) {
        answeredWithKeyError();
        keyErrorSeen(ks, e);
        return Math.max(held, heldByKeyError);
      }
      if (!(cut && e.slow)) { // cut short by the caller's deadline: says nothing of Redis
        failed(e, now);
      }
      return Math.max(held, heldByFallback);
    }
  }

  /** How long {@code b}'s pause holds permits due at {@code due} ({@link LocalBucket#heldFor}). */
  private static long heldIn(LocalBucket b, long now, long due) {
    return b == null ? -1 : b.heldFor(now, due);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Only the key's latest booking in line that Redis answered this store, when it was this
   * thread's (a booking another thread's answer replaced is not given back), never one of the
   * fallback or of a key beyond {@link RateLimit#maxKeys(int)}. The question is sent to Redis
   * and not waited for; Redis gives the permits back only while the key holds exactly what the
   * booking wrote: nothing booked or paused after it, by any client of the key.
   */
  @Override
  public void giveBack(String key, RateLimit limit, int permits, long waitNanos) {
    KeyState ks = keys.get(key);
    KeyState.Booking b = ks == null ? null : ks.booking.get();
    if (b == null || b.threadId() != Thread.currentThread().threadId()
        || b.waitNanos() != waitNanos || !ks.booking.compareAndSet(b, null)
        || down.get() || closed.get()) {
      return;
    }
    CompletableFuture<StatefulRedisConnection<String, String>> f = conn.get();
    StatefulRedisConnection<String, String> c =
        f.isDone() && !f.isCompletedExceptionally() ? f.getNow(null) : null;
    if (c != null && c.isOpen()) {
      // Not waited for: the caller is refused at once. With the script itself, not its SHA:
      // a NOSCRIPT (a flushed script cache) would go unseen, the permits lost. One that fails
      // (a lost connection) leaves the permits booked, which is only stricter.
      c.async().eval(BucketScript.SOURCE, ScriptOutputType.MULTI, ks.redisKeys,
          args(ks, limit, "g", Integer.toString(permits), b.token(), "0", ""));
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>Redis is asked for at most the store's {@code timeout}.
   */
  @Override
  public long pause(String key, RateLimit limit, long pauseNanos) {
    return pause(key, limit, pauseNanos, Long.MAX_VALUE);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Redis is asked for at most the store's {@code timeout}, and never longer than
   * {@code maxWaitNanos}. A pause Redis has not answered by then is still sent, and Redis applies
   * it when it runs it; the call does not wait for it, and this returns 0 (not known to have
   * grown). That says nothing of Redis: it makes no fallback bucket.
   */
  @Override
  public long pause(String key, RateLimit limit, long pauseNanos, long maxWaitNanos) {
    if (pauseNanos <= 0 || closed.get()) {
      return 0;
    }
    long now = nanos.getAsLong();
    KeyState ks = keyState(key, limit, now);
    ks.clearStock();
    if (mayAskRedis(now)) {
      String[] args = args(ks, limit, "p", Long.toString((pauseNanos + 999) / 1000), "0", "0", "");
      // Never wait for Redis longer than the call asking for the pause has left.
      long left = maxWaitNanos;
      boolean cut = left < timeoutNanos;
      try {
        // Cut short, the question is not cancelled: the server's pause still reaches Redis.
        List<Object> r = eval(ks, args, now + (cut ? Math.max(0, left) : timeoutNanos), !cut);
        recovered();
        return (Long) r.get(0) * 1000;
      } catch (StoreFailure e) {
        if (keyError(e)) {
          answeredWithKeyError();
          keyErrorSeen(ks, e);
          return fallback.failFast ? 0 : ks.keyErrorBucket(limit, share(ks), now).pause(now,
              pauseNanos);
        }
        if (cut && e.slow && !down.get()) {
          return 0; // the call's deadline ended first: that says nothing of Redis
        }
        if (!(cut && e.slow)) { // a cut during an outage: the fallback pauses, as for any call
          failed(e, now);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    // Redis did not hear of it: kept for Redis's next answer about the key (see
    // tellUnsentPause), as the fallback bucket holding it is dropped at Redis's first answer.
    long grew = fallback.failFast ? 0 : fallbackBucket(ks, limit, now).pause(now, pauseNanos);
    ks.pauseUnsent(now + Math.min(pauseNanos, LocalBucket.MAX_NANOS));
    return grew;
  }

  /**
   * Tells Redis the rest of {@code ks}'s server pause that arrived while Redis could not be
   * asked (see pause), before the key's next question: else Redis, which never heard of it,
   * would grant the key's calls in the middle of it once it answers again, the fallback bucket
   * that held it dropped. Within the question's own deadline; one that fails is told again at
   * the next question, the key's fallback buckets holding it meanwhile (see fallbackBucket).
   */
  private void tellUnsentPause(KeyState ks, RateLimit limit, long now, long deadline)
      throws StoreFailure, InterruptedException {
    Long end = ks.unsentPauseEnd.get();
    if (end == null) {
      return;
    }
    long left = end - now;
    if (left > 0) {
      eval(ks, args(ks, limit, "p", Long.toString((left + 999) / 1000), "0", "0", ""), deadline);
    }
    ks.unsentPauseEnd.compareAndSet(end, null); // unless a later one came meanwhile
  }

  /** Whether the store is using its fallback because Redis did not answer. */
  public boolean degraded() {
    return down.get();
  }

  /** How many reservations the fallback answered (for tests and benchmarks). */
  long fallbacks() {
    return fallbacks.sum();
  }

  /** How many limits have a fallback of their keys beyond the table (for tests). */
  int overflowLimits() {
    return overflow.size();
  }

  private long fallback(KeyState ks, RateLimit limit, int permits, long maxWaitNanos, long now) {
    fallbacks.increment();
    if (fallback.failFast) {
      throw new RateLimitedException("the shared rate limit in Redis at " + where
          + " is unavailable, and its store is configured to fail fast rather than fall back",
          null, 0);
    }
    return fallbackBucket(ks, limit, now).reserve(now, permits, maxWaitNanos);
  }

  /**
   * Whether Redis answered {@code e} about one key only: a value of another type under the name
   * of its bucket ({@code WRONGTYPE}), which another application wrote. Redis works, and every
   * other key's bucket with it.
   */
  private static boolean keyError(StoreFailure e) {
    return causedBy(e, m -> m.contains("WRONGTYPE"));
  }

  /**
   * A key whose bucket Redis refuses ({@link #keyError}): Redis answered, so no outage (one in
   * progress ends); only this key's calls use the fallback, and the store says once which Redis
   * key is taken and what to change. Its fallback bucket is its own until the key works again
   * (not dropped as others answer), so it does not start empty at every call.
   */
  private long keyFailed(KeyState ks, RateLimit limit, int permits, long maxWaitNanos, long now,
      StoreFailure e) {
    answeredWithKeyError();
    keyErrorSeen(ks, e);
    fallbacks.increment();
    if (fallback.failFast) {
      throw new RateLimitedException("the shared rate limit in Redis at " + where
          + " cannot use the bucket of this call's key: " + keyTaken(ks) + "; its store is "
          + "configured to fail fast rather than fall back", null, 0);
    }
    long later = nanos.getAsLong();
    // Not fallbackBucket(...): that marks the fallback buckets for a reset at Redis's next
    // answer, which would hand this key, still in error, a fresh whole-quota bucket each time.
    LocalBucket b = ks.keyErrorBucket(limit, share(ks), later);
    if (ks.overflow()) {
      ks.shared.keyErrorOf(ks.redisKeys[0], b, later);
    }
    return b.reserve(later, permits, Math.max(0, maxWaitNanos - (later - now)));
  }

  /** What is wrong with {@code ks}'s Redis keys, and what to change. */
  private String keyTaken(KeyState ks) {
    return "Redis holds a value of another type under its Redis key '" + ks.redisKeys[0]
        + "' or '" + ks.redisKeys[1] + "' (WRONGTYPE), written by something else: give the "
        + "store a key prefix no other application writes under (RedisRateLimitStore.Builder"
        + ".keyPrefix, now '" + prefix + "'), or delete that Redis key";
  }

  /** Logs {@code ks}'s key error once (a key beyond the table: at most once a minute). */
  private void keyErrorSeen(KeyState ks, StoreFailure e) {
    boolean first;
    if (ks.overflow()) {
      long now = nanos.getAsLong();
      long next = nextOverflowKeyWarn.get();
      first = now - next >= 0 && nextOverflowKeyWarn.compareAndSet(next, now + IDLE_KEY_NANOS);
    } else {
      first = !ks.keyError;
      ks.keyError = true;
    }
    if (first) {
      String then = fallback.failFast ? "refused (fail fast)" : "answered by the fallback ("
          + fallback + ")";
      log.warn("shared rate limit in Redis at {}: one key's calls are {} until its bucket works "
          + "again, every other key staying on Redis. {}. Redis said: {}", where, then,
          keyTaken(ks), e.getMessage());
    }
  }

  /** {@code ks}'s Redis key works again: its own fallback bucket would outlive the error. */
  private void keyRecovered(KeyState ks) {
    ks.keyError = false;
    ks.dropFallback();
    log.info("shared rate limit in Redis at {}: the Redis key '{}' is usable again", where,
        ks.redisKeys[0]);
  }

  /**
   * {@code ks}'s fallback bucket, made first and marked after ({@link #localBuckets}): a
   * {@link #recovered()} in between either drops it (made before its reset) or leaves the mark
   * set for the next answer to drop it. Marked first, a reset in between cleared the mark before
   * the bucket was made, which then outlived every later answer, refilling, and began the key's
   * next hiccup or outage with a burst.
   */
  private LocalBucket fallbackBucket(KeyState ks, RateLimit limit, long now) {
    LocalBucket b = ks.fallbackBucket(limit, share(ks), now);
    Long pauseEnd = ks.unsentPauseEnd.get();
    if (pauseEnd != null && pauseEnd - now > 0) {
      // A bucket made after its key's pause was dropped with an earlier one (Redis answered
      // another key, then failed again before hearing of this key's pause) still holds it.
      b.pause(now, pauseEnd - now);
    }
    Runnable hook = betweenFallbackSteps;
    if (hook != null) {
      hook.run();
    }
    if (!localBuckets.get()) {
      localBuckets.set(true);
    }
    return b;
  }

  private double share(KeyState ks) {
    if (fallback.share > 0) {
      return fallback.share;
    }
    int clients = ks.shared != null ? ks.shared.clients : ks.activeClients;
    return clients > 1 ? 1.0 / clients : 1.0;
  }

  /** Whether this call may ask Redis: always while it works, else one call per probe interval. */
  private boolean mayAskRedis(long now) {
    if (!down.get()) {
      return true;
    }
    long next = nextProbe.get();
    return now - next >= 0 && nextProbe.compareAndSet(next, now + probeNanos);
  }

  private void failed(StoreFailure e, long now) {
    if (closed.get()) {
      // close() ended the connection under the question: the application stops, Redis may
      // be fine. No outage to warn of (the caller still gets the fallback's answer).
      return;
    }
    if (e.slow && !down.get()) {
      long end = slowStallEnd.get();
      if (slowAnswers.get() > 0 && now - end < 0) {
        return; // asked while a slow question already counted was waiting: the same stall
      }
      slowStallEnd.set(now + timeoutNanos);
      if (slowAnswers.incrementAndGet() < SLOW_ANSWERS_FOR_OUTAGE) {
        // A hiccup (a GC pause, a busy Redis): this call uses the fallback, the next asks again.
        return;
      }
    }
    nextProbe.set(now + probeNanos);
    if (down.compareAndSet(false, true)) {
      String then = fallback.failFast ? "refusing rate-limited calls"
          : fallback.share > 0 ? "falling back to a local bucket with " + fallback.share
              + " of each limit"
          : "falling back to local buckets with a share of each limit (1 / the clients seen)";
      log.warn("shared rate limit in Redis at {} unavailable ({}): {} until Redis answers "
          + "again; asking it every {} ms", where, e.getMessage(), then, probeNanos / 1_000_000);
    }
    if (e.unanswered != null) {
      // Unanswered at an outage's start, or at a probe: a connection whose peer vanished
      // without a word (a host gone, an endpoint's address moved) stays open until TCP gives
      // up, about 15 minutes, and every probe would ask it again. Closed, the next probe
      // connects anew, its address resolved again. (Not at a hiccup's slow answer: a GC
      // pause or a busy Redis is no reason to reconnect.)
      e.unanswered.closeAsync();
    }
  }

  /**
   * Redis answered, with an error about one key: an outage or a run of slow answers is over. No
   * more than that: {@link #recovered()} at each such answer would also reset the fallback
   * buckets a hiccup made (the next successful answer does), on every call of the key.
   */
  private void answeredWithKeyError() {
    if (down.get() || slowAnswers.get() != 0) {
      recovered();
    }
  }

  private void recovered() {
    if (slowAnswers.get() != 0) {
      slowAnswers.set(0);
    }
    boolean wasDown = down.get() && down.compareAndSet(true, false);
    if (localBuckets.get() && localBuckets.compareAndSet(true, false)) {
      // The next hiccup or outage starts from fresh, empty buckets sized with what Redis says
      // then, not from one made long ago that has refilled meanwhile.
      // (A key whose Redis key is taken keeps its own, as do the keys beyond the table their
      // limit's: see keyFailed, Overflow.keyErrorBucket.)
      keys.values().forEach(ks -> {
        if (!ks.keyError) {
          ks.dropFallback();
        }
      });
      overflow.values().forEach(Overflow::reset);
    }
    if (wasDown) {
      log.info("shared rate limit in Redis at {} is answering again", where);
    }
  }

  /** Redis did not answer: {@code slow} when it timed out, otherwise it failed or is gone. */
  private static final class StoreFailure extends Exception {
    private static final long serialVersionUID = 1L;
    final boolean slow;
    /** The connection a question got no answer on in time (see failed), or null. */
    transient StatefulRedisConnection<String, String> unanswered;

    StoreFailure(String message, Throwable cause) {
      this(message, cause, false);
    }

    StoreFailure(String message, Throwable cause, boolean slow) {
      super(message, cause, false, false);
      this.slow = slow;
    }

    /** This failure, a question on {@code c} having got no answer in time when it is slow. */
    StoreFailure on(StatefulRedisConnection<String, String> c) {
      if (slow) {
        unanswered = c;
      }
      return this;
    }
  }

  private List<Object> eval(KeyState ks, String[] args, long deadline)
      throws StoreFailure, InterruptedException {
    return eval(ks, args, deadline, true);
  }

  /**
   * Runs the script with {@code args} for {@code ks}, waiting until {@code deadline}; a question
   * given up on is cancelled (never sent if it was not yet) only when {@code cancel}.
   */
  private List<Object> eval(KeyState ks, String[] args, long deadline, boolean cancel)
      throws StoreFailure, InterruptedException {
    long switches = masterSwitches.get();
    try {
      return eval(connection(deadline), ks, args, deadline, cancel);
    } catch (StoreFailure e) {
      if (e.slow || masterSwitches.get() == switches) {
        throw e;
      }
      // Failed as Sentinel switched masters (the store closes the old master's connection with
      // the question in flight): what the old master counted no longer matters, the new
      // master's answer does. Asked once more, within the same deadline.
      return eval(connection(deadline), ks, args, deadline, cancel);
    }
  }

  private List<Object> eval(StatefulRedisConnection<String, String> c, KeyState ks,
      String[] args, long deadline, boolean cancel) throws StoreFailure, InterruptedException {
    try {
      try {
        return await(c.async().evalsha(BucketScript.SHA1, ScriptOutputType.MULTI, ks.redisKeys,
            args), deadline, cancel);
      } catch (StoreFailure e) {
        if (!(e.getCause() instanceof RedisNoScriptException)) {
          throw e;
        }
        // Redis restarted or its script cache was flushed: EVAL loads the script again.
        return await(c.async().eval(BucketScript.SOURCE, ScriptOutputType.MULTI, ks.redisKeys,
            args), deadline, cancel);
      }
    } catch (StoreFailure e) {
      dropIfNotWritable(c, e);
      throw e.on(c);
    }
  }

  /**
   * Closes {@code c} when {@code e} says its node no longer takes writes ({@code READONLY}: a
   * replica now, as after a failover or a {@code REPLICAOF}; {@code MASTERDOWN}): the next
   * question connects again, through Sentinel to the master it names now. Kept open, the
   * connection would be asked for ever, the store on its fallback.
   */
  private static void dropIfNotWritable(StatefulRedisConnection<String, String> c,
      StoreFailure e) {
    if (causedBy(e, m -> m.startsWith("READONLY") || m.startsWith("MASTERDOWN"))) {
      c.closeAsync();
    }
  }

  /**
   * The connection, reconnecting when it is lost. The connect future is shared: a caller whose
   * deadline passes stops waiting but leaves it pending, and the next caller waits for the same
   * connect rather than starting another. Every connection made is either the current one or
   * closed: the one a new connect replaces, one that lost the race to replace it, and one that
   * completes after {@link #close()}.
   */
  private StatefulRedisConnection<String, String> connection(long deadline)
      throws StoreFailure, InterruptedException {
    CompletableFuture<StatefulRedisConnection<String, String>> f = conn.get();
    if (f.isDone()) {
      StatefulRedisConnection<String, String> c =
          f.isCompletedExceptionally() ? null : f.getNow(null);
      if (c != null && c.isOpen()) {
        return c;
      }
      CompletableFuture<StatefulRedisConnection<String, String>> next = connect(uri);
      if (conn.compareAndSet(f, next)) {
        if (c != null) {
          c.closeAsync(); // lost (autoReconnect is off): it would stay in the client until close
        }
        f = next;
      } else {
        next.thenAccept(StatefulRedisConnection::closeAsync);
        f = conn.get();
      }
    }
    return await(f, deadline, false);
  }

  /**
   * The connect timeout; and on a Unix socket no TCP keep-alive, which means nothing there
   * (Lettuce sets its extended options whenever a native transport is loaded, and netty warns
   * of each on a domain socket, three WARN lines per connection).
   */
  private static SocketOptions socketOptions(RedisURI uri, Duration connectTimeout) {
    SocketOptions.Builder b = SocketOptions.builder().connectTimeout(connectTimeout);
    if (uri.getSocket() != null) {
      b.keepAlive(false);
    }
    return b.build();
  }

  /**
   * Sentinel says our master is now at {@code host:port} (on the watch's thread, which must not
   * block): a connect straight to it replaces the connection at once, so every next question
   * goes there (callers wait for the connect within their timeout, as for any reconnect), and
   * the old master's connection is closed; a question in flight on it fails and is asked again
   * (see eval). Straight to the address: another Sentinel asked now may not know of the switch
   * yet. Later reconnections ask the Sentinels again.
   */
  private void masterSwitched(String host, int port) {
    if (closed.get()) {
      return;
    }
    CompletableFuture<StatefulRedisConnection<String, String>> next =
        connect(RedisURI.builder(uri).withHost(host).withPort(port).build());
    CompletableFuture<StatefulRedisConnection<String, String>> old = conn.getAndSet(next);
    // Counted after the swap and before the close: a question that read the count before it
    // may have the old connection, and is asked again if that fails; one that reads it after
    // gets the new connection.
    masterSwitches.incrementAndGet();
    old.thenAccept(StatefulRedisConnection::closeAsync);
    if (down.get()) {
      // On the fallback (the old master died, say), which asks Redis once a probe interval:
      // the next call asks the new master at once.
      nextProbe.set(nanos.getAsLong());
    }
  }

  /**
   * Whether the master in use still acts as one (asked on the watch's thread, which must not
   * block): completes with why not (its ROLE is not master, or it does not answer), or with null
   * when it does. A Sentinel subscribed to again that names another master, with no
   * announcement, moves the store only then: one that lags behind a failover, or shares a
   * minority partition with the old master, would otherwise move the store back to a node the
   * others have replaced, splitting the buckets. The watch decides, on its thread, so that a
   * switch announced during the check wins.
   */
  private CompletionStage<String> whyNotMaster() {
    if (closed.get()) {
      return CompletableFuture.completedFuture(null);
    }
    return conn.get().thenCompose(c -> c.async().role().toCompletableFuture())
        .handle((role, e) -> {
          if (e != null) {
            return "does not answer: " + reason(e);
          }
          String is = role == null || role.isEmpty() ? null : String.valueOf(role.get(0));
          return "master".equals(is) ? null
              : "slave".equals(is) ? "is a replica now" : "answers ROLE with " + is;
        });
  }

  /**
   * Lettuce's connect future itself: callbacks on a derived stage would never run, and so never
   * close the connection, once that stage was cancelled.
   */
  private CompletableFuture<StatefulRedisConnection<String, String>> connect(RedisURI target) {
    CompletableFuture<StatefulRedisConnection<String, String>> f =
        client.connectAsync(StringCodec.UTF8, target).toCompletableFuture();
    f.thenAccept(c -> {
      if (closed.get()) {
        c.closeAsync();
      }
    });
    return f;
  }

  /** Waits for this caller's own command; one it gives up on is cancelled (see timedOut). */
  private <T> T await(Future<T> f, long deadline) throws StoreFailure, InterruptedException {
    return await(f, deadline, true);
  }

  /**
   * Waits for {@code f} until {@code deadline}. A caller that gives up (deadline, interrupt)
   * cancels {@code f} only when it is its own ({@code cancel}); the connect future is shared
   * with the other callers and is left to complete.
   */
  private <T> T await(Future<T> f, long deadline, boolean cancel)
      throws StoreFailure, InterruptedException {
    try {
      long left = deadline - nanos.getAsLong();
      return left > 0 || f.isDone() ? f.get(Math.max(0, left), TimeUnit.NANOSECONDS)
          : timedOut(f, cancel);
    } catch (TimeoutException e) {
      return timedOut(f, cancel);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new StoreFailure(reason(cause), cause);
    } catch (java.util.concurrent.CancellationException e) {
      throw new StoreFailure("cancelled", e);
    } catch (InterruptedException e) {
      if (cancel) {
        f.cancel(true);
      }
      throw e;
    }
  }

  /**
   * What went wrong, for a log line: the first message down the cause chain (Lettuce wraps a
   * Sentinel's "no such master" in an exception of its own with none), else the class's name.
   * A future's wrapper is skipped: its message is its cause's class and message, and the class
   * named is that of the first exception that is not a wrapper. An error Redis answered with,
   * deeper down, is added ("Redis answered: ..."): Lettuce wraps one refusing the handshake
   * (WRONGPASS, NOAUTH: credentials Redis refuses) in its own "Unable to connect to ...", which
   * alone reads as a network outage.
   */
  static String reason(Throwable failure) {
    Throwable named = null;
    Throwable first = null;
    Throwable answered = null;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      boolean wrapper = (t instanceof CompletionException || t instanceof ExecutionException)
          && t.getCause() != null;
      if (wrapper) {
        continue;
      }
      boolean hasMessage = t.getMessage() != null && !t.getMessage().isBlank();
      if (first == null && hasMessage) {
        first = t;
      }
      if (t instanceof RedisCommandExecutionException && hasMessage) {
        answered = t; // the deepest one: Redis's own words
      }
      if (named == null) {
        named = t;
      }
    }
    if (first == null) {
      return (named == null ? failure : named).getClass().getSimpleName();
    }
    return answered == null || answered == first || first.getMessage()
        .contains(answered.getMessage()) ? first.getMessage()
        : first.getMessage() + "; Redis answered: " + answered.getMessage();
  }

  private <T> T timedOut(Future<T> f, boolean cancel) throws StoreFailure {
    if (cancel) {
      // Not sent yet: never sent. Sent: Redis may still take permits nobody uses, which can
      // only make the shared limit stricter.
      f.cancel(true);
    }
    throw new StoreFailure("no answer within " + timeoutNanos / 1000 + " µs", null, true);
  }

  private static String[] args(
      KeyState ks, RateLimit limit, String op, String a, String b, String c, String id) {
    String[] bands = ks.bands(limit);
    String[] out = new String[5 + bands.length];
    out[0] = op;
    out[1] = a;
    out[2] = b;
    out[3] = c;
    out[4] = id;
    System.arraycopy(bands, 0, out, 5, bands.length);
    return out;
  }

  /**
   * {@code key}'s state: kept in the table while {@code limit} has fewer than its
   * {@link RateLimit#maxKeys(int)} keys there. Counted per limit (limits equal as values count
   * as one): a store shared by clients keeps each client's keys against its own limit's bound,
   * so one client's keys never push another's beyond its table.
   */
  private KeyState keyState(String key, RateLimit limit, long now) {
    for (;;) {
      KeyState ks = keys.get(key);
      if (ks == null) {
        boolean room = takeRoom(limit);
        if (!room) {
          sweep(now);
          room = takeRoom(limit);
        }
        if (!room) {
          // A full table: the key still shares Redis's bucket; only local state is not kept.
          return new KeyState(redisKeys(key), overflowOf(limit, now), null, now);
        }
        KeyState mine = new KeyState(redisKeys(key), null, limit, now);
        ks = keys.putIfAbsent(key, mine);
        if (ks == null) {
          return mine;
        }
        freeRoom(limit); // another call put the key first, counted then
      }
      if (ks.use(now)) {
        return ks;
      }
      // Dropped by the sweep as this call found it: made anew.
      if (keys.remove(key, ks)) {
        freeRoom(ks.tableLimit);
      }
    }
  }

  /** Counts one more key of {@code limit} in the table, unless it has its maxKeys already. */
  private boolean takeRoom(RateLimit limit) {
    boolean[] room = new boolean[1];
    tableKeys.compute(limit, (l, n) -> {
      int had = n == null ? 0 : n;
      if (had >= l.maxKeys()) {
        return n;
      }
      room[0] = true;
      return had + 1;
    });
    return room[0];
  }

  /** Counts one key of {@code limit} less (its count dropped at none: a limit gone leaves none). */
  private void freeRoom(RateLimit limit) {
    tableKeys.computeIfPresent(limit, (l, n) -> n <= 1 ? null : n - 1);
  }

  /**
   * The overflow fallback of {@code limit}'s keys beyond the table. One per limit: keys of a
   * stricter limit (another client's, sharing the store) must not draw from a bucket sized with
   * a looser one. Bounded by the limits in use: past {@link #MAX_OVERFLOW_LIMITS} limits (a
   * limit reconfigured again and again), a new one first drops those unused for a minute whose
   * buckets hold nothing a new one would not (see {@link Overflow#drop}, {@link #forgettable}).
   * One in use is kept, with its pauses, queues and stores seen: a new one, empty but holding
   * none of these, would let calls through inside a pause or ahead of the calls in line.
   */
  private Overflow overflowOf(RateLimit limit, long now) {
    for (;;) {
      Overflow o = overflow.get(limit);
      if (o == null) {
        if (overflow.size() >= MAX_OVERFLOW_LIMITS) {
          overflow.forEach((l, idle) -> {
            if (forgettable(idle.clients) && idle.drop(now)) {
              overflow.remove(l, idle);
            }
          });
        }
        o = overflow.computeIfAbsent(limit, l -> new Overflow(now));
      }
      if (o.use(now)) {
        return o;
      }
      overflow.remove(limit, o); // dropped as this call found it: a new one is made
    }
  }

  /**
   * The fallback shared by a limit's keys beyond the table: its bucket, and the most stores
   * Redis saw using any of those keys since the last hiccup or outage ended (each of their calls
   * registers, as they keep no local state). A bucket serving all of them with {@code 1 / that}
   * of the limit keeps each key's stores together within the key's quota, which the share of
   * any one key (or the whole quota, never learnt) would not.
   */
  private static final class Overflow extends Droppable {
    final AtomicReference<LocalBucket> bucket = new AtomicReference<>();
    /**
     * The bucket of this limit's keys whose Redis key is taken (a key error), apart from
     * {@link #bucket}: an outage's bucket is never one a key error made long before. Not dropped
     * when an outage or hiccup ends ({@link #reset}), as a key's own key-error bucket is not: the
     * server pauses told to it, and its queue, are the keys', which Redis never heard of.
     */
    final AtomicReference<LocalBucket> keyErrorBucket = new AtomicReference<>();
    /**
     * The Redis key of the latest key error {@link #keyErrorBucket} served, until Redis answers
     * that key again or an outage or hiccup ends (null then).
     */
    private volatile String keyErrorKey;
    volatile int clients;

    Overflow(long now) {
      super(now);
    }

    /**
     * Drops it when unused for {@code IDLE_KEY_NANOS} and its buckets hold no pause ahead and
     * no call in line past an empty bucket, which a new one (empty) would not hold.
     */
    boolean drop(long now) {
      long idle = idleSince(now);
      return idle != DROPPED && settled(bucket, now) && settled(keyErrorBucket, now)
          && dropUnusedSince(idle);
    }

    void seen(int n) {
      if (n > clients) {
        clients = n; // a lost race keeps a smaller count until the next call: within a second
      }
    }

    /**
     * Before {@code b}, this limit's key-error bucket, serves a key error of {@code redisKey}:
     * empties it (its pause and queue kept) unless the latest key error it served was that
     * key's, still going on. The permits it stored meanwhile, refilling, are not this key's: its
     * calls were granted by Redis (or by an outage's bucket) until now, as many as the limit
     * allows, so a key error must not begin with a burst, as an outage does not.
     */
    void keyErrorOf(String redisKey, LocalBucket b, long now) {
      if (!redisKey.equals(keyErrorKey)) {
        b.empty(now);
        keyErrorKey = redisKey;
      }
    }

    /** Redis answered {@code redisKey}: a key error of it from now on is a new one. */
    void answered(String redisKey) {
      if (redisKey.equals(keyErrorKey)) {
        keyErrorKey = null;
      }
    }

    void reset() {
      bucket.set(null);
      clients = 0;
      keyErrorKey = null; // the outage's bucket may have served a key in error meanwhile
    }
  }

  /**
   * Drops local state of keys unused for a minute, but for one holding a pause not yet told to
   * Redis, or whose fallback bucket holds a pause ahead or a call in line (a key error's, whose
   * pauses Redis never hears of, see {@link Overflow#drop}), or whose stores seen still count
   * ({@link #forgettable}), or that a call took meanwhile ({@link Droppable}); at most once a
   * second.
   */
  private void sweep(long now) {
    long next = nextSweep.get();
    if (now - next < 0 || !nextSweep.compareAndSet(next, now + SECOND)) {
      return;
    }
    keys.forEach((key, ks) -> {
      long idle = ks.idleSince(now);
      if (idle == Droppable.DROPPED) {
        return;
      }
      // Not a key holding a pause Redis has not heard of yet: it would be lost with it.
      Long pauseEnd = ks.unsentPauseEnd.get();
      if ((pauseEnd == null || pauseEnd - now <= 0) && settled(ks.fallback, now)
          && forgettable(ks.activeClients)) {
        Runnable hook = betweenSweepSteps;
        if (hook != null) {
          hook.run();
        }
        // Unless a call took it since its last use was read: what that call adds is kept.
        if (ks.dropUnusedSince(idle) && keys.remove(key, ks)) {
          freeRoom(ks.tableLimit);
        }
      }
    });
  }

  /**
   * Local state that may be dropped when idle (a key's in the table, a limit's beyond it): when
   * a call last used it, or {@link #DROPPED} once dropped, each set by compare-and-set, so a
   * call that found it just before its drop either sees the drop (and makes it anew) or stops
   * it. Else what that call adds (a pause, a call in line, the stores Redis saw) would go with
   * state no longer kept, and the next calls be granted on state made anew.
   */
  private abstract static class Droppable {
    /** The last use once dropped: no call may use it any more. */
    static final long DROPPED = Long.MIN_VALUE;
    private static final VarHandle LAST_USED;

    static {
      try {
        LAST_USED = MethodHandles.lookup()
            .findVarHandle(Droppable.class, "lastUsed", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** When a call last used it, or {@link #DROPPED}. */
    private volatile long lastUsed;

    Droppable(long now) {
      lastUsed = usable(now);
    }

    private static long usable(long now) {
      return now == DROPPED ? now + 1 : now; // never read as dropped
    }

    /**
     * Marks it used at {@code now}, unless it was dropped: then false, and the call makes it
     * anew.
     */
    final boolean use(long now) {
      long t = usable(now);
      for (;;) {
        long had = lastUsed;
        if (had == DROPPED) {
          return false;
        }
        if (LAST_USED.compareAndSet(this, had, t)) {
          return true;
        }
      }
    }

    /**
     * Its last use when that is over {@code IDLE_KEY_NANOS} before {@code now}, else
     * {@link #DROPPED}: read before what else decides the drop ({@link #dropUnusedSince}).
     */
    final long idleSince(long now) {
      long had = lastUsed;
      return had != DROPPED && now - had > IDLE_KEY_NANOS ? had : DROPPED;
    }

    /** Drops it unless a call used it since {@link #idleSince} answered {@code idle}. */
    final boolean dropUnusedSince(long idle) {
      return idle != DROPPED && LAST_USED.compareAndSet(this, idle, DROPPED);
    }
  }

  /**
   * Whether local state that saw {@code clients} stores using it may be dropped: not during an
   * outage when they are several and the fallback's share is theirs. State made anew has seen
   * none until Redis answers, so each store's calls would have the whole quota for the rest of
   * the outage. Out of one, the next answer tells them again.
   */
  private boolean forgettable(int clients) {
    return clients <= 1 || fallback.share > 0 || !down.get();
  }

  /** Whether {@code ref}'s bucket, if any, holds nothing a new one would not. */
  private static boolean settled(AtomicReference<LocalBucket> ref, long now) {
    LocalBucket b = ref.get();
    return b == null || b.settled(now);
  }

  private String[] redisKeys(String key) {
    String bucket = prefix + "{" + hash(key) + "}";
    return new String[] {bucket, bucket + ":clients"};
  }

  private static String hash(String key) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(java.util.Arrays.copyOf(d, 16));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }

  /** The Redis key of {@code key}'s bucket (for operators and tests). */
  public String redisKey(String key) {
    return redisKeys(key)[0];
  }

  /**
   * Closes the Redis connection, the Sentinel subscription and its thread (Sentinel URIs), and
   * the Lettuce resources this store created. Calls to
   * {@link #reserve} after close fail with {@link IllegalStateException}; one still waiting for
   * Redis is answered by the fallback, and logs no outage. Closing twice is harmless. On a thread
   * whose interrupt flag is set, close() does all the same (waiting for Lettuce's shutdown up to
   * a few seconds) and keeps the flag.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (watch != null) {
      watch.close();
    }
    client.stopResolving();
    if (resolvers != null) {
      // Before the event loops stop, which the client's shutdown does (Lettuce lets go of its
      // event loops there), not only the resources': the close of each resolver's UDP socket
      // runs on its loop.
      resolvers.close();
    }
    try {
      // Closes every connection of the client, the one being made included. Not
      // client.shutdown(...): it waits with Future.get(), which throws at once on a thread
      // whose interrupt flag is set (a cancelled task closing its store), skipping the rest.
      Future<?> shutdown = client.shutdownAsync(0, 2, TimeUnit.SECONDS);
      awaitUninterruptibly(TimeUnit.SECONDS.toNanos(3), nanos -> {
        try {
          shutdown.get(nanos, TimeUnit.NANOSECONDS);
        } catch (ExecutionException | TimeoutException e) {
          log.warn("closing the shared rate limit's Redis client did not end cleanly", e);
        }
        return true;
      });
    } finally {
      if (ownResources) {
        resources.shutdown(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Netty's DNS resolver as Lettuce's ClientResources make it by default, one per event loop,
   * but none made once closed. A connect still under way as close() goes by (a call that
   * reconnects) asks for a resolver on its loop after close() has closed them all: netty's group
   * would make one, opening a UDP socket that only the loop's termination would close, never.
   */
  static final class DnsResolverGroup extends DnsAddressResolverGroup {
    private volatile boolean closed;

    DnsResolverGroup() {
      super(new DnsNameResolverBuilder()
          .datagramChannelType(Transports.datagramChannelClass())
          .socketChannelType(Transports.socketChannelClass().asSubclass(SocketChannel.class))
          .cnameCache(new DefaultDnsCnameCache()).resolveCache(new DefaultDnsCache()));
    }

    /**
     * Called under the group's lock, which close() takes after setting the flag: a resolver is
     * either refused here (the connect fails, as the store is closed) or among those it closes.
     */
    @Override
    protected AddressResolver<InetSocketAddress> newResolver(EventLoop loop,
        ChannelFactory<? extends DatagramChannel> channels, DnsServerAddressStreamProvider servers)
        throws Exception {
      if (closed) {
        throw new IllegalStateException("the RedisRateLimitStore is closed");
      }
      return super.newResolver(loop, channels, servers);
    }

    @Override
    public void close() {
      closed = true;
      super.close();
    }
  }

  /** A wait of at most the nanoseconds given: true when what it waited for has ended. */
  interface TimedWait {
    boolean await(long nanos) throws InterruptedException;
  }

  /**
   * Waits with {@code wait} for up to {@code nanos} in all, an interrupt neither ending the wait
   * nor lost (the flag is set again after it), and returns what it returned: for a close on a
   * thread whose interrupt flag is set (a cancelled task closing its store), where the JDK's
   * and Lettuce's waits throw at once.
   */
  static boolean awaitUninterruptibly(long nanos, TimedWait wait) {
    long end = System.nanoTime() + nanos;
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return wait.await(Math.max(0, end - System.nanoTime()));
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public String toString() {
    return "RedisRateLimitStore[" + where + ", timeout " + Duration.ofNanos(timeoutNanos)
        + ", prefetch " + prefetch + ", when unavailable: " + fallback + "]";
  }

  /** What a key needs in this JVM: its Redis keys, pre-fetched permits, fallback bucket. */
  private static final class KeyState extends Droppable {
    private record Stock(int permits, long expiresAtNanos) {}

    private record Bands(RateLimit limit, String[] args) {}

    /** A booking in line Redis answered, for giveBack: by whom, its wait, its script token. */
    record Booking(long threadId, long waitNanos, String token) {}

    final String[] redisKeys;
    /** The fallback it shares with its limit's other keys beyond the table, or null. */
    final Overflow shared;
    final AtomicReference<LocalBucket> fallback;
    /** The limit it is counted under in the table (see keyState), or null beyond the table. */
    final RateLimit tableLimit;
    final AtomicReference<Stock> stock = new AtomicReference<>();
    /** The end of a server pause Redis has not heard of (see tellUnsentPause), or null. */
    final AtomicReference<Long> unsentPauseEnd = new AtomicReference<>();
    /** The latest booking in line Redis answered for the key (see giveBack), or null. */
    final AtomicReference<Booking> booking = new AtomicReference<>();
    final AtomicLong nextRegister;
    volatile int activeClients;
    /** Whether Redis refused this key's bucket ({@code WRONGTYPE}) since it last worked. */
    volatile boolean keyError;
    private volatile Bands bands;

    KeyState(String[] redisKeys, Overflow shared, RateLimit tableLimit, long now) {
      super(now);
      this.redisKeys = redisKeys;
      this.shared = shared;
      this.tableLimit = tableLimit;
      this.fallback = shared != null ? shared.bucket : new AtomicReference<>();
      this.nextRegister = new AtomicLong(now);
    }

    /** Whether this call should register the store as a user of the key (once a second). */
    boolean register(long now) {
      long next = nextRegister.get();
      return now - next >= 0 && nextRegister.compareAndSet(next, now + REGISTER_EVERY_NANOS);
    }

    /** The script's bandwidth arguments for {@code limit}, computed once per limit. */
    String[] bands(RateLimit limit) {
      Bands b = bands;
      if (b == null || b.limit != limit) {
        b = new Bands(limit, BucketScript.bands(limit));
        bands = b;
      }
      return b.args;
    }

    boolean takeStocked(long now) {
      for (;;) {
        Stock s = stock.get();
        if (s == null || s.permits == 0 || now - s.expiresAtNanos >= 0) {
          return false;
        }
        if (stock.compareAndSet(s, new Stock(s.permits - 1, s.expiresAtNanos))) {
          return true;
        }
      }
    }

    /**
     * Keeps {@code extra} permits until {@code now + STOCK_TTL_NANOS}, at most {@code cap} in
     * all; the rest are dropped unused, which can only make the shared limit stricter.
     */
    void addStock(int extra, long now, int cap) {
      for (;;) {
        Stock s = stock.get();
        int valid = s == null || now - s.expiresAtNanos >= 0 ? 0 : s.permits;
        Stock t = new Stock(Math.min(cap, valid + extra), now + STOCK_TTL_NANOS);
        if (stock.compareAndSet(s, t)) {
          return;
        }
      }
    }

    void clearStock() {
      stock.set(null);
    }

    /** A server pause until {@code end} that Redis did not hear of: the later end is kept. */
    void pauseUnsent(long end) {
      for (;;) {
        Long had = unsentPauseEnd.get();
        if ((had != null && had - end >= 0) || unsentPauseEnd.compareAndSet(had, end)) {
          return;
        }
      }
    }

    LocalBucket fallbackBucket(RateLimit limit, double share, long now) {
      return bucketIn(fallback, limit, share, now);
    }

    void dropFallback() {
      fallback.set(null);
    }

    /**
     * The bucket of a key error (see keyFailed): the key's own fallback bucket, or, for a key
     * beyond the table, its limit's key-error bucket, not the one an outage uses.
     */
    LocalBucket keyErrorBucket(RateLimit limit, double share, long now) {
      return bucketIn(shared != null ? shared.keyErrorBucket : fallback, limit, share, now);
    }

    /** Whether this state lives for one call only (the table was full): it keeps no stock. */
    boolean overflow() {
      return shared != null;
    }

    /** The bucket {@code ref} holds, or one made now and put there (the first one made wins). */
    private static LocalBucket bucketIn(
        AtomicReference<LocalBucket> ref, RateLimit limit, double share, long now) {
      LocalBucket b = ref.get();
      if (b != null) {
        return b;
      }
      LocalBucket fresh = new LocalBucket(limit, share, now);
      return ref.compareAndSet(null, fresh) ? fresh : ref.get();
    }
  }

  /** The name of the threads that resolve Redis's addresses (see ResolvingClient). */
  static final String RESOLVER_THREAD = "outrigger-redis-resolve";

  /**
   * Lettuce's client, asking the resources' address resolver on a thread of its own rather than
   * on the thread that connects. Lettuce calls it inside {@code connectAsync()}, on that thread:
   * a user's synchronous {@code DnsResolver} that hangs (a DNS server gone) held build() past its
   * connectTimeout, a call that reconnected past the store's timeout, and the Sentinel watch's
   * thread, for as long as it hung. Off that thread it is part of the connect, which every caller
   * waits for within its own bound, and each connect waits for it at most the connectTimeout:
   * one that gets no address by then fails, and the resolution's thread is interrupted.
   *
   * <p>One resolution per address at a time: a connect made while one is under way (a
   * resolver that ignored its interrupt, say) waits for that one, within its own connectTimeout,
   * rather than starting another. Starting one per connect left one thread behind per connect
   * while the resolver hung, about one a second with the probes, and each was forgotten at its
   * timeout, out of close()'s reach. A resolution that ends, answered or not, is forgotten, so
   * the next connect asks the resolver again: nothing is cached here.
   *
   * <p>The thread is a platform daemon thread, not a virtual one: a resolver may block in native
   * code or inside {@code synchronized} ({@code InetAddress}'s own lookups do both), which would
   * pin a carrier thread that the application's virtual threads need. A connect that finds no
   * resolution under way starts one; a call on a connection it has starts none, nor does a
   * connect to a Unix socket (nothing to resolve). {@link #stopResolving()} interrupts the
   * resolutions under way, for close(); one whose resolver ignores that lives on as a daemon
   * thread until the resolver returns, as nothing else can end it.
   */
  private static final class ResolvingClient extends RedisClient {
    /** The resolutions under way, by host and port. */
    private final ConcurrentHashMap<String, Resolution> pending = new ConcurrentHashMap<>();
    private volatile boolean stopped;

    /** One resolution: its thread (set before it is started) and its answer. */
    private static final class Resolution {
      final CompletableFuture<SocketAddress> answer = new CompletableFuture<>();
      final long startedNanos = System.nanoTime();
      volatile Thread thread;
    }

    ResolvingClient(ClientResources resources) {
      super(resources, new RedisURI());
    }

    @Override
    protected Mono<SocketAddress> getSocketAddress(RedisURI target) {
      if (target.getSocket() != null
          || (target.getSentinelMasterId() != null && !target.getSentinels().isEmpty())) {
        // A Unix socket: nothing to resolve. Through Sentinel: Lettuce's lookup through the
        // Sentinels, each of which it connects to through here.
        return super.getSocketAddress(target);
      }
      return Mono.defer(() -> {
        String key = target.getHost() + ":" + target.getPort();
        Resolution mine = new Resolution();
        Resolution r = pending.putIfAbsent(key, mine);
        boolean joined = r != null;
        if (!joined) {
          r = mine;
          start(target, key, mine);
        }
        Resolution resolution = r;
        Duration bound = getOptions().getSocketOptions().getConnectTimeout();
        // This connect's own wait: its timeout, or Lettuce's cancelling it, leaves the shared
        // answer to the connects that still wait for it.
        CompletableFuture<SocketAddress> waited =
            resolution.answer.copy().orTimeout(bound.toNanos(), TimeUnit.NANOSECONDS);
        waited.whenComplete((a, e) -> {
          // At this connect's timeout, or its cancel by Lettuce once the resolution has had a
          // connectTimeout: a connect cancelled sooner leaves the others' resolution alone.
          if (e != null && !resolution.answer.isDone()
              && System.nanoTime() - resolution.startedNanos >= bound.toNanos()) {
            Thread t = resolution.thread;
            if (t != null) {
              t.interrupt(); // again at each connect it failed: a resolver may heed a later one
            }
          }
        });
        return Mono.fromFuture(waited).onErrorMap(TimeoutException.class,
            e -> new RedisConnectionException("Resolving " + target.getHost()
                + " took more than the connectTimeout, " + bound.toMillis() + " ms: the"
                + " address resolver (ClientResources' socketAddressResolver or its DnsResolver)"
                + " did not answer" + (joined ? " (this connect waited for a resolution started "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - resolution.startedNanos)
                + " ms ago; one at a time per address)" : ""), e));
      });
    }

    private void start(RedisURI target, String key, Resolution r) {
      Thread t = Thread.ofPlatform().daemon().name(RESOLVER_THREAD).unstarted(() -> {
        try {
          r.answer.complete(getResources().socketAddressResolver().resolve(target));
        } catch (Throwable e) { // an Error too: it fails the connects waiting, as any failure
          r.answer.completeExceptionally(e);
        } finally {
          pending.remove(key, r);
        }
      });
      r.thread = t;
      try {
        t.start();
      } catch (Throwable e) { // no thread to be had (out of memory): only this connect fails
        pending.remove(key, r);
        r.answer.completeExceptionally(e);
        throw e;
      }
      if (stopped) {
        t.interrupt(); // started as close() went by
      }
    }

    /** Interrupts the resolutions under way and any started from now on. */
    void stopResolving() {
      stopped = true;
      for (Resolution r : pending.values()) {
        Thread t = r.thread;
        if (t != null) {
          t.interrupt();
        }
      }
    }
  }

  /**
   * What a store does while Redis cannot be reached. Immutable.
   *
   * <p>The default, {@link #localShareOfActiveClients()}, gives each JVM a local bucket with
   * {@code 1 / N} of the quota, {@code N} being the number of stores Redis saw using the key in
   * the last 10 seconds, so the replicas together stay near the quota.
   */
  public static final class Fallback {
    private final boolean failFast;
    private final double share;

    private Fallback(boolean failFast, double share) {
      this.failFast = failFast;
      this.share = share;
    }

    /** Refuses rate-limited calls with {@link RateLimitedException} until Redis answers. */
    public static Fallback failFast() {
      return new Fallback(true, 0);
    }

    /**
     * A local bucket with {@code share} of each bandwidth's rate and burst (at least one permit).
     *
     * @throws IllegalArgumentException if {@code share} is not in (0, 1]
     */
    public static Fallback localShare(double share) {
      if (!(share > 0 && share <= 1)) {
        throw new IllegalArgumentException(
            "localShare must be greater than 0 and at most 1 (a fraction: 0.25 for 25%), but was "
                + share);
      }
      return new Fallback(false, share);
    }

    /**
     * The default: a local bucket with {@code 1 / N} of each bandwidth, {@code N} the clients
     * Redis saw using the key in the last 10 s (the whole quota when Redis was never reached).
     */
    public static Fallback localShareOfActiveClients() {
      return new Fallback(false, 0);
    }

    @Override
    public String toString() {
      return failFast ? "fail fast" : share > 0 ? "local share " + share
          : "local share 1/active clients";
    }
  }

  /** Configures a {@link RedisRateLimitStore}. Not thread-safe; {@link #build()} copies. */
  public static final class Builder {
    private final String redisUri;
    private String keyPrefix = "outrigger:ratelimit:";
    private Duration timeout = Duration.ofMillis(10);
    private Duration connectTimeout = Duration.ofSeconds(1);
    private Duration probeInterval = Duration.ofSeconds(1);
    private int prefetch = 1;
    private Fallback fallback = Fallback.localShareOfActiveClients();
    private ClientResources resources;
    private LongSupplier nanos = System::nanoTime;

    private Builder(String redisUri) {
      RedisUris.requireSocketTransport(redisUri, RedisUris.parse(redisUri));
      this.redisUri = redisUri;
    }

    /**
     * The prefix of every Redis key the store writes (default {@code outrigger:ratelimit:}).
     *
     * @throws IllegalArgumentException if {@code prefix} is null
     */
    public Builder keyPrefix(String prefix) {
      if (prefix == null) {
        throw new IllegalArgumentException("keyPrefix must not be null");
      }
      this.keyPrefix = prefix;
      return this;
    }

    /**
     * The longest a call waits for Redis before using the fallback (default 10 ms).
     *
     * @throws IllegalArgumentException if {@code timeout} is not positive or over 10 s
     */
    public Builder timeout(Duration timeout) {
      this.timeout = between(timeout, "timeout", Duration.ofSeconds(10));
      return this;
    }

    /**
     * The longest {@link #build()} waits for the first connection (and, through Sentinel, for
     * the subscription to its master switches), and a reconnection may take (default 1 s): the
     * TCP connect, and Lettuce's handshake (and Sentinel lookup) after it, which Lettuce would
     * otherwise give 60 s. For build(), one budget for all its network steps: the connect, the
     * script's loading and a first run of it (and, through Sentinel, the first subscription,
     * made beside them) are done within it in all, not within it each; through Sentinel, with
     * one more for each Sentinel of the URI, which Lettuce asks in turn, each for up to this
     * long. A store whose Redis is down at start (or does not answer all that in time) starts
     * in fallback; it does not fail. It bounds the network part only: build() counts it from
     * when Lettuce starts connecting, not while Lettuce first sets a connection up in the JVM
     * (class loading and a scan of its command API, once per JVM, local work that can take
     * longer than the timeout on a cold JVM; a TLS context, set up after that, does count, and
     * so does the resolution of an address by the {@link #clientResources} resolver).
     *
     * @throws IllegalArgumentException if {@code connectTimeout} is not positive or over 1 min
     */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = between(connectTimeout, "connectTimeout", Duration.ofMinutes(1));
      return this;
    }

    /**
     * How often, while Redis is unavailable, one call asks it again (default 1 s). Through
     * Sentinel, also how often the store checks its subscription to the master switches (a
     * {@code PING}) and, when no Sentinel takes it, how long it waits before trying again:
     * twice as long after each try that fails, up to 30 s (or {@code probeInterval} when
     * longer).
     *
     * @throws IllegalArgumentException if {@code probeInterval} is not positive or over 1 min
     */
    public Builder probeInterval(Duration probeInterval) {
      this.probeInterval = between(probeInterval, "probeInterval", Duration.ofMinutes(1));
      return this;
    }

    /**
     * The most permits one round trip takes when they are available now; the extra ones serve
     * the next calls of this JVM for up to one second (default 1: no pre-fetching). Raises the
     * bound on what the server can see by {@code N * (prefetch - 1)} for {@code N} stores. A key
     * beyond the limit's {@link RateLimit#maxKeys(int)}, with no local state to keep them in,
     * takes only the permit it uses.
     *
     * @throws IllegalArgumentException if {@code prefetch} is not between 1 and 1000
     */
    public Builder prefetch(int prefetch) {
      if (prefetch < 1 || prefetch > 1000) {
        throw new IllegalArgumentException(
            "prefetch must be between 1 and 1000, but was " + prefetch);
      }
      this.prefetch = prefetch;
      return this;
    }

    /**
     * What to do while Redis is unavailable (default
     * {@link Fallback#localShareOfActiveClients()}).
     */
    public Builder fallback(Fallback fallback) {
      this.fallback = Objects.requireNonNull(fallback, "fallback");
      return this;
    }

    /**
     * Lettuce resources (event loops) to share with other Redis clients of the application
     * (default: the store creates its own and shuts them down on close). Their address resolver
     * (a synchronous {@code DnsResolver}, say) is asked on a platform daemon thread of the
     * store's ({@code outrigger-redis-resolve}, one at a time per address), not on the thread
     * that connects: one that hangs holds build() no longer than its connectTimeout, and a call
     * no longer than its timeout, the store being unavailable meanwhile as for a Redis that does
     * not answer. A resolution unanswered after the connectTimeout fails its connect and is
     * interrupted; while it is still under way (a resolver that ignores interrupts), the next
     * connects wait for it, each within its connectTimeout, rather than start another thread, so
     * a hung resolver holds one thread, not one per connect. {@link RedisRateLimitStore#close()}
     * interrupts one under way.
     *
     * <p>Through Sentinel, the master's address that a Sentinel names is resolved by Lettuce
     * itself, on one of its netty event-loop threads: a resolver that hangs there blocks that
     * event loop, and the connections it serves, for as long as it hangs. With Sentinel, give a
     * resolver that cannot hang.
     */
    public Builder clientResources(ClientResources resources) {
      this.resources = Objects.requireNonNull(resources, "resources");
      return this;
    }

    Builder nanos(LongSupplier nanos) {
      this.nanos = Objects.requireNonNull(nanos, "nanos");
      return this;
    }

    /**
     * Connects and loads the script, waiting up to {@link #connectTimeout} in all (not per
     * step) once Lettuce has set the connection up and starts connecting. When Redis cannot be
     * reached (or gives no connection or answer within that time), the store starts unavailable
     * (one WARN naming the step it was at) and keeps asking. On a thread whose
     * interrupt flag is set, build() keeps the flag, and the wait for Redis ends at once: the
     * store starts unavailable the same way ("interrupted while connecting").
     *
     * @throws IllegalArgumentException if Redis answers that it has no database of the URI's
     *     number, or, through Sentinel, the first Sentinel of the URI that answers does not
     *     know the master it names
     */
    public RedisRateLimitStore build() {
      return new RedisRateLimitStore(this);
    }

    private static Duration between(Duration d, String name, Duration max) {
      Objects.requireNonNull(d, name);
      if (d.isNegative() || d.isZero() || d.compareTo(max) > 0) {
        throw new IllegalArgumentException(
            name + " must be positive and at most " + max + ", but was " + d);
      }
      return d;
    }
  }
}
