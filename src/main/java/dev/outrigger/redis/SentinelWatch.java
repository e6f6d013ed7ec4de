package dev.outrigger.redis;

import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.ValueListOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows Sentinel's {@code +switch-master} announcements for one master, so that a store stops
 * asking the old master as soon as a Sentinel has switched, rather than when the old master
 * refuses writes or Sentinel drops its clients (about 10 s later).
 *
 * <p>One pub/sub connection, to one Sentinel at a time, subscribed to {@code +switch-master}.
 * Before subscribing it asks that Sentinel which master it names now: one that differs from the
 * last known is a switch missed while no Sentinel was subscribed (a Sentinel restarting, say),
 * and a Sentinel that names none does not know the master (it would never announce its
 * switches) and is passed for the next. A subscription that is lost (its connection closed, a
 * {@code PING} unanswered) moves to the next Sentinel at once, as does one a Sentinel refuses
 * (an ACL, a password). When no Sentinel takes it, one WARN, then a new round after a back-off
 * ({@link #backOffNanos}: the check interval, doubled after each round that fails, at most
 * {@link #MAX_BACK_OFF_NANOS}) until one does (one INFO). Meanwhile the store works as without
 * the watch: it notices a failover when the old master refuses writes or drops the connection.
 * The first Sentinel connected to says whether it knows the master at all ({@link #unknownTo}),
 * which the store's build asks when its lookup fails.
 *
 * <p>Everything runs on the watch's own thread: Lettuce's callbacks only hand their results to
 * it, so its state needs no lock, and no rate-limit call waits for it. {@link #close()} stops
 * the thread; the store's client closes the connection.
 */
final class SentinelWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RedisRateLimitStore.class);
  /** Sentinel's channel announcing a master's new address. */
  static final String SWITCH_MASTER = "+switch-master";
  static final String THREAD_NAME = "outrigger-sentinel-watch";
  /**
   * The longest wait between two rounds in which no Sentinel takes the subscription (unless the
   * check interval is longer): Lettuce's own cap on its reconnection delay. A Sentinel that
   * refuses (an ACL, a password) is not asked every second for ever, and one back after an
   * outage is subscribed on again within 30 s.
   */
  static final long MAX_BACK_OFF_NANOS = TimeUnit.SECONDS.toNanos(30);
  /**
   * The longest a build waits for the watch's thread to set up its first connect before it
   * counts the connect timeout: local work, about a second at most in a cold JVM on a slow
   * machine (the bound is for a thread that never gets there).
   */
  private static final long MAX_SET_UP_NANOS = TimeUnit.SECONDS.toNanos(10);

  /** Told, on the watch's thread, where the master is now; must not block. */
  interface Listener {
    /** The master moved to {@code host:port}: ask it from now on. */
    void masterSwitched(String host, int port);

    /**
     * Checks whether the master in use still acts as one; completes with why not (it is a
     * replica now, it does not answer), or with null when it does. Must not block.
     */
    CompletionStage<String> whyNotMaster();
  }

  private record Address(String host, int port) {
    @Override
    public String toString() {
      return RedisUris.hostPort(host, port);
    }
  }

  private final RedisClient client;
  private final String masterId;
  private final String where;
  private final List<RedisURI> sentinels;
  private final long checkNanos;
  private final LongSupplier nanos;
  private final Listener listener;
  private final ScheduledThreadPoolExecutor thread;
  /** Completed when the first round of subscribing ends, subscribed or not. */
  private final CompletableFuture<Void> firstRound = new CompletableFuture<>();
  /**
   * Completed with the time the first connect to a Sentinel started, once Lettuce had set it up
   * on the watch's thread (see awaitFirstRound).
   */
  private final CompletableFuture<Long> firstConnect = new CompletableFuture<>();
  /** The first Sentinel connected to, when it answered that it does not know the master. */
  private volatile String unknownTo;
  private volatile boolean closed;

  // Touched on the watch's thread only.
  private StatefulRedisPubSubConnection<String, String> current;
  private RedisURI currentSentinel;
  private boolean connecting;
  private boolean pinging;
  private int next;
  private int triesLeft;
  /** Why each Sentinel of this round did not take the subscription. */
  private final List<String> roundFailures = new ArrayList<>();
  /** Rounds in a row in which no Sentinel took it; the next waits until nextRound. */
  private int failedRounds;
  private long nextRound;
  /** Whether this episode of no subscription has been warned of (re-armed on subscribing). */
  private boolean warnedUnsubscribed;
  /** Whether a failure of the watch itself (a bug) has been warned of: once for its life. */
  private boolean warnedFailure;
  private Address master;
  /** Whether a Sentinel has been connected to (and asked which master it names). */
  private boolean askedOne;
  /** Master switches acted on: a check begun before one is stale when it ends. */
  private long switches;
  /** Subscriptions taken: a check begun before a later one is stale when it ends. */
  private long subscriptions;

  /**
   * A watch of {@code uri}'s master through its Sentinels, connecting with {@code client}
   * (whose shutdown closes the connection), checking every {@code checkNanos} and backing off
   * on {@code nanos}'s time; {@link #start()} starts it.
   */
  SentinelWatch(RedisClient client, RedisURI uri, String where, long checkNanos,
      LongSupplier nanos, Listener listener) {
    this.client = client;
    this.masterId = uri.getSentinelMasterId();
    this.where = where;
    this.sentinels = uri.getSentinels().stream().map(s -> subscriberUri(s, uri)).toList();
    this.checkNanos = checkNanos;
    this.nanos = nanos;
    this.listener = listener;
    this.thread = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, THREAD_NAME);
      t.setDaemon(true);
      return t;
    });
    thread.setRemoveOnCancelPolicy(true);
  }

  /**
   * A Sentinel's own URI (its address, credentials and TLS, as Lettuce's lookups use it), with
   * the master URI's client and library names, which Lettuce gives its Sentinel lookups too.
   */
  private static RedisURI subscriberUri(RedisURI sentinel, RedisURI master) {
    RedisURI.Builder b = RedisURI.builder(sentinel);
    if (master.getClientName() != null) {
      b.withClientName(master.getClientName());
    }
    if (master.getLibraryName() != null) {
      b.withLibraryName(master.getLibraryName());
    }
    if (master.getLibraryVersion() != null) {
      b.withLibraryVersion(master.getLibraryVersion());
    }
    return b.build();
  }

  /**
   * The wait after {@code failedRounds} (at least 1) rounds in a row in which no Sentinel took
   * the subscription: {@code checkNanos}, doubled for each further round, at most
   * {@link #MAX_BACK_OFF_NANOS} or {@code checkNanos} when that is longer.
   */
  static long backOffNanos(int failedRounds, long checkNanos) {
    long cap = Math.max(checkNanos, MAX_BACK_OFF_NANOS);
    long wait = checkNanos;
    for (int i = 1; i < failedRounds && wait < cap; i++) {
      wait *= 2; // no overflow: wait < cap <= 1 min before doubling
    }
    return Math.min(wait, cap);
  }

  /** Subscribes at once, then checks the subscription every check interval. */
  void start() {
    thread.scheduleWithFixedDelay(() -> guarded(this::check), 0, checkNanos,
        TimeUnit.NANOSECONDS);
  }

  /**
   * Waits until the first round of subscribing has ended, at most {@code waitNanos} after its
   * first connect started; an interrupt ends the wait and is kept. The time Lettuce takes to set
   * that connect up on the watch's thread before it starts is not counted: in a cold JVM its
   * pub/sub connection's first set-up (a reflective scan of its command API, once per JVM) can
   * take longer than the whole connect timeout. That wait has a bound of its own,
   * {@link #MAX_SET_UP_NANOS}, in case the watch's thread never starts the connect.
   */
  void awaitFirstRound(long waitNanos) {
    try {
      long started = firstConnect.get(MAX_SET_UP_NANOS, TimeUnit.NANOSECONDS);
      firstRound.get(Math.max(0, started + waitNanos - nanos.getAsLong()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException | ExecutionException e) {
      // Still trying: the store works without it meanwhile.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Waits as {@link #awaitFirstRound} does until the first round of subscribing has ended, then
   * tells whether the first Sentinel it connected to answered that it does not know the master:
   * its {@code host:port}, or null. Lettuce's lookup asks the first Sentinel of the URI that
   * takes a connection, as the watch's first round does: a master that one does not know fails
   * the lookup for good, whatever the next ones know.
   */
  String unknownTo(long waitNanos) {
    awaitFirstRound(waitNanos);
    return unknownTo;
  }

  /**
   * Stops the watch's thread and waits (up to 2 s) until it has ended, also on a thread whose
   * interrupt flag is set (kept). The connection is the client's to close: the store shuts its
   * client down next (closing it here too would make Lettuce warn that it is already closed).
   */
  @Override
  public void close() {
    closed = true;
    thread.shutdownNow();
    // awaitTermination throws at once on a set interrupt flag: wait all the same.
    if (!RedisRateLimitStore.awaitUninterruptibly(TimeUnit.SECONDS.toNanos(2),
        nanos -> thread.awaitTermination(nanos, TimeUnit.NANOSECONDS))) {
      log.debug("the Sentinel watch of {} did not stop within 2 s", where);
    }
  }

  /** Runs {@code task} on the watch's thread; false when the watch is closed. */
  private boolean onWatch(Runnable task) {
    if (closed) {
      return false;
    }
    try {
      thread.execute(() -> {
        if (!closed) {
          guarded(task);
        }
      });
      return true;
    } catch (RejectedExecutionException e) {
      return false; // closed meanwhile
    }
  }

  /**
   * Runs {@code task}; an exception (a bug here or in the store's listener, or an answer Lettuce
   * did not expect) must not end the periodic check. Warned of once for the watch's life, with
   * its own flag: it says nothing of whether a Sentinel takes the subscription.
   */
  private void guarded(Runnable task) {
    try {
      task.run();
    } catch (Throwable e) { // an Error too: one escaping would end the periodic check for good
      if (!warnedFailure) {
        warnedFailure = true;
        log.warn("shared rate limit in Redis at {}: following Sentinel's master switches "
            + "failed", where, e);
      } else {
        log.debug("shared rate limit in Redis at {}: following Sentinel's master switches "
            + "failed again", where, e);
      }
    }
  }

  private void check() {
    if (current != null) {
      if (!current.isOpen()) {
        lost(current, "its connection closed");
      } else if (!pinging) {
        ping(current);
      }
    } else if (!connecting && (failedRounds == 0 || nanos.getAsLong() - nextRound >= 0)) {
      startRound();
    }
  }

  /** Tries each Sentinel once, from the next one, until one takes the subscription. */
  private void startRound() {
    triesLeft = sentinels.size();
    roundFailures.clear();
    tryNext();
  }

  /**
   * A Sentinel that stops answering (its host gone, the network cut) closes no connection. One
   * that answers with an error (an ACL refusing PING) is there, and so is the subscription.
   */
  private void ping(StatefulRedisPubSubConnection<String, String> c) {
    pinging = true;
    c.async().ping().whenComplete((pong, e) -> onWatch(() -> {
      pinging = false;
      if (e != null && c == current && !RedisRateLimitStore.causedBy(e, error -> true)) {
        lost(c, "no answer to PING: " + RedisRateLimitStore.reason(e));
      }
    }));
  }

  private void lost(StatefulRedisPubSubConnection<String, String> c, String why) {
    log.debug("shared rate limit in Redis at {}: subscription on Sentinel {} lost ({}), "
        + "subscribing on the next one", where, address(currentSentinel), why);
    current = null;
    currentSentinel = null;
    pinging = false;
    c.closeAsync();
    // The next Sentinel first: the lost one comes last in the round.
    startRound();
  }

  private void tryNext() {
    connecting = true;
    RedisURI sentinel = sentinels.get(next);
    next = (next + 1) % sentinels.size();
    CompletableFuture<StatefulRedisPubSubConnection<String, String>> f;
    try {
      f = client.connectPubSubAsync(StringCodec.UTF8, sentinel).toCompletableFuture();
    } catch (RuntimeException e) {
      if (!firstConnect.isDone()) {
        firstConnect.complete(nanos.getAsLong());
      }
      failed(sentinel, RedisRateLimitStore.reason(e));
      return;
    } catch (Error e) {
      // (Out of memory, a class that failed to initialise.) Not swallowed, but build() is not
      // left waiting for a set-up that will not come, nor a later round shut out.
      connecting = false;
      firstConnect.complete(nanos.getAsLong());
      throw e;
    }
    if (!firstConnect.isDone()) {
      // Set up: connecting from now on (see awaitFirstRound).
      firstConnect.complete(nanos.getAsLong());
    }
    f.whenComplete((c, e) -> {
      if (!onWatch(() -> connected(sentinel, c, e)) && c != null) {
        c.closeAsync();
      }
    });
  }

  private void connected(RedisURI sentinel, StatefulRedisPubSubConnection<String, String> c,
      Throwable e) {
    if (e != null) {
      failed(sentinel, RedisRateLimitStore.reason(e));
      return;
    }
    c.addListener(new RedisConnectionStateListener() {
      @Override
      public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
        onWatch(() -> {
          if (c == current) {
            lost(c, "Sentinel closed the connection");
          }
        });
      }
    });
    c.addListener(new RedisPubSubAdapter<String, String>() {
      @Override
      public void message(String channel, String message) {
        if (SWITCH_MASTER.equals(channel)) {
          onWatch(() -> announced(c, message));
        }
      }
    });
    // Asked before subscribing: a subscribed RESP2 connection takes no other command. A
    // Sentinel that does not know the master (no address) would never announce its switches:
    // not subscribed on, the next one is tried. Not answered (a Sentinel whose ACL refuses
    // SENTINEL): subscribed all the same.
    c.async().dispatch(CommandType.SENTINEL, new ValueListOutput<>(StringCodec.UTF8),
            new CommandArgs<>(StringCodec.UTF8).add("get-master-addr-by-name").add(masterId))
        .exceptionally(refused -> null)
        .thenCompose(named -> named != null && address(named) == null
            ? CompletableFuture.completedFuture(named)
            : c.async().subscribe(SWITCH_MASTER).thenApply(ok -> named))
        .whenComplete((named, failure) -> {
          if (!onWatch(() -> subscribed(sentinel, c, named, failure))) {
            c.closeAsync();
          }
        });
  }

  private void subscribed(RedisURI sentinel, StatefulRedisPubSubConnection<String, String> c,
      List<String> named, Throwable e) {
    if (!askedOne) {
      askedOne = true;
      if (e == null && named != null && address(named) == null) {
        unknownTo = address(sentinel);
      }
    }
    if (e != null) {
      c.closeAsync();
      failed(sentinel, RedisRateLimitStore.reason(e));
      return;
    }
    Address now = named == null ? null : address(named);
    if (named != null && now == null) {
      c.closeAsync(); // not subscribed (see connected)
      failed(sentinel, "it does not know master '" + masterId + "'");
      return;
    }
    connecting = false;
    failedRounds = 0;
    current = c;
    currentSentinel = sentinel;
    subscriptions++;
    firstRound.complete(null);
    if (warnedUnsubscribed) {
      warnedUnsubscribed = false;
      log.info("shared rate limit in Redis at {}: following Sentinel's master switches again, "
          + "through Sentinel {}", where, address(sentinel));
    } else {
      log.debug("shared rate limit in Redis at {}: following Sentinel's master switches "
          + "through Sentinel {}", where, address(sentinel));
    }
    if (now != null && master != null && !now.equals(master)) {
      // A switch missed while no Sentinel was subscribed, or a Sentinel that lags: no config
      // epoch comes with the name, so the store checks the master it uses before it moves.
      log.debug("shared rate limit in Redis at {}: Sentinel {}, subscribed to again, names {} as "
          + "the master, not {}", where, address(sentinel), now, master);
      long atSwitch = switches;
      long atSubscription = subscriptions;
      listener.whyNotMaster().whenComplete((why, failure) -> onWatch(
          () -> checked(sentinel, now, atSwitch, atSubscription, why, failure)));
    } else if (now != null) {
      master = now;
    }
  }

  /**
   * The master in use was checked after {@code sentinel} named {@code now} on subscribing:
   * {@code why} it no longer acts as one, or null. The master known changes only if the store
   * moves: one that stayed (the Sentinel lags) must still see a later +switch-master to that
   * very node as a switch.
   */
  private void checked(RedisURI sentinel, Address now, long atSwitch, long atSubscription,
      String why, Throwable e) {
    if (e != null) {
      throw new IllegalStateException("checking the master in use failed", e);
    }
    if (switches != atSwitch || subscriptions != atSubscription) {
      // Newer word came during the check: an announced switch (which closed the connection
      // checked, so the check says it does not answer), or another Sentinel's name.
      log.info("shared rate limit in Redis at {}: not moving to {}, named by Sentinel {} on "
          + "subscribing again: {} since", where, now, address(sentinel),
          switches != atSwitch ? "the master moved to " + master : "a Sentinel was subscribed to");
      return;
    }
    if (why == null) {
      log.info("shared rate limit in Redis at {}: Sentinel {}, subscribed to again, names {} as "
          + "the master, but the one in use still acts as the master: staying", where,
          address(sentinel), now);
      return;
    }
    switched(now, "named by Sentinel " + address(sentinel) + " on subscribing again; the one in "
        + "use " + why);
  }

  /** {@code sentinel} did not take the subscription, {@code why}: the next one is tried. */
  private void failed(RedisURI sentinel, String why) {
    connecting = false;
    roundFailures.add(address(sentinel) + ": " + why);
    if (--triesLeft > 0) {
      log.debug("shared rate limit in Redis at {}: cannot subscribe on Sentinel {} ({}), "
          + "trying the next one", where, address(sentinel), why);
      tryNext();
      return;
    }
    boolean firstRoundEnds = firstRound.complete(null);
    // A Sentinel that refuses (an ACL, a password) refuses the next round too: each round
    // waits twice as long as the last, up to a cap.
    failedRounds++;
    long wait = backOffNanos(failedRounds, checkNanos);
    nextRound = nanos.getAsLong() + wait;
    // The periodic check would start the round up to one check interval late: check when due.
    try {
      thread.schedule(() -> guarded(this::check), wait, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException closedMeanwhile) {
      // No round after close().
    }
    String all = String.join("; ", roundFailures);
    if (firstRoundEnds && unknownTo != null) {
      // The store's build fails, saying so (see unknownTo): a WARN would say it twice.
      log.debug("shared rate limit in Redis at {}: cannot follow Sentinel's master switches "
          + "({})", where, all);
    } else if (!warnedUnsubscribed) {
      warnedUnsubscribed = true;
      log.warn("shared rate limit in Redis at {}: cannot follow Sentinel's master switches "
          + "({}); until a Sentinel takes the subscription, a failover is noticed only when "
          + "the old master refuses writes or closes the connection; trying again in {} ms, "
          + "then twice as long after each try that fails, up to {} s", where, all,
          wait / 1_000_000, Math.max(checkNanos, MAX_BACK_OFF_NANOS) / 1_000_000_000);
    } else {
      log.debug("shared rate limit in Redis at {}: still cannot follow Sentinel's master "
          + "switches ({}); trying again in {} ms", where, all, wait / 1_000_000);
    }
  }

  /** {@code message}: {@code <master name> <old ip> <old port> <new ip> <new port>}. */
  private void announced(StatefulRedisPubSubConnection<String, String> c, String message) {
    String[] words = message.split(" ");
    if (c != current || words.length != 5 || !words[0].equals(masterId)) {
      return;
    }
    Address now = address(words[3], words[4]);
    // Every announcement is acted on, even one naming the master the watch last knew: that can
    // be stale (the store reconnected through Sentinel's lookup after a failover announced
    // while no Sentinel was subscribed, and a ROLE check that finds the master in use still a
    // master says nothing of its address), and ignoring a failback to it would leave the store
    // on the old master. An announcement the store already followed costs one reconnect.
    if (now != null) {
      switched(now, "announced by Sentinel " + address(currentSentinel));
    }
  }

  private void switched(Address now, String how) {
    Address before = master;
    master = now;
    switches++;
    // Acted on before it is logged: whoever reads the line finds the store asking the new master.
    listener.masterSwitched(now.host(), now.port());
    // A switch to the master last heard of: the store may have moved since through Sentinel's
    // lookup, which the watch does not hear.
    String from = before == null ? "?" : before.equals(now)
        ? "where Sentinel's lookup took it" : before.toString();
    log.info("shared rate limit in Redis at {}: the master moved from {} to {} ({}): asking "
        + "the new master from now on", where, from, now, how);
  }

  /** The address in a Sentinel's answer to get-master-addr-by-name; null when it names none. */
  private static Address address(List<String> named) {
    return named.size() == 2 && named.get(0) != null && named.get(1) != null
        ? address(named.get(0), named.get(1)) : null;
  }

  private static Address address(String host, String port) {
    try {
      return new Address(host, Integer.parseInt(port));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static String address(RedisURI sentinel) {
    return sentinel == null ? "?" : RedisUris.hostPort(sentinel.getHost(), sentinel.getPort());
  }
}
