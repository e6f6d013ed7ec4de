package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.Result;
import dev.outrigger.internal.FakeClock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import okhttp3.ConnectionPool;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * FanOut over real sockets. Tasks make plain OkHttp calls to a {@link TestServer}, which can hold
 * requests, count them in flight, and tell when a client hung up on a stalled one.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutTest {
  private final OkHttpClient client = new OkHttpClient.Builder()
      .connectionPool(new ConnectionPool(64, 1, java.util.concurrent.TimeUnit.MINUTES))
      // No read timeout: a stalled call ends only if FanOut cancels it (or the test times out).
      .readTimeout(Duration.ZERO)
      .build();
  private final List<TestServer> servers = new ArrayList<>();

  @AfterEach
  void noConnectionLeftInUse() throws IOException {
    // A connection still carrying an exchange cannot be evicted: this fails on a leaked response.
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

  private String get(HttpUrl url) throws IOException {
    try (Response r = client.newCall(new Request.Builder().url(url).build()).execute()) {
      if (!r.isSuccessful()) {
        throw new IOException("HTTP " + r.code() + " for " + url.encodedPath());
      }
      return r.body().string();
    }
  }

  @Test
  void resultsComeInSubmissionOrderAndCompletionsInTheOrderTasksFinish() throws Exception {
    int n = 30;
    Map<String, CountDownLatch> release = new ConcurrentHashMap<>();
    for (int i = 0; i < n; i++) {
      release.put("/item/" + i, new CountDownLatch(1));
    }
    TestServer server = server(ex -> {
      TestServer.await(release.get(ex.path()));
      return TestServer.Reply.ok(ex.path().substring("/item/".length()));
    });
    List<Integer> finishOrder = new ArrayList<>(IntStream.range(0, n).boxed().toList());
    Collections.shuffle(finishOrder, new Random(7));

    try (FanOut<String> fan = FanOut.<String>builder().build()) {
      for (int i = 0; i < n; i++) {
        HttpUrl url = server.url("/item/" + i);
        assertEquals(i, fan.submit(() -> get(url)));
      }
      assertTrue(server.awaitInFlight(n), "not every request reached the server at once");
      Iterator<FanOut.Completion<String>> completions = fan.completions().iterator();
      for (int next : finishOrder) {
        release.get("/item/" + next).countDown();
        FanOut.Completion<String> c = completions.next();
        assertEquals(next, c.index(), "completions must come in the order tasks finish");
        assertEquals(String.valueOf(next), c.result().value());
      }
      assertFalse(completions.hasNext());

      List<Result<String>> results = fan.join();
      assertEquals(n, results.size());
      for (int i = 0; i < n; i++) {
        assertEquals(String.valueOf(i), results.get(i).value(), "result " + i);
      }
    }
  }

  @Test
  void collectsEveryOutcomeWithTheExactExceptionEachTaskThrew() throws Exception {
    TestServer server = server(ex -> {
      int id = Integer.parseInt(ex.path().substring(1));
      return id % 3 == 0 ? new TestServer.Reply(500, "no") : TestServer.Reply.ok("p" + id);
    });
    Map<Integer, Throwable> thrown = new ConcurrentHashMap<>();
    try (FanOut<String> fan = FanOut.<String>builder().build()) {
      for (int i = 0; i < 12; i++) {
        int id = i;
        fan.submit(() -> {
          try {
            String body = get(server.url("/" + id));
            if (id % 3 == 1) {
              IllegalStateException e = new IllegalStateException("unchecked " + id);
              thrown.put(id, e);
              throw e;
            }
            return body;
          } catch (IOException e) {
            thrown.put(id, e);
            throw e;
          }
        });
      }
      List<Result<String>> results = fan.join();
      for (int i = 0; i < 12; i++) {
        Result<String> r = results.get(i);
        if (i % 3 == 2) {
          assertTrue(r.isSuccess(), "result " + i);
          assertEquals("p" + i, r.value());
          assertNull(r.error());
        } else {
          assertFalse(r.isSuccess(), "result " + i);
          assertSame(thrown.get(i), r.error(), "error() must be exactly what the task threw");
          Class<?> expected = i % 3 == 0 ? IOException.class : IllegalStateException.class;
          assertTrue(expected.isInstance(r.error()), r.error().toString());
          IllegalStateException e = assertThrows(IllegalStateException.class, r::value);
          assertSame(r.error(), e.getCause());
        }
      }
    }
    assertEquals(12, server.requestCount());
  }

  @Test
  void failFastCancelsTheRunningCallsAtTheServerAndJoinThrowsTheFirstFailure() throws Exception {
    int stalled = 5;
    TestServer server = server(ex -> {
      if (ex.path().equals("/fail")) {
        // Fail only once every other call is stalled in flight, so there is something to cancel.
        ex.server().awaitStalled(stalled);
        return new TestServer.Reply(503, "down");
      }
      return ex.stallUntilClientCloses();
    });
    IllegalStateException failure = new IllegalStateException("first failure");
    AtomicInteger started = new AtomicInteger();
    FanOut<String> fan = FanOut.<String>builder().failFast(true).build();
    for (int i = 0; i < stalled; i++) {
      fan.submit(() -> {
        started.incrementAndGet();
        return get(server.url("/stall"));
      });
    }
    fan.submit(() -> {
      try {
        return get(server.url("/fail"));
      } catch (IOException e) {
        throw failure;
      }
    });

    IllegalStateException thrown = assertThrows(IllegalStateException.class, fan::join);
    assertSame(failure, thrown, "join must throw the first failure itself");
    assertTrue(server.awaitDisconnects(stalled), "stalled calls were not cancelled at the server: "
        + server.disconnects() + " of " + stalled);
    assertEquals(stalled, started.get());

    // Later submits are not run; the batch is cancelled.
    AtomicInteger ranLate = new AtomicInteger();
    int late = fan.submit(() -> "late " + ranLate.incrementAndGet());
    fan.close();
    assertEquals(0, ranLate.get());
    assertEquals(6, late);
  }

  @Test
  void failFastNeverStartsQueuedTasks() throws Exception {
    TestServer server = server(ex -> ex.path().equals("/fail")
        ? new TestServer.Reply(500, "no")
        : TestServer.Reply.ok("ok"));
    AtomicInteger started = new AtomicInteger();
    CountDownLatch queuedBehind = new CountDownLatch(1);
    try (FanOut<String> fan = FanOut.<String>builder().maxConcurrency(1).failFast(true).build()) {
      fan.submit(() -> {
        started.incrementAndGet();
        // Hold the only slot until the tasks behind are queued.
        TestServer.await(queuedBehind);
        return get(server.url("/fail"));
      });
      for (int i = 0; i < 20; i++) {
        fan.submit(() -> {
          started.incrementAndGet();
          return get(server.url("/ok"));
        });
      }
      queuedBehind.countDown();
      CompletionException e = assertThrows(CompletionException.class, fan::join);
      assertInstanceOf(IOException.class, e.getCause());
      assertTrue(e.getCause().getMessage().contains("HTTP 500"), e.getCause().getMessage());
      assertEquals(1, started.get(), "queued tasks started after the first failure");
      assertEquals(1, server.requestCount());
    }
  }

  @Test
  void failFastWrapsACheckedFailureSoThatItsCauseIsTheFailure() throws Exception {
    IOException checked = new IOException("checked");
    try (FanOut<String> fan = FanOut.<String>builder().failFast(true).build()) {
      fan.submit(() -> {
        throw checked;
      });
      CompletionException e = assertThrows(CompletionException.class, fan::join);
      assertSame(checked, e.getCause());
    }
  }

  @Test
  void failFastThrowsAnErrorAsIs() throws Exception {
    AssertionError error = new AssertionError("an error");
    try (FanOut<String> fan = FanOut.<String>builder().failFast(true).build()) {
      fan.submit(() -> {
        throw error;
      });
      assertSame(error, assertThrows(AssertionError.class, fan::join));
    }
  }

  @Test
  void theServerSeesNoMoreThanMaxConcurrencyInFlightAndReachesIt() throws Exception {
    int bound = 8;
    int tasks = 40;
    TestServer server = server(ex -> {
      // Hold each request until the bound is reached (or every request has arrived): if
      // FanOut allowed fewer in flight, the server would wait here, and the test would fail on
      // the maximum below.
      ex.server().holdUntilInFlight(bound, tasks);
      return TestServer.Reply.ok("ok");
    });
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    try (FanOut<String> fan = FanOut.<String>builder().maxConcurrency(bound).build()) {
      for (int i = 0; i < tasks; i++) {
        fan.submit(() -> {
          maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
          try {
            return get(server.url("/x"));
          } finally {
            running.decrementAndGet();
          }
        });
      }
      List<Result<String>> results = fan.join();
      assertTrue(results.stream().allMatch(Result::isSuccess), results.toString());
    }
    assertEquals(bound, server.maxInFlight(), "the server's peak in flight");
    assertEquals(bound, maxRunning.get(), "peak of tasks running at once");
    assertEquals(tasks, server.requestCount());
  }

  @Test
  void joinReturnsOnceEveryTaskThreadHasDoneItsPart() throws Exception {
    // A task's thread gives back its slot and starts the next task after its result is in:
    // join() waits for that too, so the FanOut it leaves has nothing running.
    for (int round = 0; round < 300; round++) {
      try (FanOut<Integer> fan = FanOut.<Integer>builder().maxConcurrency(2).build()) {
        for (int i = 0; i < 4; i++) {
          int id = i;
          fan.submit(() -> id);
        }
        List<Result<Integer>> results = fan.join();
        assertEquals(List.of(0, 1, 2, 3), results.stream().map(Result::value).toList());
        assertTrue(fan.toString().contains("running=0, queued=0,"), "round " + round + ": " + fan);
      }
    }
  }

  @Test
  void queuedTasksWaitAsObjectsNotAsStartedThreads() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger started = new AtomicInteger();
    try (FanOut<Integer> fan = FanOut.<Integer>builder().maxConcurrency(4).build()) {
      for (int i = 0; i < 1000; i++) {
        int id = i;
        fan.submit(() -> {
          started.incrementAndGet();
          TestServer.await(release);
          return id;
        });
      }
      String state = fan.toString();
      assertTrue(state.contains("queued=996") || state.contains("queued=997")
          || state.contains("queued=998") || state.contains("queued=999")
          || state.contains("queued=1000"), state);
      assertTrue(started.get() <= 4, "started " + started.get());
      release.countDown();
      List<Result<Integer>> results = fan.join();
      assertEquals(1000, started.get());
      for (int i = 0; i < 1000; i++) {
        assertEquals(i, results.get(i).value());
      }
      assertTrue(fan.toString().contains("queued=0,"), fan.toString());
    }
  }

  @Test
  void closeWithoutJoinCancelsRunningCallsAtTheServerAndWaitsForEveryTask() throws Exception {
    int stalled = 6;
    TestServer server = server(TestServer.Exchange::stallUntilClientCloses);
    AtomicInteger ended = new AtomicInteger();
    AtomicInteger started = new AtomicInteger();
    FanOut<String> fan = FanOut.<String>builder().maxConcurrency(stalled).build();
    for (int i = 0; i < stalled + 10; i++) {
      fan.submit(() -> {
        started.incrementAndGet();
        try {
          return get(server.url("/stall"));
        } finally {
          ended.incrementAndGet();
        }
      });
    }
    assertTrue(server.awaitStalled(stalled));

    fan.close();

    assertEquals(stalled, ended.get(), "close() returned before every task ended");
    assertEquals(stalled, started.get(), "queued tasks ran after close()");
    assertTrue(server.awaitDisconnects(stalled), "the stalled connections were not closed");
    List<Result<String>> results = fan.join();
    for (int i = 0; i < stalled; i++) {
      assertInstanceOf(IOException.class, results.get(i).error(), "running task " + i);
    }
    for (int i = stalled; i < results.size(); i++) {
      CancellationException e =
          assertInstanceOf(CancellationException.class, results.get(i).error(), "queued " + i);
      assertTrue(e.getMessage().contains("not started"), e.getMessage());
    }
    assertThrows(IllegalStateException.class, () -> fan.submit(() -> "late"));
  }

  @Test
  void closeAfterJoinIsANoOp() throws Exception {
    FanOut<Integer> fan = FanOut.<Integer>builder().build();
    fan.submit(() -> 1);
    assertEquals(1, fan.join().get(0).value());
    fan.close();
    fan.close();
    assertEquals(1, fan.join().get(0).value());
  }

  @Test
  void tasksInheritTheDeadlineScopeCurrentAtSubmit() throws Exception {
    // The scope runs on a fake clock that never moves: on the real clock, a task a loaded
    // machine started late could find the scope's deadline passed and never run.
    FakeClock clock = new FakeClock();
    AtomicReference<Deadline> inScope = new AtomicReference<>();
    AtomicReference<Deadline> outOfScope = new AtomicReference<>(Deadline.after(Duration.ZERO));
    try (FanOut<Integer> fan = FanOut.<Integer>builder().build()) {
      Deadline scope = Deadline.after(Duration.ofSeconds(20), clock::nanoTime);
      Deadline.within(scope, () -> fan.submit(() -> {
        inScope.set(Deadline.current().orElse(null));
        return 1;
      }));
      fan.submit(() -> {
        outOfScope.set(Deadline.current().orElse(null));
        return 2;
      });
      fan.join();
    }
    assertNotNull(inScope.get(), "a task submitted in a Deadline.within scope saw no deadline");
    assertTrue(inScope.get().remainingNanos() <= Duration.ofSeconds(20).toNanos());
    assertNull(outOfScope.get(), "a task submitted outside any scope saw a deadline");
  }

  @Test
  void theBatchDeadlineAndTheEnclosingScopeBoundEveryTaskWhicheverIsTighter() throws Exception {
    // The scopes run on a fake clock that never moves, and the batch's own deadline is an hour
    // away: on the real clock's 5 s and 3 s, a task a loaded machine started late found its
    // deadline passed and never ran.
    FakeClock clock = new FakeClock();
    List<Deadline> seen = new CopyOnWriteArrayList<>();
    try (FanOut<Integer> fan = FanOut.<Integer>builder().deadline(Duration.ofHours(1)).build()) {
      fan.submit(() -> {
        seen.add(Deadline.current().orElseThrow());
        return 1;
      });
      Deadline scope = Deadline.after(Duration.ofSeconds(5), clock::nanoTime);
      Deadline.within(scope, () -> fan.submit(() -> {
        seen.add(Deadline.current().orElseThrow());
        return 2;
      }));
      List<Result<Integer>> results = fan.join();
      assertTrue(results.stream().allMatch(Result::isSuccess), results.toString());
    }
    long max = Duration.ofHours(1).toNanos();
    long tight = Duration.ofSeconds(5).toNanos();
    List<Long> remaining = seen.stream().map(Deadline::remainingNanos).sorted().toList();
    assertEquals(2, remaining.size());
    assertTrue(remaining.get(0) <= tight, "the tighter scope did not bound its task");
    assertTrue(remaining.get(1) > tight && remaining.get(1) <= max, "batch deadline " + remaining);

    // A scope around build() bounds the whole batch, tighter than its own deadline.
    AtomicReference<Deadline> inner = new AtomicReference<>();
    FanOut<Integer> fan = Deadline.within(Deadline.after(Duration.ofSeconds(3), clock::nanoTime),
        () -> FanOut.<Integer>builder().deadline(Duration.ofHours(1)).build());
    try (fan) {
      fan.submit(() -> {
        inner.set(Deadline.current().orElseThrow());
        return 1;
      });
      fan.join();
    }
    assertTrue(inner.get().remainingNanos() <= Duration.ofSeconds(3).toNanos());
  }

  @Test
  void whenTheBatchDeadlinePassesJoinCancelsRunningCallsAndQueuedTasksNeverStart()
      throws Exception {
    TestServer server = server(TestServer.Exchange::stallUntilClientCloses);
    AtomicInteger started = new AtomicInteger();
    // The batch deadline (that of the scope it is built in) runs on a fake clock, moved past it
    // once the two running calls have reached the server: on the real clock's 300 ms, a fresh
    // JVM under load started no task in time, and every task failed unstarted.
    FakeClock clock = new FakeClock();
    List<Result<String>> results;
    try (FanOut<String> fan = Deadline.within(
        Deadline.after(Duration.ofMillis(300), clock::nanoTime),
        () -> FanOut.<String>builder().maxConcurrency(2).build())) {
      for (int i = 0; i < 5; i++) {
        fan.submit(() -> {
          started.incrementAndGet();
          return get(server.url("/stall"));
        });
      }
      assertTrue(server.awaitStalled(2), "the running calls never reached the server");
      clock.advance(Duration.ofSeconds(1).toNanos()); // past the deadline and join()'s grace
      results = fan.join();
    }
    assertEquals(2, started.get());
    assertTrue(server.awaitDisconnects(2), "the stalled calls were not cancelled");
    assertInstanceOf(IOException.class, results.get(0).error());
    assertInstanceOf(IOException.class, results.get(1).error());
    for (int i = 2; i < 5; i++) {
      DeadlineExceededException e =
          assertInstanceOf(DeadlineExceededException.class, results.get(i).error());
      assertTrue(e.getMessage().contains("batch deadline"), e.getMessage());
    }
  }

  @Test
  void joinInterruptedThrowsAndLeavesTheTasksToClose() throws Exception {
    TestServer server = server(TestServer.Exchange::stallUntilClientCloses);
    FanOut<String> fan = FanOut.<String>builder().build();
    fan.submit(() -> get(server.url("/stall")));
    assertTrue(server.awaitStalled(1));
    Thread.currentThread().interrupt();
    assertThrows(InterruptedException.class, fan::join);
    assertEquals(0, server.disconnects(), "join() must not cancel the tasks on interrupt");
    fan.close();
    assertTrue(server.awaitDisconnects(1));
  }

  @Test
  void mapReturnsOneResultPerItemInOrderAndCollectsFailures() {
    List<Integer> ids = IntStream.range(0, 50).boxed().toList();
    List<Result<String>> results = FanOut.map(ids, id -> {
      if (id % 10 == 9) {
        throw new IOException("no " + id);
      }
      return "v" + id;
    });
    assertEquals(50, results.size());
    for (int i = 0; i < 50; i++) {
      if (i % 10 == 9) {
        assertEquals("no " + i, results.get(i).error().getMessage());
      } else {
        assertEquals("v" + i, results.get(i).value());
      }
    }
  }

  @Test
  void mapWithABoundRunsAtMostThatManyAtOnceAndKeepsTheOrder() {
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    CountDownLatch threeRunning = new CountDownLatch(3);
    List<Integer> ids = IntStream.range(0, 200).boxed().toList();
    List<Result<String>> results = FanOut.map(ids, 3, id -> {
      maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
      threeRunning.countDown();
      // The first three hold their slots until all three run: the bound is then reached.
      assertTrue(threeRunning.await(10, TimeUnit.SECONDS), "three never ran at once");
      Thread.yield();
      running.decrementAndGet();
      return "v" + id;
    });
    assertEquals(3, maxRunning.get(), "most items running at once");
    assertEquals(ids.stream().map(id -> "v" + id).toList(),
        results.stream().map(Result::value).toList());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FanOut.map(ids, 0, id -> id));
    assertTrue(e.getMessage().contains("maxConcurrency"), e.getMessage());
    assertThrows(NullPointerException.class, () -> FanOut.map(null, 2, x -> x));
  }

  @Test
  void mapInterruptedCancelsTheRestRestoresTheFlagAndReturnsFailures() throws Exception {
    TestServer server = server(TestServer.Exchange::stallUntilClientCloses);
    AtomicReference<List<Result<String>>> out = new AtomicReference<>();
    AtomicReference<Boolean> flag = new AtomicReference<>();
    Thread caller = Thread.ofVirtual().start(() -> {
      out.set(FanOut.map(List.of(1, 2, 3), id -> get(server.url("/stall/" + id))));
      flag.set(Thread.currentThread().isInterrupted());
    });
    assertTrue(server.awaitStalled(3));
    caller.interrupt();
    caller.join(Duration.ofSeconds(20));
    assertFalse(caller.isAlive(), "map did not return after the interrupt");
    assertEquals(Boolean.TRUE, flag.get(), "the interrupt status was not restored");
    assertEquals(3, out.get().size());
    assertTrue(out.get().stream().noneMatch(Result::isSuccess), out.get().toString());
    assertTrue(server.awaitDisconnects(3));
  }

  @Test
  void theProgressListenerCountsCompletedFailedAndTotal() throws Exception {
    List<int[]> reports = new CopyOnWriteArrayList<>();
    try (FanOut<Integer> fan = FanOut.<Integer>builder()
        .progress((completed, failed, total) -> reports.add(new int[] {completed, failed, total}))
        .build()) {
      CountDownLatch go = new CountDownLatch(1);
      for (int i = 0; i < 20; i++) {
        int id = i;
        fan.submit(() -> {
          TestServer.await(go);
          if (id % 4 == 0) {
            throw new IllegalStateException("bad " + id);
          }
          return id;
        });
      }
      go.countDown();
      fan.join();
    }
    assertEquals(20, reports.size());
    int[] last = reports.stream().max((a, b) -> Integer.compare(a[0], b[0])).orElseThrow();
    assertEquals(20, last[0]);
    assertEquals(5, last[1]);
    assertEquals(20, last[2]);
    assertEquals(IntStream.rangeClosed(1, 20).boxed().toList(),
        reports.stream().map(r -> r[0]).sorted().toList(), "each completion reported once");
  }

  @Test
  void aThrowingProgressListenerIsIgnored() throws Exception {
    try (FanOut<Integer> fan = FanOut.<Integer>builder()
        .progress((c, f, t) -> {
          throw new IllegalStateException("listener bug");
        })
        .build()) {
      fan.submit(() -> 1);
      assertEquals(1, fan.join().get(0).value());
    }
  }

  @Test
  void handlesOneHundredThousandTasksInOneBatch() throws Exception {
    int n = 100_000;
    List<Integer> items = IntStream.range(0, n).boxed().toList();
    List<Result<Integer>> results = FanOut.map(items, i -> i * 2);
    assertEquals(n, results.size());
    for (int i = 0; i < n; i++) {
      assertEquals(i * 2, results.get(i).value());
    }

    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    AtomicInteger progressCalls = new AtomicInteger();
    try (FanOut<Integer> fan = FanOut.<Integer>builder()
        .maxConcurrency(64)
        .progress((c, f, t) -> progressCalls.incrementAndGet())
        .build()) {
      for (int i = 0; i < n; i++) {
        int id = i;
        fan.submit(() -> {
          maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
          Thread.yield();
          running.decrementAndGet();
          return id;
        });
      }
      assertEquals(n, fan.completions().count());
      List<Result<Integer>> bounded = fan.join();
      assertEquals(n, bounded.size());
      assertEquals(n - 1, bounded.get(n - 1).value());
    }
    assertTrue(maxRunning.get() <= 64, "ran " + maxRunning.get() + " at once");
    assertEquals(n, progressCalls.get());
  }

  @Test
  void theBuilderRejectsBadSettingsNamingThem() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FanOut.builder().maxConcurrency(0));
    assertTrue(e.getMessage().contains("maxConcurrency") && e.getMessage().contains("0"));
    e = assertThrows(IllegalArgumentException.class,
        () -> FanOut.builder().deadline(Duration.ofMillis(-5)));
    assertTrue(e.getMessage().contains("deadline") && e.getMessage().contains("-0.005"),
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> FanOut.builder().deadline(Duration.ZERO));
    assertThrows(NullPointerException.class, () -> FanOut.builder().deadline(null));
    assertThrows(NullPointerException.class, () -> FanOut.builder().progress(null));
    assertThrows(NullPointerException.class, () -> FanOut.map(null, x -> x));
    assertThrows(NullPointerException.class, () -> FanOut.map(List.of(), null));
    try (FanOut<Object> fan = FanOut.builder().build()) {
      assertThrows(NullPointerException.class, () -> fan.submit(null));
    }
  }

  @Test
  void resultFactoriesAndAccessors() {
    Result<String> ok = Result.success(null);
    assertTrue(ok.isSuccess());
    assertNull(ok.value());
    assertNull(ok.error());
    IOException boom = new IOException("boom");
    Result<String> bad = Result.failure(boom);
    assertFalse(bad.isSuccess());
    assertSame(boom, bad.error());
    assertSame(boom, assertThrows(IllegalStateException.class, bad::value).getCause());
    assertThrows(NullPointerException.class, () -> Result.failure(null));
    String described = switch (bad) {
      case Result.Success<String> s -> "ok " + s.value();
      case Result.Failure<String> f -> "failed " + f.error().getMessage();
    };
    assertEquals("failed boom", described);
  }

  @Test
  @Timeout(20) // unbound by the scope, the task would wait for ever
  void aBatchBuiltInsideAScopeBindsTasksSubmittedAfterIt() throws Exception {
    // The scope's time is a fake clock's, moved only once the task runs: on the real clock, a
    // task that a loaded machine started after 100 ms found the deadline passed and never ran.
    FakeClock clock = new FakeClock();
    FanOut<String> fan = Deadline.within(Deadline.after(Duration.ofMillis(100), clock::nanoTime),
        () -> FanOut.<String>builder().build());
    try (fan) {
      assertTrue(Deadline.current().isEmpty(), "submitted outside the scope");
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch never = new CountDownLatch(1);
      fan.submit(() -> {
        started.countDown();
        never.await();
        return "unbounded";
      });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      clock.advance(Duration.ofSeconds(1).toNanos()); // past the deadline and join()'s grace
      Result<String> r = fan.join().get(0);
      assertFalse(r.isSuccess(), "the scope the batch was built in cut the task");
      assertInstanceOf(InterruptedException.class, r.error());
    }
  }
}
