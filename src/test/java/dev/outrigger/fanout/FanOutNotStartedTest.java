package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.Result;
import dev.outrigger.internal.FakeClock;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import okhttp3.ConnectionPool;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tasks a deadline kept from starting, over real sockets: what their {@link
 * DeadlineExceededException} says and what it costs.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutNotStartedTest {
  private final OkHttpClient client = new OkHttpClient.Builder()
      .connectionPool(new ConnectionPool(8, 1, TimeUnit.MINUTES))
      // No read timeout: a stalled call ends only if FanOut cancels it.
      .readTimeout(Duration.ZERO)
      .build();
  private TestServer server;

  @AfterEach
  void noConnectionLeftInUse() throws IOException {
    client.connectionPool().evictAll();
    assertEquals(0, client.connectionPool().connectionCount(), "connections still in use");
    if (server != null) {
      server.close();
    }
  }

  private String get(HttpUrl url) throws IOException {
    try (Response r = client.newCall(new Request.Builder().url(url).build()).execute()) {
      return r.body().string();
    }
  }

  @Test
  void tasksTheBatchDeadlineKeptFromStartingFailWithoutTheCancellersStackTrace() throws Exception {
    server = new TestServer(TestServer.Exchange::stallUntilClientCloses);
    // The batch deadline (that of the scope it is built in) runs on a fake clock, moved past it
    // once the first task's call has reached the server: on the real clock's 200 ms, a JVM
    // still loading OkHttp's classes sent nothing in time, and the first task failed unstarted.
    FakeClock clock = new FakeClock();
    List<Result<String>> results;
    try (FanOut<String> fan = Deadline.within(
        Deadline.after(Duration.ofMillis(200), clock::nanoTime),
        () -> FanOut.<String>builder().maxConcurrency(1).build())) {
      for (int i = 0; i < 4; i++) {
        HttpUrl url = server.url("/stall/" + i);
        fan.submit(() -> get(url));
      }
      assertTrue(server.awaitStalled(1), "the first task's call never reached the server");
      clock.advance(Duration.ofSeconds(1).toNanos()); // past the deadline and join()'s grace
      results = fan.join();
      // The three queued tasks left the queue when the deadline cancelled them.
      assertTrue(fan.toString().contains("running=0, queued=0,"), fan.toString());
    }
    assertTrue(server.awaitDisconnects(1), "the stalled call was not cancelled");
    assertEquals(1, server.requestCount(), "a queued task was started after the deadline");
    for (int i = 1; i < 4; i++) {
      DeadlineExceededException e =
          assertInstanceOf(DeadlineExceededException.class, results.get(i).error());
      assertEquals("task " + i + " was not started: the batch deadline ran out", e.getMessage());
      // The trace would be join()'s, the same for every task and telling nothing of it; kept in
      // each result, it cost about 1.3 KB a task (130 MB for 100,000 queued tasks).
      assertEquals(0, e.getStackTrace().length, "task " + i + " carries the canceller's trace");
    }
  }

  @Test
  void aTaskWhoseOwnScopeRanOutBeforeItStartedIsNotBlamedOnABatchDeadline() throws Exception {
    server = new TestServer(ex -> TestServer.Reply.ok("never asked"));
    Result<String> r;
    try (FanOut<String> fan = FanOut.<String>builder().build()) {
      HttpUrl url = server.url("/late");
      // This batch has no deadline: only the scope the task was submitted in has one, spent.
      Deadline.within(Duration.ZERO, () -> fan.submit(() -> get(url)));
      r = fan.join().get(0);
    }
    assertEquals(0, server.requestCount(), "a task past its deadline was started");
    DeadlineExceededException e = assertInstanceOf(DeadlineExceededException.class, r.error());
    assertFalse(e.getMessage().contains("batch deadline"), e.getMessage());
    assertEquals("task 0 was not started: the deadline of the scope it was submitted in ran out",
        e.getMessage());
    assertEquals(0, e.getStackTrace().length, "the task carries its starter's trace");
  }
}
