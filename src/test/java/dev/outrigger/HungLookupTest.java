package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.ConnectionPool;
import okhttp3.Dns;
import okhttp3.EventListener;
import okhttp3.Handshake;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A name lookup that hangs, in a {@code Dns} deaf to interrupts, ends with its call: at the
 * deadline, at {@code close()}, or when the caller is interrupted, while the lookup itself is
 * still blocked (the resolver is released only after the call returned). A lookup that answers
 * still goes through the user's {@code Dns}, and the user's {@code EventListener} sees the
 * same events as on raw OkHttp.
 */
class HungLookupTest {
  /** A name no resolver knows: only the tests' own Dns answers it. */
  private static final String HOST = "hung.outrigger.test";

  private HttpServer http;
  private final List<Integer> clientPorts = new CopyOnWriteArrayList<>();
  private final HeldDns held = new HeldDns();
  private final List<ApiClient> clients = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    http = ClientTestSupport.jdkServer(exchange -> {
      clientPorts.add(exchange.getRemoteAddress().getPort());
      ClientTestSupport.reply(exchange, 200, "ok");
    });
  }

  @AfterEach
  void stop() throws InterruptedException {
    held.release.countDown();
    for (ApiClient c : clients) {
      ClientTestSupport.assertNoLeaks(c);
      c.close();
    }
    http.stop(0);
  }

  private String url(String path) {
    return "http://" + HOST + ":" + http.getAddress().getPort() + path;
  }

  /**
   * The deadline of the tests it cuts: long enough that a loaded machine reaches the lookup
   * before it passes (the lookup must have started for what they check), and short enough to
   * wait for.
   */
  private static final Duration CUT = Duration.ofSeconds(2);

  /** A client resolving through {@code dns}, connecting as the client Outrigger makes does. */
  private ApiClient client(Dns dns, Duration deadline) {
    return client(new OkHttpClient.Builder().dns(dns).fastFallback(false), deadline);
  }

  private ApiClient client(OkHttpClient.Builder okhttp, Duration deadline) {
    ApiClient c = ApiClient.builder()
        .okHttpClient(okhttp.build())
        .retry(Retry.none())
        .deadline(deadline)
        .build();
    clients.add(c);
    return c;
  }

  /**
   * Blocks every lookup until the test releases it, swallowing interrupts as a resolver stuck in
   * native code would; then answers the loopback address.
   */
  private static final class HeldDns implements Dns {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final CountDownLatch returned = new CountDownLatch(1);
    volatile Thread resolver;

    @Override
    public List<InetAddress> lookup(String hostname) {
      resolver = Thread.currentThread();
      entered.countDown();
      awaitDeafly(release);
      returned.countDown();
      return List.of(InetAddress.getLoopbackAddress());
    }

    boolean stillBlocked() {
      return returned.getCount() == 1;
    }
  }

  /** How a call ended: its failure, its thread's interrupt status, and the lookup's state. */
  private record Ended(Throwable failure, boolean interrupted, boolean lookupStillBlocked) {}

  /** Runs a call to {@link #url} on a thread of its own; {@code ended} completes when it returns. */
  private Thread call(ApiClient client, Thread.Builder thread, CompletableFuture<Ended> ended) {
    return thread.start(() -> {
      Throwable failure = null;
      try {
        client.get(url("/x")).execute(String.class);
      } catch (Throwable e) {
        failure = e;
      }
      ended.complete(new Ended(failure, Thread.currentThread().isInterrupted(),
          held.stillBlocked()));
    });
  }

  /** Releases the lookup, which must then finish on its own, and its thread end. */
  private void releaseAndAwaitTheAbandonedLookup() throws InterruptedException {
    held.release.countDown();
    assertTrue(held.returned.await(5, TimeUnit.SECONDS), "the abandoned lookup never finished");
    assertTrue(held.resolver.join(Duration.ofSeconds(5)), "the lookup's thread did not end");
  }

  @Test
  void theDeadlineEndsACallWhoseLookupHangs() throws Exception {
    deadlineEndsTheCall(client(held, CUT));
  }

  @Test
  void callsResolvingAHostWhileItIsBeingResolvedShareThatLookup() throws Exception {
    // A resolver that hangs holds one thread per host, not one per call that gave up on it;
    // once it answers, the next call asks again.
    AtomicInteger lookups = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    Dns counting = hostname -> {
      lookups.incrementAndGet();
      awaitDeafly(release);
      return List.of(InetAddress.getLoopbackAddress());
    };
    ApiClient client = client(counting, CUT);
    List<CompletableFuture<Ended>> calls = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      CompletableFuture<Ended> ended = new CompletableFuture<>();
      call(client, Thread.ofVirtual(), ended);
      calls.add(ended);
    }
    for (CompletableFuture<Ended> ended : calls) {
      assertInstanceOf(DeadlineExceededException.class,
          ended.get(20, TimeUnit.SECONDS).failure());
    }
    assertEquals(1, lookups.get(), "one lookup for the five calls");

    release.countDown();
    assertEquals("ok", client.get(url("/after")).execute(String.class));
    assertEquals(2, lookups.get(), "a later call of the same client asks again");
  }

  @Test
  void callsThatSharedALookupThatFailedEachGetAFailureOfTheirOwn() throws Exception {
    // OkHttp adds a call's other route failures to the exception it throws (addSuppressed):
    // calls that shared one failed lookup must not throw one object, or each would show the
    // others' failures (and threads would write to it at once). Two routes: a proxy named by a
    // host whose lookup fails, then one that refuses the connection.
    String proxyHost = "proxy.outrigger.test";
    int refused;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      refused = s.getLocalPort();
    }
    ProxySelector twoRoutes = new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        return List.of(
            new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(proxyHost, 8080)),
            new Proxy(Proxy.Type.HTTP,
                new InetSocketAddress(InetAddress.getLoopbackAddress(), refused)));
      }

      @Override
      public void connectFailed(URI uri, SocketAddress address, IOException e) {}
    };
    List<Throwable> failures = sharedThenAlone(new OkHttpClient.Builder().proxySelector(twoRoutes),
        host -> new UnknownHostException("no address for " + host));
    TransportException alone = assertInstanceOf(TransportException.class, failures.get(2));
    List<TransportException> shared = List.of(
        assertInstanceOf(TransportException.class, failures.get(0)),
        assertInstanceOf(TransportException.class, failures.get(1)));

    assertEquals(TransportException.Kind.CONNECT, alone.kind(), alone.getMessage());
    assertNotSame(shared.get(0).getCause(), shared.get(1).getCause());
    for (TransportException e : shared) {
      assertEquals(alone.kind(), e.kind());
      assertEquals(alone.getMessage(), e.getMessage());
      UnknownHostException cause = assertInstanceOf(UnknownHostException.class, e.getCause());
      assertEquals(alone.getCause().getMessage(), cause.getMessage());
      assertEquals(1, cause.getSuppressed().length,
          "only its own refused route: " + Arrays.toString(cause.getSuppressed()));
      assertInstanceOf(ConnectException.class, cause.getSuppressed()[0]);
    }
    assertNotSame(shared.get(0).getCause().getSuppressed()[0],
        shared.get(1).getCause().getSuppressed()[0]);
  }

  /** A failure of a resolver's own type, which OkHttp and the client see as the JDK's. */
  private static final class ResolverTimeout extends java.net.SocketTimeoutException {
    ResolverTimeout(String message) {
      super(message);
    }
  }

  @Test
  void callsThatSharedALookupThatFailedOtherwiseEachGetAFailureOfTheSameKind() throws Exception {
    // A Dns of the user's may throw other types (a Kotlin one any IOException, any one a
    // RuntimeException): each call still gets an object of its own, which OkHttp and the
    // client treat as the lookup's own failure, with its message.
    List<Throwable> io = sharedThenAlone(new OkHttpClient.Builder(),
        host -> new ResolverTimeout("no answer for " + host));
    TransportException alone = assertInstanceOf(TransportException.class, io.get(2));
    assertInstanceOf(ResolverTimeout.class, alone.getCause());
    assertNotSame(io.get(0).getCause(), io.get(1).getCause());
    for (Throwable e : io.subList(0, 2)) {
      TransportException t = assertInstanceOf(TransportException.class, e);
      assertEquals(alone.kind(), t.kind(), t.getMessage());
      assertEquals(alone.getMessage(), t.getMessage());
      assertInstanceOf(java.net.SocketTimeoutException.class, t.getCause());
    }

    List<Throwable> runtime = sharedThenAlone(new OkHttpClient.Builder(),
        host -> new IllegalStateException("resolver not ready for " + host));
    assertNotSame(runtime.get(0), runtime.get(1));
    for (Throwable e : runtime) {
      assertEquals(IllegalStateException.class, e.getClass(), e.toString());
      assertEquals(runtime.get(2).getMessage(), e.getMessage());
    }
  }

  /**
   * The failures of two calls that shared one lookup through a client built on {@code okhttp},
   * whose Dns fails with {@code failure} of the host once released, and then of a call whose
   * lookup no one shared.
   */
  private List<Throwable> sharedThenAlone(
      OkHttpClient.Builder okhttp, java.util.function.Function<String, Exception> failure)
      throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger lookups = new AtomicInteger();
    Dns failsOnceReleased = hostname -> {
      lookups.incrementAndGet();
      entered.countDown();
      awaitDeafly(release);
      throw HungLookupTest.<RuntimeException>sneaky(failure.apply(hostname));
    };
    ApiClient client = client(okhttp.dns(failsOnceReleased).fastFallback(false),
        Duration.ofMinutes(5));

    CompletableFuture<Ended> first = new CompletableFuture<>();
    call(client, Thread.ofVirtual(), first);
    assertTrue(entered.await(20, TimeUnit.SECONDS));
    CompletableFuture<Ended> second = new CompletableFuture<>();
    Thread joining = call(client, Thread.ofVirtual(), second);
    awaitWaitingForALookup(joining);
    release.countDown();
    List<Throwable> failures = new ArrayList<>();
    failures.add(first.get(20, TimeUnit.SECONDS).failure());
    failures.add(second.get(20, TimeUnit.SECONDS).failure());
    assertEquals(1, lookups.get(), "the two calls shared one lookup");
    CompletableFuture<Ended> alone = new CompletableFuture<>();
    call(client, Thread.ofVirtual(), alone);
    failures.add(alone.get(20, TimeUnit.SECONDS).failure());
    assertEquals(2, lookups.get(), "the third call asked again");
    failures.forEach(org.junit.jupiter.api.Assertions::assertNotNull);
    return failures;
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> T sneaky(Throwable t) throws T {
    throw (T) t;
  }

  /** Waits until {@code t} is parked waiting for a lookup (one another call started). */
  private static void awaitWaitingForALookup(Thread t) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      Object blocker = LockSupport.getBlocker(t);
      if (blocker != null && blocker.getClass().getName().endsWith("CancellableDns$Lookup")) {
        return;
      }
      assertTrue(System.nanoTime() - end < 0, "the second call never waited for the lookup");
      LockSupport.parkNanos(1_000_000L);
    }
  }

  @Test
  void aLookupEveryCallGaveUpOnIsNotSharedWithTheClientsLaterCalls() throws Exception {
    // A resolver that loses one query and never answers it (no timeout of its own) must not
    // keep the host unresolvable for the client's life: once no call waits for that lookup, the
    // next call asks again (as Go's resolver forgets a lookup no one else shares).
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger lookups = new AtomicInteger();
    Dns losesTheFirst = hostname -> {
      if (lookups.incrementAndGet() == 1) {
        entered.countDown();
        awaitDeafly(release);
      }
      return List.of(InetAddress.getLoopbackAddress());
    };
    try {
      ApiClient client = client(losesTheFirst, Duration.ofMinutes(5));
      CompletableFuture<Ended> first = new CompletableFuture<>();
      Thread t = call(client, Thread.ofVirtual(), first);
      assertTrue(entered.await(20, TimeUnit.SECONDS));
      t.interrupt();
      assertInstanceOf(TransportException.class, first.get(20, TimeUnit.SECONDS).failure());

      CompletableFuture<Ended> second = new CompletableFuture<>();
      call(client, Thread.ofVirtual(), second);
      Ended e = second.get(20, TimeUnit.SECONDS);
      assertEquals(null, e.failure(), "the later call waited for the lookup abandoned before it");
      assertEquals(2, lookups.get());
    } finally {
      release.countDown();
    }
  }

  @Test
  void anAbandonedLookupIsNotInterrupted() throws Exception {
    // A Dns may block in a channel it shares with other lookups (one socket for all queries):
    // interrupting the thread of an abandoned lookup would close that channel for them all.
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    CountDownLatch returned = new CountDownLatch(1);
    Dns sharing = hostname -> {
      entered.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        interrupted.set(true);
      } finally {
        returned.countDown();
      }
      return List.of(InetAddress.getLoopbackAddress());
    };
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    call(client(sharing, CUT), Thread.ofVirtual(), ended);

    assertInstanceOf(DeadlineExceededException.class,
        ended.get(20, TimeUnit.SECONDS).failure());
    assertTrue(entered.await(5, TimeUnit.SECONDS));
    release.countDown();
    assertTrue(returned.await(5, TimeUnit.SECONDS));
    assertFalse(interrupted.get(), "the abandoned lookup's thread was interrupted");
  }

  @Test
  void theDeadlineEndsACallWhoseLookupHangsWithFastFallback() throws Exception {
    // OkHttp's default (Happy Eyeballs), as a supplied client may have it: only the TCP
    // connects race on other threads, the lookup is still the caller's.
    deadlineEndsTheCall(client(
        new OkHttpClient.Builder().dns(held).fastFallback(true), CUT));
  }

  private void deadlineEndsTheCall(ApiClient client) throws Exception {
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    long start = System.nanoTime();
    call(client, Thread.ofVirtual(), ended);

    // Without a cut the call would wait for the release below, which comes only after it.
    Ended e = ended.get(20, TimeUnit.SECONDS);

    assertTrue(e.lookupStillBlocked(), "the call must not have waited for the lookup");
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10));
    // As any first attempt the deadline cut: no cause (the abandoned lookup, suppressed, says
    // nothing of the server), and the message says where it was cut.
    DeadlineExceededException d = assertInstanceOf(DeadlineExceededException.class, e.failure());
    assertEquals(1, d.attempts());
    assertTrue(d.getMessage().contains(
        "deadline exceeded while attempt 1 resolved the host name, after"), d.getMessage());
    assertTrue(d.getMessage().endsWith("(1 attempt sent)"), d.getMessage());
    assertNull(d.getCause());
    assertInstanceOf(InterruptedIOException.class, d.getSuppressed()[0]);
    assertFalse(e.interrupted());
    releaseAndAwaitTheAbandonedLookup();
  }

  @Test
  void closeEndsACallWhoseLookupHangs() throws Exception {
    ApiClient client = client(held, Duration.ofMinutes(5));
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    call(client, Thread.ofVirtual(), ended);
    assertTrue(held.entered.await(20, TimeUnit.SECONDS));

    client.close();
    Ended e = ended.get(20, TimeUnit.SECONDS);

    assertTrue(e.lookupStillBlocked(), "the call must not have waited for the lookup");
    TransportException t = assertInstanceOf(TransportException.class, e.failure());
    assertEquals(TransportException.Kind.CANCELLED, t.kind(), t.getMessage());
    assertTrue(t.getMessage().contains(
        "the ApiClient was closed while the call waited for the lookup of " + HOST),
        t.getMessage());
    assertFalse(e.interrupted(), "close() left its interrupt on the caller's thread");
    releaseAndAwaitTheAbandonedLookup();
  }

  @Test
  void interruptingAVirtualThreadEndsItsCallWhoseLookupHangs() throws Exception {
    interruptEndsTheCall(Thread.ofVirtual());
  }

  @Test
  void interruptingAPlatformThreadEndsItsCallWhoseLookupHangs() throws Exception {
    interruptEndsTheCall(Thread.ofPlatform().daemon());
  }

  private void interruptEndsTheCall(Thread.Builder thread) throws Exception {
    ApiClient client = client(held, Duration.ofMinutes(5));
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    Thread t = call(client, thread, ended);
    assertTrue(held.entered.await(20, TimeUnit.SECONDS));

    t.interrupt();
    Ended e = ended.get(20, TimeUnit.SECONDS);

    assertTrue(e.lookupStillBlocked(), "the call must not have waited for the lookup");
    TransportException failure = assertInstanceOf(TransportException.class, e.failure());
    assertEquals(TransportException.Kind.CANCELLED, failure.kind(), failure.getMessage());
    assertTrue(failure.getMessage().endsWith("was interrupted"), failure.getMessage());
    assertTrue(e.interrupted(), "the interrupt status must be kept");
    releaseAndAwaitTheAbandonedLookup();
  }

  @Test
  void aCallCancelledJustBeforeItsLookupNeverWaitsForIt() throws Exception {
    // The user's listener hears dnsStart after the client's own and cancels the call there:
    // the cancel comes before the lookup has anything to be woken by.
    ApiClient client = client(new OkHttpClient.Builder().dns(held)
        .eventListener(new EventListener() {
          @Override
          public void dnsStart(Call call, String domainName) {
            call.cancel();
          }
        }), Duration.ofMinutes(5));
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    call(client, Thread.ofVirtual(), ended);

    Ended e = ended.get(20, TimeUnit.SECONDS);

    assertEquals(1, held.entered.getCount(), "the lookup of a cancelled call must not start");
    TransportException t = assertInstanceOf(TransportException.class, e.failure());
    assertTrue(t.getMessage().contains("canceled while resolving " + HOST), t.getMessage());
  }

  /** Answers every name with the loopback address, noting the names and the threads. */
  private static final class LoopbackDns implements Dns {
    final List<String> names = new CopyOnWriteArrayList<>();
    final List<Thread> threads = new CopyOnWriteArrayList<>();

    @Override
    public List<InetAddress> lookup(String hostname) {
      names.add(hostname);
      threads.add(Thread.currentThread());
      return List.of(InetAddress.getLoopbackAddress());
    }
  }

  @Test
  void aLookupThatAnswersGoesThroughTheUsersDnsAndTheirListenerSeesEveryEventAsOnRawOkHttp()
      throws Exception {
    LoopbackDns dns = new LoopbackDns();
    List<String> events = new CopyOnWriteArrayList<>();
    OkHttpClient users = new OkHttpClient.Builder().dns(dns)
        .eventListenerFactory(call -> new Recording(events)).build();

    // Raw OkHttp, on a pool of its own so that it resolves the name too.
    OkHttpClient raw = users.newBuilder().connectionPool(new ConnectionPool()).build();
    try (Response r = raw.newCall(new Request.Builder().url(url("/raw")).build()).execute()) {
      assertEquals("ok", r.body().string());
    }
    List<String> rawEvents = List.copyOf(events);
    events.clear();
    raw.connectionPool().evictAll();

    ApiClient client = ApiClient.builder().okHttpClient(users).retry(Retry.none()).build();
    clients.add(client);
    assertEquals("ok", client.get(url("/x")).execute(String.class));

    assertEquals(rawEvents, events);
    assertTrue(events.containsAll(List.of("callStart", "dnsStart " + HOST, "dnsEnd " + HOST,
        "connectEnd", "responseBodyEnd", "callEnd")), events.toString());
    assertEquals(List.of(HOST, HOST), dns.names);
    // The client's lookup ran apart from its caller: that is what lets a cancel end the wait.
    assertNotEquals(Thread.currentThread(), dns.threads.get(1));
  }

  @Test
  void clientsDerivedFromOneAnotherResolveThroughTheUsersDnsAndShareTheirConnections()
      throws Exception {
    LoopbackDns dns = new LoopbackDns();
    ApiClient parent = client(dns, Duration.ofSeconds(30));
    ApiClient derived = parent.newBuilder().deadline(Duration.ofSeconds(20)).build();
    clients.add(derived);

    assertEquals("ok", parent.get(url("/1")).execute(String.class));
    assertEquals("ok", derived.get(url("/2")).execute(String.class));

    assertEquals(List.of(HOST), dns.names, "the second call must reuse the first's connection");
    assertEquals(2, clientPorts.size());
    assertEquals(clientPorts.get(0), clientPorts.get(1), "one connection for both clients");
    assertNotEquals(Thread.currentThread(), dns.threads.get(0));
  }

  @Test
  void rawCallsOnTheClientsOwnOkHttpClientShareItsConnections() throws Exception {
    // README: raw calls made with apiClient.okHttpClient() reuse the client's connections (those
    // on the OkHttpClient passed in do not: OkHttp reuses a connection only for the same Dns).
    LoopbackDns dns = new LoopbackDns();
    ApiClient client = client(dns, Duration.ofSeconds(30));
    assertEquals("ok", client.get(url("/1")).execute(String.class));
    try (Response r = client.okHttpClient()
        .newCall(new Request.Builder().url(url("/raw")).build()).execute()) {
      assertEquals("ok", r.body().string());
    }

    assertEquals(List.of(HOST), dns.names, "the raw call must reuse the client's connection");
    assertEquals(2, clientPorts.size());
    assertEquals(clientPorts.get(0), clientPorts.get(1), "one connection for both calls");
  }

  @Test
  void aFailedLookupOnACopyWithAnotherDnsLeavesNoCallBehindOnItsThread() throws Exception {
    // The client's listener notes each call that starts a lookup in a thread-local, taken by
    // the client's Dns, or dropped at dnsEnd. A copy of the client's OkHttp client given a Dns
    // of its own (a case the code names) keeps the listener; a lookup there that fails reports
    // no dnsEnd: the call (its request, body, tags, listener) stays reachable from the thread,
    // a pool's thread for as long as no other lookup starts on it.
    ApiClient client = client(new LoopbackDns(), Duration.ofSeconds(30));
    OkHttpClient copy = client.okHttpClient().newBuilder()
        .dns(hostname -> {
          throw new UnknownHostException("no " + hostname);
        })
        .build();
    java.lang.ref.WeakReference<Call> ref = failOnce(copy);

    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (ref.get() != null && System.nanoTime() - end < 0) {
      System.gc();
      Thread.onSpinWait();
    }
    assertEquals(null, ref.get(), "the failed call is still reachable (from the thread-local)");
  }

  private java.lang.ref.WeakReference<Call> failOnce(OkHttpClient copy) {
    Call call = copy.newCall(new Request.Builder().url(url("/copy")).build());
    org.junit.jupiter.api.Assertions.assertThrows(UnknownHostException.class, call::execute);
    return new java.lang.ref.WeakReference<>(call);
  }

  @Test
  void closeEndsACallWhoseAsynchronousLookupHangs() throws Exception {
    // README, Lifecycle: a call still resolving the host name at close() ends as a wait does.
    AsyncDns hanging = new AsyncDns(false);
    ApiClient client = client(hanging, Duration.ofMinutes(5));
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    call(client, Thread.ofVirtual(), ended);
    assertTrue(hanging.enqueued.await(20, TimeUnit.SECONDS));

    client.close();
    Ended e = ended.get(20, TimeUnit.SECONDS);

    TransportException t = assertInstanceOf(TransportException.class, e.failure());
    assertEquals(TransportException.Kind.CANCELLED, t.kind(), t.getMessage());
    assertTrue(t.getMessage().contains("the ApiClient was closed"), t.getMessage());
    assertFalse(e.interrupted(), "close() left its interrupt on the caller's thread");
    assertEquals(0, hanging.cancelled.getCount(), "the Dns.Call must have been cancelled");
  }

  /**
   * Answers through OkHttp 5.5's asynchronous {@code Dns.Call}, never {@code lookup()}: at once
   * when {@code answers}, else not until the call is cancelled, which fails it.
   */
  private static final class AsyncDns implements Dns {
    final boolean answers;
    final CountDownLatch enqueued = new CountDownLatch(1);
    final CountDownLatch cancelled = new CountDownLatch(1);

    AsyncDns(boolean answers) {
      this.answers = answers;
    }

    @Override
    public List<InetAddress> lookup(String hostname) throws java.net.UnknownHostException {
      throw new java.net.UnknownHostException("only newCall() answers " + hostname);
    }

    @Override
    public Dns.Call newCall(Dns.Request request) {
      return new Dns.Call() {
        private final AtomicBoolean over = new AtomicBoolean();
        private volatile Dns.Callback callback;

        @Override
        public Dns.Request getRequest() {
          return request;
        }

        @Override
        public void enqueue(Dns.Callback callback) {
          this.callback = callback;
          enqueued.countDown();
          if (answers && over.compareAndSet(false, true)) {
            callback.onRecords(this, true, List.of(
                new Dns.Record.IpAddress(request.hostname(), InetAddress.getLoopbackAddress())));
          }
        }

        @Override
        public void cancel() {
          cancelled.countDown();
          Dns.Callback c = callback;
          if (c != null && over.compareAndSet(false, true)) {
            c.onFailure(this, new IOException("canceled"));
          }
        }

        @Override
        public boolean isCanceled() {
          return cancelled.getCount() == 0;
        }
      };
    }
  }

  @Test
  void theDeadlineCancelsAnAsynchronousLookupThatHangs() throws Exception {
    AsyncDns hanging = new AsyncDns(false);
    ApiClient client = client(hanging, CUT);
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    call(client, Thread.ofVirtual(), ended);

    Ended e = ended.get(20, TimeUnit.SECONDS);

    assertEquals(0, hanging.cancelled.getCount(), "the Dns.Call must have been cancelled");
    DeadlineExceededException d = assertInstanceOf(DeadlineExceededException.class, e.failure());
    assertEquals(1, d.attempts());
    assertNotNull(d.getCause());

    // One that answers is still used, and its records are what the call connects to.
    AsyncDns answering = new AsyncDns(true);
    assertEquals("ok", client(answering, Duration.ofSeconds(30)).get(url("/y"))
        .execute(String.class));
    assertEquals(0, answering.enqueued.getCount());
  }

  @Test
  void interruptingACallWaitingForAnAsynchronousLookupEndsItCancelled() throws Exception {
    // OkHttp waits for a Dns.Call's answer in a queue, whose InterruptedException it lets
    // through undeclared: the call still ends as any interrupted call does.
    AsyncDns hanging = new AsyncDns(false);
    ApiClient client = client(hanging, Duration.ofMinutes(5));
    CompletableFuture<Ended> ended = new CompletableFuture<>();
    Thread t = call(client, Thread.ofVirtual(), ended);
    assertTrue(hanging.enqueued.await(20, TimeUnit.SECONDS));

    t.interrupt();
    Ended e = ended.get(20, TimeUnit.SECONDS);

    TransportException failure = assertInstanceOf(TransportException.class, e.failure());
    assertEquals(TransportException.Kind.CANCELLED, failure.kind(), failure.getMessage());
    assertTrue(failure.getMessage().endsWith("was interrupted"), failure.getMessage());
    assertInstanceOf(InterruptedException.class, failure.getCause());
    assertTrue(e.interrupted(), "the interrupt status must be kept");
    assertTrue(hanging.cancelled.await(5, TimeUnit.SECONDS), "the Dns.Call must be cancelled");
  }

  /** Notes each event's name (and the host, for DNS events). */
  private static final class Recording extends EventListener {
    private final List<String> events;

    Recording(List<String> events) {
      this.events = events;
    }

    @Override
    public void callStart(Call call) {
      events.add("callStart");
    }

    @Override
    public void proxySelectStart(Call call, HttpUrl url) {
      events.add("proxySelectStart");
    }

    @Override
    public void proxySelectEnd(Call call, HttpUrl url, List<Proxy> proxies) {
      events.add("proxySelectEnd");
    }

    @Override
    public void dnsStart(Call call, String domainName) {
      events.add("dnsStart " + domainName);
    }

    @Override
    public void dnsEnd(Call call, String domainName, List<InetAddress> inetAddressList) {
      events.add("dnsEnd " + domainName);
    }

    @Override
    public void connectStart(Call call, InetSocketAddress address, Proxy proxy) {
      events.add("connectStart");
    }

    @Override
    public void secureConnectStart(Call call) {
      events.add("secureConnectStart");
    }

    @Override
    public void secureConnectEnd(Call call, Handshake handshake) {
      events.add("secureConnectEnd");
    }

    @Override
    public void connectEnd(Call call, InetSocketAddress address, Proxy proxy, Protocol protocol) {
      events.add("connectEnd");
    }

    @Override
    public void connectFailed(Call call, InetSocketAddress address, Proxy proxy,
        Protocol protocol, IOException ioe) {
      events.add("connectFailed");
    }

    @Override
    public void connectionAcquired(Call call, Connection connection) {
      events.add("connectionAcquired");
    }

    @Override
    public void connectionReleased(Call call, Connection connection) {
      events.add("connectionReleased");
    }

    @Override
    public void requestHeadersStart(Call call) {
      events.add("requestHeadersStart");
    }

    @Override
    public void requestHeadersEnd(Call call, Request request) {
      events.add("requestHeadersEnd");
    }

    @Override
    public void requestBodyStart(Call call) {
      events.add("requestBodyStart");
    }

    @Override
    public void requestBodyEnd(Call call, long byteCount) {
      events.add("requestBodyEnd");
    }

    @Override
    public void requestFailed(Call call, IOException ioe) {
      events.add("requestFailed");
    }

    @Override
    public void responseHeadersStart(Call call) {
      events.add("responseHeadersStart");
    }

    @Override
    public void responseHeadersEnd(Call call, Response response) {
      events.add("responseHeadersEnd");
    }

    @Override
    public void responseBodyStart(Call call) {
      events.add("responseBodyStart");
    }

    @Override
    public void responseBodyEnd(Call call, long byteCount) {
      events.add("responseBodyEnd");
    }

    @Override
    public void responseFailed(Call call, IOException ioe) {
      events.add("responseFailed");
    }

    @Override
    public void callEnd(Call call) {
      events.add("callEnd");
    }

    @Override
    public void callFailed(Call call, IOException ioe) {
      events.add("callFailed");
    }

    @Override
    public void canceled(Call call) {
      events.add("canceled");
    }

    @Override
    public void retryDecision(Call call, IOException exception, boolean retry) {
      events.add("retryDecision");
    }

    @Override
    public void followUpDecision(Call call, Response networkResponse, Request nextRequest) {
      events.add("followUpDecision");
    }
  }

  /** Waits for {@code latch} as getaddrinfo waits for its answer: an interrupt does not end it. */
  private static void awaitDeafly(CountDownLatch latch) {
    while (true) {
      try {
        latch.await();
        return;
      } catch (InterruptedException deaf) {
        // goes on waiting
      }
    }
  }
}
