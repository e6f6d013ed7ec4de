package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.HttpStatusException;
import dev.outrigger.Result;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.bulkhead.InFlightLimiter;
import java.io.IOException;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * FanOut with tasks calling through a real {@link ApiClient} over real sockets: deadlines reach
 * the calls, cancellation closes their connections, and the client's per-host in-flight limit
 * holds.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutClientTest {
  private final List<TestServer> servers = new ArrayList<>();
  private final List<ApiClient> clients = new ArrayList<>();

  @AfterEach
  void noLeaks() throws Exception {
    for (ApiClient c : clients) {
      ClientTestSupport.assertNoLeaks(c);
      c.close();
    }
    for (TestServer s : servers) {
      s.close();
    }
  }

  private TestServer server(TestServer.Handler handler) throws IOException {
    TestServer s = new TestServer(handler);
    servers.add(s);
    return s;
  }

  /** A client whose own deadline (60 s) outlasts the test: any earlier end came from FanOut. */
  private ApiClient client(TestServer server, ApiClient.Builder b) {
    ApiClient c = b.baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(60))
        .retry(Retry.none())
        .build();
    clients.add(c);
    return c;
  }

  @Test
  void theEnclosingDeadlineScopeEndsTheCallsOfEveryTask() throws Exception {
    TestServer server = server(TestServer.Exchange::stallUntilClientCloses);
    ApiClient client = client(server, ApiClient.builder());
    // The scope's deadline runs on a fake clock that never moves: each call is cut by its own
    // 300 ms, and join() never cuts first (see theBatchDeadlineEndsTheCallsOfEveryTask).
    FakeClock clock = new FakeClock();
    Deadline scope = Deadline.after(Duration.ofMillis(300), clock::nanoTime);
    List<Result<String>> results = Deadline.within(scope, () -> {
      try (FanOut<String> fan = FanOut.<String>builder().build()) {
        for (int i = 0; i < 3; i++) {
          fan.submit(() -> client.get("/stall").execute(String.class));
        }
        return fan.join();
      }
    });
    for (Result<String> r : results) {
      assertInstanceOf(DeadlineExceededException.class, r.error());
    }
    assertTrue(server.awaitDisconnects(3), "the calls' connections were not closed");
  }

  @Test
  void theBatchDeadlineEndsTheCallsOfEveryTask() throws Exception {
    TestServer server = server(TestServer.Exchange::stallUntilClientCloses);
    ApiClient client = client(server, ApiClient.builder());
    // The batch deadline (that of the scope it is built in) runs on a fake clock that never
    // moves: each call is cut by its own 300 ms, and join() never cuts first. On the real clock
    // join() interrupts the tasks 100 ms past the deadline, and a call a loaded machine had not
    // yet ended by its deadline then failed as cancelled.
    FakeClock clock = new FakeClock();
    List<Result<String>> results;
    try (FanOut<String> fan = Deadline.within(
        Deadline.after(Duration.ofMillis(300), clock::nanoTime),
        () -> FanOut.<String>builder().build())) {
      for (int i = 0; i < 3; i++) {
        fan.submit(() -> client.get("/stall").execute(String.class));
      }
      results = fan.join();
    }
    for (Result<String> r : results) {
      assertInstanceOf(DeadlineExceededException.class, r.error());
    }
    assertTrue(server.awaitDisconnects(3));
  }

  @Test
  void failFastThrowsTheFirstHttpFailureAndCancelsTheStalledCalls() throws Exception {
    int stalled = 4;
    TestServer server = server(ex -> {
      if (ex.path().equals("/broken")) {
        ex.server().awaitStalled(stalled);
        return new TestServer.Reply(503, "down");
      }
      return ex.stallUntilClientCloses();
    });
    ApiClient client = client(server, ApiClient.builder());
    try (FanOut<String> fan = FanOut.<String>builder().failFast(true).build()) {
      for (int i = 0; i < stalled; i++) {
        fan.submit(() -> client.get("/stall").execute(String.class));
      }
      fan.submit(() -> client.get("/broken").execute(String.class));

      HttpStatusException e = assertThrows(HttpStatusException.class, fan::join);
      assertEquals(503, e.status());
      assertTrue(server.awaitDisconnects(stalled), "stalled calls were not cancelled");

      // Every outcome is still there in completion order, after the failure.
      List<FanOut.Completion<String>> all = fan.completions().toList();
      assertEquals(stalled + 1, all.size());
      for (FanOut.Completion<String> c : all) {
        if (c.index() == stalled) {
          assertSame(e, c.result().error());
        } else {
          TransportException te = assertInstanceOf(TransportException.class, c.result().error());
          assertEquals(TransportException.Kind.CANCELLED, te.kind());
        }
      }
    }
  }

  @Test
  void theClientsPerHostLimitBoundsAFanOutWithoutItsOwnBound() throws Exception {
    int limit = 4;
    int calls = 24;
    AtomicReference<InFlightLimiter> limiter = new AtomicReference<>();
    AtomicInteger arrived = new AtomicInteger();
    AtomicBoolean othersQueued = new AtomicBoolean();
    TestServer server = server(ex -> {
      // The first `limit` requests are held until all of them reached the server and every
      // other call is parked at the client's limiter: then each of those waited for a slot,
      // however the virtual threads were scheduled (a task starting late would otherwise find a
      // slot already free).
      if (arrived.incrementAndGet() <= limit) {
        String key = RealCallContext.hostKey(ex.server().url("/"));
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!othersQueued.get() && System.nanoTime() - end < 0) {
          if (arrived.get() >= limit && limiter.get().waiting(key) == calls - limit) {
            othersQueued.set(true);
          }
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
      }
      return TestServer.Reply.ok("ok");
    });
    AtomicInteger waited = new AtomicInteger();
    ApiClient client = client(server, ApiClient.builder()
        .maxInFlightPerHost(limit)
        .addListener(new CallListener() {
          @Override
          public void inFlightWaited(CallContext call, Duration d) {
            waited.incrementAndGet();
          }
        }));
    limiter.set(inFlightLimiter(client));
    List<Result<String>> results = FanOut.map(IntStream.range(0, calls).boxed().toList(),
        i -> client.get("/x").execute(String.class));
    assertTrue(results.stream().allMatch(Result::isSuccess), results.toString());
    assertTrue(othersQueued.get(), "the held calls never all reached the server with the others"
        + " waiting; requests " + arrived.get() + ", max in flight " + server.maxInFlight());
    assertEquals(limit, server.maxInFlight());
    assertEquals(calls - limit, waited.get(), "waits reported");
  }

  /** The client's own limiter, to see how many calls wait at it. */
  private static InFlightLimiter inFlightLimiter(ApiClient client) throws Exception {
    Field f = ApiClient.class.getDeclaredField("chain");
    f.setAccessible(true);
    return (InFlightLimiter) ((PolicyChain) f.get(client)).interceptors().stream()
        .filter(i -> i instanceof InFlightLimiter).findFirst().orElseThrow();
  }

  @Test
  void aClientWithDefaultsLetsOneThousandCallsToOneHostBeInFlightAtOnce() throws Exception {
    int calls = 1000;
    TestServer server = server(ex -> {
      ex.server().holdUntilInFlight(calls, calls);
      return TestServer.Reply.ok("ok");
    });
    ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString()).build();
    clients.add(client);
    List<Result<String>> results = FanOut.map(IntStream.range(0, calls).boxed().toList(),
        i -> client.get("/x").execute(String.class));
    assertTrue(results.stream().allMatch(Result::isSuccess),
        results.stream().filter(r -> !r.isSuccess()).findFirst().toString());
    assertEquals(calls, server.maxInFlight());
  }
}
