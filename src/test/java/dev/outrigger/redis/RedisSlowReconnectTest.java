package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import io.lettuce.core.event.connection.ConnectionDeactivatedEvent;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.NettyCustomizer;
import io.netty.bootstrap.Bootstrap;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.Disposable;

/**
 * A reconnection slower than the store's timeout (a failover, a far Redis): the callers that give
 * up waiting must leave the pending connect for the next ones, not start (and leak) one each.
 *
 * <p>Nothing here sleeps to let something happen. The tests wait for what they need to have
 * happened, each for at most {@link #WAIT_SECONDS}: Lettuce's event for the connection the store
 * lost, a connect the proxy holds or has let through, Redis dropping a client (the proxy sees
 * Redis close its side). A probe interval is crossed on the store's own clock.
 */
class RedisSlowReconnectTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();
  private static final RateLimit LIMIT = RateLimit.perSecond(1000).burst(100);
  private static final Duration TIMEOUT = Duration.ofMillis(20);
  private static final Duration PROBE = Duration.ofMillis(50);
  /**
   * Far above the time the proxy holds a connect, so Lettuce never gives one up: a connect here is
   * slow (longer than the callers wait), not failed.
   */
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
  /** The longest a test waits for something to happen before it fails. */
  private static final long WAIT_SECONDS = 10;

  /** Wakes the test whenever the proxy or Lettuce reports a change. One per test. */
  private final Changes changes = new Changes();

  @BeforeEach
  void setUp() throws Exception {
    redis.start();
    // Exact, not awaited: each test's proxy, as it closes, waits until Redis dropped its clients.
    assertEquals(0, clients(), "connections to Redis before the test");
  }

  /** A monitor the tests wait on; every change in the proxy or Lettuce signals it. */
  private static final class Changes {
    synchronized void signal() {
      notifyAll();
    }

    /** Waits until {@code done} (up to {@link #WAIT_SECONDS}); whether it came. */
    synchronized boolean await(BooleanSupplier done) throws InterruptedException {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
      while (!done.getAsBoolean()) {
        long left = end - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return true;
    }

    void require(BooleanSupplier done, Supplier<String> what) throws InterruptedException {
      if (!await(done)) {
        throw new AssertionError("waited " + WAIT_SECONDS + " s for " + what.get());
      }
    }
  }

  /**
   * The store's Lettuce resources, which tell the test when its client starts a connect (netty's
   * bootstrap is set up on the caller's thread, inside {@code connectAsync}) and when a connection
   * of it is lost (Lettuce's {@link ConnectionDeactivatedEvent}, published once the connection
   * says it is no longer open, which is what the store checks before reconnecting).
   */
  private final class Lettuce implements AutoCloseable {
    final AtomicInteger connectsStarted = new AtomicInteger();
    final AtomicInteger connectionsLost = new AtomicInteger();
    final ClientResources resources;
    private final Disposable events;

    Lettuce() {
      resources = ClientResources.builder().nettyCustomizer(new NettyCustomizer() {
        @Override
        public void afterBootstrapInitialized(Bootstrap bootstrap) {
          connectsStarted.incrementAndGet();
          changes.signal();
        }
      }).build();
      events = resources.eventBus().get()
          .filter(ConnectionDeactivatedEvent.class::isInstance)
          .subscribe(e -> {
            connectionsLost.incrementAndGet();
            changes.signal();
          });
    }

    /** Waits until the store has seen {@code n} of its connections drop. */
    void awaitLost(int n) throws InterruptedException {
      changes.require(() -> connectionsLost.get() >= n,
          () -> n + " connection(s) of the store seen lost, saw " + connectionsLost.get());
    }

    @Override
    public void close() {
      events.dispose();
      resources.shutdown(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
  }

  /**
   * A TCP proxy to Redis that can hold new connections and cut the live ones, and that tells what
   * became of each connection. A held connection is the slow connect under test: Lettuce's TCP
   * connect succeeds and its handshake reaches the proxy, which passes it on to Redis only when
   * the test lets it through. That hold is the behaviour under test (a reconnect slower than the
   * callers' timeout), not synchronisation; a gate rather than a fixed delay makes it last until
   * the calls that must meet it have been made, however loaded the machine.
   */
  private final class Proxy implements AutoCloseable {
    /** What became of a connection to the proxy. */
    enum State {
      /** TCP connected; the client's first bytes (its handshake) not received yet. */
      ACCEPTED,
      /** The client's handshake received; held at the gate, Redis not contacted yet. */
      HELD,
      /** Let through: connecting to Redis, the handshake sent, no answer yet. */
      CONNECTING,
      /** Redis answered: it lists the connection as a client until it closes it. */
      LIVE,
      /** Redis closed its side (so it lists the client no more), or was never reached. */
      ENDED
    }

    private final class Link {
      final Socket down;
      volatile State state = State.ACCEPTED;

      Link(Socket down) {
        this.down = down;
      }

      void set(State s) {
        state = s;
        changes.signal();
      }
    }

    private final ServerSocket server;
    private final int upstream;
    private final List<Link> links = new CopyOnWriteArrayList<>();
    private volatile CountDownLatch gate = new CountDownLatch(0);

    Proxy(int upstream) throws IOException {
      this.upstream = upstream;
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread.ofVirtual().start(() -> {
        while (true) {
          Socket down;
          try {
            down = server.accept();
          } catch (IOException closed) {
            return;
          }
          Link link = new Link(down);
          CountDownLatch held = gate;
          links.add(link);
          changes.signal();
          Thread.ofVirtual().start(() -> relay(link, held));
        }
      });
    }

    String uri() {
      return "redis://127.0.0.1:" + server.getLocalPort();
    }

    private void relay(Link link, CountDownLatch held) {
      Socket up = new Socket();
      try {
        byte[] buf = new byte[8192];
        int first = link.down.getInputStream().read(buf);
        if (first < 0) {
          return;
        }
        link.set(State.HELD);
        held.await();
        link.set(State.CONNECTING);
        up.connect(new InetSocketAddress("127.0.0.1", upstream));
        up.getOutputStream().write(buf, 0, first);
        Thread.ofVirtual().start(() -> toRedis(link.down, up));
        fromRedis(link, up);
      } catch (IOException | InterruptedException e) {
        // cut before Redis was reached, or the proxy is closing
      } finally {
        close(link.down);
        close(up);
        link.set(State.ENDED);
      }
    }

    /** The client's bytes to Redis; once the client is gone (or cut), a half-close tells Redis. */
    private static void toRedis(Socket down, Socket up) {
      try {
        down.getInputStream().transferTo(up.getOutputStream());
      } catch (IOException ignored) {
        // cut
      } finally {
        try {
          up.shutdownOutput();
        } catch (IOException ignored) {
          // Redis is gone already
        }
      }
    }

    /**
     * Redis's bytes to the client (dropped once the client is gone), until Redis closes its
     * side: it has then removed the client from its list (it does so before closing the socket).
     */
    private void fromRedis(Link link, Socket up) throws IOException {
      InputStream in = up.getInputStream();
      byte[] buf = new byte[8192];
      boolean toClient = true;
      for (int n; (n = in.read(buf)) >= 0; ) {
        if (link.state != State.LIVE) {
          link.set(State.LIVE);
        }
        if (toClient) {
          try {
            OutputStream out = link.down.getOutputStream();
            out.write(buf, 0, n);
          } catch (IOException gone) {
            toClient = false;
            close(link.down);
          }
        }
      }
    }

    private static void close(Socket s) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closed
      }
    }

    /**
     * Holds every new connection at the gate until {@link #release()}, and drops the live ones:
     * the store sees its connection close; Redis, a half-close, which it answers by dropping the
     * client.
     */
    void holdAndCut() {
      gate = new CountDownLatch(1);
      links.forEach(l -> close(l.down));
    }

    /** Lets the held connections (and every new one) through to Redis. */
    void release() {
      gate.countDown();
    }

    int count(State s) {
      return (int) links.stream().filter(l -> l.state == s).count();
    }

    int accepted() {
      return links.size();
    }

    /** Waits until {@code n} connections have their handshake held at the gate. */
    void awaitHeld(int n) throws InterruptedException {
      changes.require(() -> count(State.HELD) == n, () -> n + " connect(s) held, saw " + this);
    }

    /**
     * Whether every connect the store started has reached the proxy and is over, through (Redis
     * answered) or ended, and {@code live} of them are open on Redis.
     */
    boolean settled(Lettuce lettuce, int live) {
      return accepted() == lettuce.connectsStarted.get()
          && count(State.ACCEPTED) + count(State.HELD) + count(State.CONNECTING) == 0
          && count(State.LIVE) == live;
    }

    @Override
    public String toString() {
      return "proxy connections " + Arrays.toString(links.stream().map(l -> l.state).toArray());
    }

    /** Closes every connection and waits until Redis has dropped each one's client. */
    @Override
    public void close() {
      close(server);
      gate.countDown();
      links.forEach(l -> close(l.down));
      try {
        changes.await(() -> links.stream().allMatch(l -> l.state == State.ENDED));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    private static void close(ServerSocket s) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closed
      }
    }
  }

  /** Connections Redis has from clients, this question's own excluded. */
  private static int clients() throws IOException {
    return redis.command("CLIENT LIST").split("\n").length - 1;
  }

  /**
   * Waits (up to {@link #WAIT_SECONDS}) until every connect the store started has gone through
   * the proxy or ended, and {@code n} connections are open on Redis; returns how many clients
   * Redis lists then. A leak shows as more: the wait then runs out.
   */
  private int awaitClients(Proxy proxy, Lettuce lettuce, int n) throws Exception {
    changes.await(() -> proxy.settled(lettuce, n));
    return clients();
  }

  @Test
  void callersThatGiveUpDuringASlowReconnectShareOneConnectionAndLeakNone() throws Exception {
    // The store's clock: moved by a probe interval between calls, so each call after the third
    // slow one is a probe, and each slow answer is a stall of its own (the interval is longer
    // than the timeout).
    AtomicLong now = new AtomicLong(System.nanoTime());
    try (Lettuce lettuce = new Lettuce();
        Proxy proxy = new Proxy(redis.port());
        RedisRateLimitStore store = RedisRateLimitStore.builder(proxy.uri())
            .timeout(TIMEOUT).probeInterval(PROBE).connectTimeout(CONNECT_TIMEOUT)
            .clientResources(lettuce.resources).nanos(now::get).build()) {
      store.reserve("k", LIMIT, 1, 0);
      assertEquals(1, clients(), "connections to Redis when warm");

      proxy.holdAndCut();
      lettuce.awaitLost(1); // the store sees its connection drop
      for (int i = 0; i < 8; i++) {
        store.reserve("k", LIMIT, 1, 0); // waits 20 ms for a connect the proxy holds
        now.addAndGet(PROBE.toNanos()); // so the next call is a probe
      }
      proxy.release();

      // Every connect started has gone through by then; a leak shows as more than one.
      assertEquals(1, awaitClients(proxy, lettuce, 1),
          "connections to Redis from one store after a slow reconnect");
      // The next probe answers from Redis. (Probes again while none has: on a loaded machine
      // the first question on the new connection can take longer than the 20 ms timeout.)
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
      do {
        now.addAndGet(PROBE.toNanos());
        store.reserve("k", LIMIT, 1, 0);
      } while (store.degraded() && System.nanoTime() - end < 0);
      assertFalse(store.degraded(), "the store answers from Redis on the connection it made");
      assertEquals(1, clients(), "connections to Redis once the store answers again");
    }
    assertEquals(0, clients(), "connections to Redis after close");
  }

  @Test
  void oneCallerGivingUpOnTheConnectDoesNotFailTheOthersWaitingForIt() throws Exception {
    try (Lettuce lettuce = new Lettuce();
        Proxy proxy = new Proxy(redis.port());
        RedisRateLimitStore store = RedisRateLimitStore.builder(proxy.uri())
            .timeout(Duration.ofSeconds(10)).probeInterval(PROBE)
            .connectTimeout(CONNECT_TIMEOUT).clientResources(lettuce.resources).build()) {
      store.reserve("k", LIMIT, 1, 0);
      proxy.holdAndCut();
      lettuce.awaitLost(1);

      // The first caller starts the reconnect and waits for it (up to the store's 10 s timeout);
      // the second, once that connect is under way, waits for the same connect until its own
      // deadline, 20 ms, and gives up. Had it cancelled the connect, the first would have failed
      // at once ("cancelled"), a failure that is an outage.
      Thread first = Thread.ofPlatform().start(() -> {
        try {
          store.reserve("k", LIMIT, 1, 0);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      proxy.awaitHeld(1);
      assertThrows(RateLimitedException.class,
          () -> store.reserve("k", LIMIT, 1, TimeUnit.MILLISECONDS.toNanos(20)),
          "the second caller gives up at its deadline");
      proxy.release();
      first.join();
      assertFalse(store.degraded(), "two callers that waited for one slow connect");

      assertEquals(1, awaitClients(proxy, lettuce, 1),
          "connections to Redis from one store after a slow reconnect");
    }
  }

  @Test
  void aConnectWhoseHandshakeIsNeverAnsweredIsGivenUpAfterTheConnectTimeout() throws Exception {
    // Accepts connections and never answers them: Lettuce's HELLO waits, as on a hung Redis.
    RedisFixture.assertGivesUpASilentHandshake(
        port -> "redis://127.0.0.1:" + port, Duration.ofSeconds(10), 1);
  }

  @Test
  void aConnectThatCompletesAfterCloseIsClosed() throws Exception {
    // Shared event loops outlive the store, so its pending connect can complete after close.
    try (Lettuce lettuce = new Lettuce(); Proxy proxy = new Proxy(redis.port())) {
      RedisRateLimitStore store = RedisRateLimitStore.builder(proxy.uri())
          .timeout(TIMEOUT).probeInterval(PROBE).connectTimeout(CONNECT_TIMEOUT)
          .clientResources(lettuce.resources).build();
      store.reserve("k", LIMIT, 1, 0);
      proxy.holdAndCut();
      lettuce.awaitLost(1);
      store.reserve("k", LIMIT, 1, 0); // starts a reconnect, which the proxy holds; gives up
      // Its handshake reached the proxy: the connect is under way, its channel already among
      // the client's (Lettuce adds it before sending the handshake), so close() closes it here.
      proxy.awaitHeld(1);
      store.close();
      proxy.release(); // the connect goes on after close

      assertEquals(0, awaitClients(proxy, lettuce, 0), "connections to Redis from a closed store");
    }
  }
}
