package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.Result;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.http.Transport;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.bulkhead.InFlightLimiter;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The per-host in-flight limit, in a small real chain (limiter, then an OkHttp call to a
 * {@link TestServer}) built the way the client's transport behaves: bodies buffered, I/O failures
 * as {@link TransportException}.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InFlightLimiterTest {
  private final OkHttpClient client = new OkHttpClient.Builder()
      .readTimeout(Duration.ZERO)
      .retryOnConnectionFailure(false) // as in the client's transport: Outrigger decides retries
      .build();
  private final List<TestServer> servers = new ArrayList<>();
  private final List<Duration> waits = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void inFlightWaited(CallContext call, Duration waited) {
      waits.add(waited);
    }
  };

  @AfterEach
  void noConnectionLeftInUse() throws IOException {
    client.connectionPool().evictAll();
    assertEquals(0, client.connectionPool().connectionCount(), "connections still in use");
    for (TestServer s : servers) {
      s.close();
    }
  }

  private TestServer server(TestServer.Handler handler) throws IOException {
    TestServer s = new TestServer(handler);
    servers.add(s);
    return s;
  }

  private RealCallContext context(HttpUrl url, Deadline deadline, NanoClock clock) {
    return new RealCallContext(
        "GET", url, deadline, true, clock, listener, new Redactor(Set.of(), Set.of()));
  }

  /** Runs one call through the limiter and then OkHttp; returns the buffered body text. */
  private String call(InFlightLimiter limiter, HttpUrl url, Deadline deadline) {
    RealCallContext ctx = context(url, deadline, NanoClock.SYSTEM);
    ctx.beginAttempt();
    Request request = new Request.Builder().url(url).build();
    try (Response r = send(limiter, request, ctx)) {
      return r.body().string();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private String call(InFlightLimiter limiter, HttpUrl url) {
    return call(limiter, url, Deadline.after(Duration.ofSeconds(20)));
  }

  /** The limiter, then the client's own transport: one OkHttp call, body buffered. */
  private Response send(InFlightLimiter limiter, Request request, RealCallContext ctx) {
    Transport transport = new Transport(client, null, 16L * 1024 * 1024, null, false, false);
    return new PolicyChain(List.of(limiter, transport)).proceed(ctx, request);
  }

  private static String host(HttpUrl url) {
    return RealCallContext.hostKey(url);
  }

  /** An answer made in memory, for chains whose end needs no server. */
  private static Response noContent(Request request) {
    return new Response.Builder().request(request).protocol(Protocol.HTTP_1_1)
        .code(204).message("No Content").body(ResponseBody.create(new byte[0], null)).build();
  }

  /**
   * An inner step that counts {@code in} down on entering, then holds its attempt until
   * {@code release} opens, and answers 204.
   */
  private static CallInterceptor holding(CountDownLatch in, CountDownLatch release) {
    return c -> {
      in.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return noContent(c.request());
    };
  }

  /** Yields until {@code condition} holds; fails after 10 s. */
  private static void until(BooleanSupplier condition, String what) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - end > 0) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.yield();
    }
  }

  @Test
  void theServerSeesNoMoreThanTheLimitInFlightFromOneHostAndReachesIt() throws Exception {
    int limit = 4;
    int calls = 24;
    TestServer server = server(ex -> {
      ex.server().holdUntilInFlight(limit, calls);
      return TestServer.Reply.ok("ok");
    });
    InFlightLimiter limiter = new InFlightLimiter(limit, NanoClock.SYSTEM);
    List<Integer> ids = IntStream.range(0, calls).boxed().toList();
    List<Result<String>> results = FanOut.map(ids, i -> call(limiter, server.url("/x")));
    assertTrue(results.stream().allMatch(Result::isSuccess), results.toString());
    assertEquals(limit, server.maxInFlight(), "the server's peak in flight");
    assertEquals(calls, server.requestCount());
    assertEquals(0, limiter.inFlight(host(server.url("/"))));
  }

  @Test
  void eachHostHasItsOwnSlots() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    TestServer slow = server(ex -> {
      TestServer.await(release);
      return TestServer.Reply.ok("slow");
    });
    TestServer fast = server(ex -> TestServer.Reply.ok("fast"));
    InFlightLimiter limiter = new InFlightLimiter(1, NanoClock.SYSTEM);
    AtomicReference<String> slowBody = new AtomicReference<>();
    Thread holder = Thread.ofVirtual().start(() -> slowBody.set(call(limiter, slow.url("/"))));
    assertTrue(slow.awaitInFlight(1));
    assertEquals(1, limiter.inFlight(host(slow.url("/"))));

    assertEquals("fast", call(limiter, fast.url("/")), "another host must not wait");
    assertTrue(waits.isEmpty(), "nothing waited: " + waits);

    release.countDown();
    holder.join();
    assertEquals("slow", slowBody.get());
    assertEquals(0, limiter.inFlight(host(slow.url("/"))));
  }

  @Test
  void aWaitThatOutlastsTheDeadlineFailsWithDeadlineExceededAndSendsNothing() throws Exception {
    TestServer server = server(TestServer.Exchange::stallUntilClientCloses);
    InFlightLimiter limiter = new InFlightLimiter(1, NanoClock.SYSTEM);
    Thread holder = Thread.ofVirtual().start(() -> {
      try {
        call(limiter, server.url("/hold"));
      } catch (TransportException expected) {
        // cancelled below
      }
    });
    assertTrue(server.awaitStalled(1));

    DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
        () -> call(limiter, server.url("/second"), Deadline.after(Duration.ofMillis(200))));
    assertTrue(e.getMessage().contains("no in-flight slot to " + host(server.url("/"))),
        e.getMessage());
    assertEquals(0, e.attempts());
    assertEquals(1, server.requestCount(), "the refused call must not reach the server");
    assertEquals(1, waits.size(), "the wait is reported");
    assertTrue(waits.get(0).toNanos() > 0);

    holder.interrupt();
    holder.join();
    assertTrue(server.awaitDisconnects(1));
    assertEquals(0, limiter.inFlight(host(server.url("/"))));
  }

  @Test
  void anExpiredDeadlineIsRefusedAtOnceWhenEverySlotIsTaken() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    TestServer server = server(ex -> {
      TestServer.await(release);
      return TestServer.Reply.ok("ok");
    });
    FakeClock clock = new FakeClock();
    InFlightLimiter limiter = new InFlightLimiter(1, clock);
    Thread holder = Thread.ofVirtual().start(() -> call(limiter, server.url("/hold")));
    assertTrue(server.awaitInFlight(1));

    HttpUrl url = server.url("/late");
    RealCallContext ctx = context(url, Deadline.after(Duration.ZERO, clock::nanoTime), clock);
    ctx.beginAttempt();
    assertThrows(DeadlineExceededException.class,
        () -> send(limiter, new Request.Builder().url(url).build(), ctx));
    assertEquals(List.of(Duration.ZERO), waits, "no time passed on the clock");

    release.countDown();
    holder.join();
    assertEquals(1, server.requestCount());
  }

  @Test
  void aWaiterTakesTheSlotWhenItFreesAndTheWaitIsMeasuredOnTheInjectedClock() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    TestServer server = server(ex -> {
      if (ex.path().equals("/hold")) {
        TestServer.await(release);
      }
      return TestServer.Reply.ok(ex.path());
    });
    FakeClock clock = new FakeClock();
    InFlightLimiter limiter = new InFlightLimiter(1, clock);
    String key = host(server.url("/"));
    Thread holder = Thread.ofVirtual().start(() -> call(limiter, server.url("/hold")));
    assertTrue(server.awaitInFlight(1));
    AtomicReference<String> second = new AtomicReference<>();
    Thread waiter = Thread.ofVirtual().start(() -> second.set(call(limiter, server.url("/next"))));
    until(() -> limiter.waiting(key) == 1, "the second call waits");

    clock.advanceMillis(25);
    release.countDown();
    waiter.join();
    holder.join();

    assertEquals("/next", second.get());
    assertEquals(List.of(Duration.ofMillis(25)), waits);
    assertEquals(0, limiter.inFlight(key));
  }

  @Test
  void waitersAreServedFirstComeFirstServed() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    List<String> arrivals = new CopyOnWriteArrayList<>();
    TestServer server = server(ex -> {
      arrivals.add(ex.path());
      if (ex.path().equals("/hold")) {
        TestServer.await(release);
      }
      return TestServer.Reply.ok(ex.path());
    });
    InFlightLimiter limiter = new InFlightLimiter(1, NanoClock.SYSTEM);
    String key = host(server.url("/"));
    List<Thread> threads = new ArrayList<>();
    threads.add(Thread.ofVirtual().start(() -> call(limiter, server.url("/hold"))));
    assertTrue(server.awaitInFlight(1));
    for (int i = 1; i <= 5; i++) {
      HttpUrl url = server.url("/w" + i);
      threads.add(Thread.ofVirtual().start(() -> call(limiter, url)));
      int queued = i;
      until(() -> limiter.waiting(key) == queued, queued + " waiting");
    }
    release.countDown();
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(List.of("/hold", "/w1", "/w2", "/w3", "/w4", "/w5"), arrivals);
  }

  @Test
  void anInterruptedWaiterEndsCancelledAndKeepsItsInterruptStatus() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    TestServer server = server(ex -> {
      TestServer.await(release);
      return TestServer.Reply.ok("ok");
    });
    InFlightLimiter limiter = new InFlightLimiter(1, NanoClock.SYSTEM);
    String key = host(server.url("/"));
    Thread holder = Thread.ofVirtual().start(() -> call(limiter, server.url("/hold")));
    assertTrue(server.awaitInFlight(1));
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<Boolean> flag = new AtomicReference<>();
    Thread waiter = Thread.ofVirtual().start(() -> {
      try {
        call(limiter, server.url("/waiter"));
      } catch (RuntimeException e) {
        failure.set(e);
        flag.set(Thread.currentThread().isInterrupted());
      }
    });
    until(() -> limiter.waiting(key) == 1, "the waiter waits");
    waiter.interrupt();
    waiter.join();

    TransportException e = assertInstanceOf(TransportException.class, failure.get());
    assertEquals(TransportException.Kind.CANCELLED, e.kind());
    assertEquals(Boolean.TRUE, flag.get());
    assertEquals(0, limiter.waiting(key));
    release.countDown();
    holder.join();
    assertEquals(1, server.requestCount());
    assertEquals(0, limiter.inFlight(key));
  }

  @Test
  void aFailedAttemptGivesItsSlotBack() throws Exception {
    TestServer server = server(ex -> {
      throw new IOException("hang up without answering");
    });
    InFlightLimiter limiter = new InFlightLimiter(1, NanoClock.SYSTEM);
    for (int i = 0; i < 3; i++) {
      TransportException e =
          assertThrows(TransportException.class, () -> call(limiter, server.url("/")));
      assertEquals(TransportException.Kind.IO, e.kind());
    }
    assertEquals(0, limiter.inFlight(host(server.url("/"))));
    assertTrue(waits.isEmpty(), "slots were not given back: " + waits);
  }

  @Test
  void stateForIdleHostsIsBounded() {
    InFlightLimiter limiter = new InFlightLimiter(2, NanoClock.SYSTEM);
    // Host bookkeeping only: the last step answers without a network (there are 500 hosts).
    for (int i = 0; i < 500; i++) {
      HttpUrl url = HttpUrl.get("http://h" + i + ".example/");
      RealCallContext ctx = context(url, Deadline.after(Duration.ofSeconds(5)), NanoClock.SYSTEM);
      Request request = new Request.Builder().url(url).build();
      Response r = limiter.intercept(new CallInterceptor.Chain() {
        @Override
        public Request request() {
          return request;
        }

        @Override
        public CallContext context() {
          return ctx;
        }

        @Override
        public Response proceed(Request req) {
          return noContent(req);
        }
      });
      r.close();
      // A look for idle gates keeps at most the 65 hosts first used since the look before (the
      // one whose first call looks among them); the next comes 64 new hosts on.
      assertTrue(limiter.hostsTracked() <= 2 * InFlightLimiter.IDLE_HOSTS_KEPT + 2,
          "tracked " + limiter.hostsTracked());
    }
  }

  @Test
  void waitersGivingUpAsSlotsAreHandedOverNeitherLeakNorLoseASlot() throws Exception {
    // Many attempts with deadlines of a millisecond or two, so that waiters time out while
    // holders leave and hand slots over: a slot handed to a waiter that has just given up must
    // be neither lost (the limit shrinks) nor left lying (the limit grows).
    int limit = 3;
    InFlightLimiter limiter = new InFlightLimiter(limit, NanoClock.SYSTEM);
    HttpUrl url = HttpUrl.get("http://gate.test/x");
    AtomicInteger holding = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    CallInterceptor answer = chain -> {
      most.accumulateAndGet(holding.incrementAndGet(), Math::max);
      LockSupport.parkNanos(
          ThreadLocalRandom.current().nextLong(200_000, 1_500_000));
      holding.decrementAndGet();
      return noContent(chain.request());
    };
    PolicyChain chain = new PolicyChain(List.of(limiter, answer));
    Request request = new Request.Builder().url(url).build();
    AtomicInteger timedOut = new AtomicInteger();
    List<Integer> ids = IntStream.range(0, 3000).boxed().toList();
    List<Result<Integer>> results = FanOut.map(ids, i -> {
      RealCallContext ctx = context(url, Deadline.after(Duration.ofNanos(
          ThreadLocalRandom.current().nextLong(100_000, 2_000_000))),
          NanoClock.SYSTEM);
      ctx.beginAttempt();
      try (Response r = chain.proceed(ctx, request)) {
        return r.code();
      } catch (DeadlineExceededException e) {
        timedOut.incrementAndGet();
        return 0;
      }
    });
    assertTrue(results.stream().allMatch(Result::isSuccess),
        results.stream().filter(r -> !r.isSuccess()).findFirst().toString());
    assertTrue(most.get() <= limit, "at most " + limit + " in flight, saw " + most.get());
    assertTrue(timedOut.get() > 0, "some waiters must have given up for this test to mean much");
    assertEquals(0, limiter.inFlight(host(url)));
    assertEquals(0, limiter.waiting(host(url)));

    // Exactly the limit's worth of slots is left: that many attempts hold at once, and one more
    // waits until one of them leaves.
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch allIn = new CountDownLatch(limit);
    CallInterceptor hold = holding(allIn, release);
    PolicyChain holdingChain = new PolicyChain(List.of(limiter, hold));
    List<Thread> holders = new ArrayList<>();
    for (int i = 0; i < limit; i++) {
      holders.add(Thread.ofVirtual().start(() -> {
        RealCallContext ctx =
            context(url, Deadline.after(Duration.ofSeconds(20)), NanoClock.SYSTEM);
        ctx.beginAttempt();
        holdingChain.proceed(ctx, request).close();
      }));
    }
    assertTrue(allIn.await(10, TimeUnit.SECONDS), "the limit's worth of attempts got in");
    RealCallContext extra = context(url, Deadline.after(Duration.ofMillis(50)), NanoClock.SYSTEM);
    extra.beginAttempt();
    assertThrows(DeadlineExceededException.class, () -> holdingChain.proceed(extra, request));
    release.countDown();
    for (Thread t : holders) {
      t.join(10_000);
    }
    assertEquals(0, limiter.inFlight(host(url)));
  }

  @Test
  void aListenerThatThrowsAnErrorAfterAWaitDoesNotKeepTheSlot() throws Exception {
    aListenerErrorGivesTheSlotBack(new InFlightLimiter(1, NanoClock.SYSTEM));
  }

  @Test
  void aListenerThatThrowsAnErrorAfterAWaitDoesNotKeepTheAdaptiveSlot() throws Exception {
    aListenerErrorGivesTheSlotBack(new InFlightLimiter(
        AdaptiveLimit.vegas().min(1).initial(1).max(1), NanoClock.SYSTEM));
  }

  private void aListenerErrorGivesTheSlotBack(InFlightLimiter limiter) throws Exception {
    HttpUrl url = HttpUrl.get("http://gate.test/x");
    Request request = new Request.Builder().url(url).build();
    CountDownLatch in = new CountDownLatch(1);
    CountDownLatch out = new CountDownLatch(1);
    CallInterceptor hold = holding(in, out);
    CallInterceptor answer =
        c -> c.context().method().equals("HOLD") ? hold.intercept(c) : noContent(c.request());
    PolicyChain chain = new PolicyChain(List.of(limiter, answer));
    Thread holder = Thread.ofVirtual().start(() -> {
      RealCallContext ctx = new RealCallContext("HOLD", url, Deadline.after(Duration.ofSeconds(20)),
          true, NanoClock.SYSTEM, CallListener.NONE, new Redactor(Set.of(), Set.of()));
      ctx.beginAttempt();
      chain.proceed(ctx, request).close();
    });
    assertTrue(in.await(10, TimeUnit.SECONDS));
    CallListener throwing = new CallListener() {
      @Override
      public void inFlightWaited(CallContext call, Duration waited) {
        throw new AssertionError("listener failed");
      }
    };
    RealCallContext waiter = new RealCallContext("GET", url, Deadline.after(Duration.ofSeconds(20)),
        true, NanoClock.SYSTEM, throwing, new Redactor(Set.of(), Set.of()));
    waiter.beginAttempt();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread t = Thread.ofVirtual().start(() -> {
      try {
        chain.proceed(waiter, request).close();
      } catch (Throwable e) {
        thrown.set(e);
      }
    });
    until(() -> limiter.waiting(host(url)) == 1, "the second attempt waits");
    out.countDown();
    t.join(10_000);
    holder.join(10_000);
    assertInstanceOf(AssertionError.class, thrown.get());
    assertEquals(0, limiter.inFlight(host(url)), "nothing in flight");
    // The slot the waiter got went back: the next attempt gets in at once.
    RealCallContext next = context(url, Deadline.after(Duration.ofMillis(500)), NanoClock.SYSTEM);
    next.beginAttempt();
    try (Response r = chain.proceed(next, request)) {
      assertEquals(204, r.code());
    }
  }

  @Test
  void rejectsALimitBelowOneAndDescribesItself() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new InFlightLimiter(0, NanoClock.SYSTEM));
    assertTrue(e.getMessage().contains("0"), e.getMessage());
    assertEquals("InFlightLimit[1024 per host]",
        new InFlightLimiter(InFlightLimiter.DEFAULT_MAX_PER_HOST, NanoClock.SYSTEM).toString());
  }
}
