package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Fail-fast with a batch deadline, through a real {@link ApiClient} over real sockets: the calls
 * running when the deadline passes end on it, the first of them is join()'s failure, and the
 * tasks still queued were cut by the deadline, so they read as the deadline's, not as "an earlier
 * task failed".
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
    server = new TestServer(TestServer.Exchange::stallUntilClientCloses);
    client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(60)) // the batch's deadline is the one that ends the calls
        .retry(Retry.none())
        .build();
    try (FanOut<String> fan = FanOut.<String>builder()
        .maxConcurrency(2).failFast(true).deadline(Duration.ofSeconds(1)).build()) {
      for (int i = 0; i < 4; i++) {
        fan.submit(() -> client.get("/stall").execute(String.class));
      }
      assertTrue(server.awaitStalled(2), "the first two calls did not reach the server");
      DeadlineExceededException first =
          assertThrows(DeadlineExceededException.class, fan::join);
      assertTrue(server.awaitDisconnects(2), "the running calls' connections were not closed");

      List<FanOut.Completion<String>> all = fan.completions()
          .sorted(Comparator.comparingInt(FanOut.Completion::index)).toList();
      assertEquals(4, all.size());
      boolean firstAmongThem = false;
      for (FanOut.Completion<String> c : all.subList(0, 2)) {
        // Each call ended on the deadline by itself: neither was cancelled by the other's end.
        Throwable e = c.result().error();
        assertInstanceOf(DeadlineExceededException.class, e, String.valueOf(e));
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
