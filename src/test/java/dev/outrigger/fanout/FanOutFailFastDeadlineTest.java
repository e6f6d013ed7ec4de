package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import java.io.IOException;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Fail-fast with a batch deadline, through a real {@link ApiClient} over real sockets: the calls
 * running when the deadline passes end on it, the first of them is join()'s failure, the other
 * keeps its grace (the first one's end does not interrupt it), and the tasks still queued were
 * cut by the deadline, so they read as the deadline's, not as "an earlier task failed".
 *
 * <p>The batch deadline runs on a fake clock, moved past it once both calls are in flight and
 * never past its grace, so join() never cuts the calls itself; the server hangs up on each call
 * when told, and a call failing once its deadline has passed ends as the deadline's. On the real
 * clock the calls had to end within the 100 ms grace, which a loaded machine missed.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutFailFastDeadlineTest {
  private TestServer server;
  private ApiClient client;

  @AfterEach
  void noLeaks() throws Exception {
    ClientTestSupport.assertNoLeaks(client);
    client.close();
    server.close();
  }

  @Test
  void tasksQueuedWhenTheDeadlineEndsTheRunningCallsReadAsTheDeadlines() throws Exception {
    CountDownLatch hangUpOnFirst = new CountDownLatch(1);
    CountDownLatch hangUpOnSecond = new CountDownLatch(1);
    AtomicInteger arrived = new AtomicInteger();
    server = new TestServer(ex -> {
      TestServer.await(arrived.getAndIncrement() == 0 ? hangUpOnFirst : hangUpOnSecond);
      throw new IOException("hung up"); // the server closes the connection unanswered
    });
    client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(60)) // the batch's deadline (30 s) is the calls' deadline
        .retry(Retry.none())
        .build();
    FakeClock clock = new FakeClock();
    CountDownLatch firstAndQueuedEnded = new CountDownLatch(3);
    try (FanOut<String> fan = Deadline.within(
        Deadline.after(Duration.ofSeconds(30), clock::nanoTime),
        () -> FanOut.<String>builder().maxConcurrency(2).failFast(true)
            .progress((completed, failed, total) -> firstAndQueuedEnded.countDown())
            .build())) {
      for (int i = 0; i < 4; i++) {
        fan.submit(() -> client.get("/stall").execute(String.class));
      }
      assertTrue(server.awaitInFlight(2), "the first two calls did not reach the server");
      clock.advance(Duration.ofSeconds(30).toNanos()); // at the deadline: passed, grace left

      // The first call fails on the deadline; the queued tasks are cut as the deadline's, and
      // the second call, still in flight, is left to end on the deadline by itself.
      hangUpOnFirst.countDown();
      assertTrue(firstAndQueuedEnded.await(10, TimeUnit.SECONDS),
          "the first call's failure did not end the queued tasks: " + fan);
      hangUpOnSecond.countDown();
      DeadlineExceededException first =
          assertThrows(DeadlineExceededException.class, fan::join);

      List<FanOut.Completion<String>> all = fan.completions()
          .sorted(Comparator.comparingInt(FanOut.Completion::index)).toList();
      assertEquals(4, all.size());
      boolean firstAmongThem = false;
      for (FanOut.Completion<String> c : all.subList(0, 2)) {
        // Each call ended on the deadline by itself (the server hung up): neither was cancelled
        // by the other's end, which would have made the interrupt its cause.
        Throwable e = c.result().error();
        assertInstanceOf(DeadlineExceededException.class, e, String.valueOf(e));
        TransportException cause = assertInstanceOf(TransportException.class, e.getCause());
        assertEquals(TransportException.Kind.IO, cause.kind(), String.valueOf(cause));
        firstAmongThem |= e == first;
      }
      assertTrue(firstAmongThem, "join() threw " + first + ", not a call's failure");
      for (FanOut.Completion<String> c : all.subList(2, 4)) {
        Throwable e = c.result().error();
        assertInstanceOf(DeadlineExceededException.class, e, String.valueOf(e));
        assertTrue(e.getMessage().contains("was not started: the batch deadline ran out"),
            e.getMessage());
      }
    }
  }
}
