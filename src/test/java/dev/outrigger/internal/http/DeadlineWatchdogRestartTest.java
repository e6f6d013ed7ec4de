package dev.outrigger.internal.http;

import static dev.outrigger.HoldingServer.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HoldingServer;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A client built while the last one's watchdog thread still drains an attempt in flight starts
 * a thread of its own: the two watch disjoint attempts (each thread its own stacks and heap; an
 * attempt pushes onto whichever was current when it started, and falls back to OkHttp's call
 * timeout on one that has ended), so every deadline is enforced once, and each thread ends: the
 * old one with the last attempt it watches, the new one when its last client closes.
 */
class DeadlineWatchdogRestartTest {
  private final List<ApiClient> clients = new ArrayList<>();
  private HoldingServer server;

  @BeforeEach
  void start() throws Exception {
    // A client another test left open would keep the watchdog from stopping, and a thread of
    // another test's may still be draining an attempt: this test counts the threads.
    await("no client open and no watchdog thread left by another test",
        () -> !DeadlineWatchdog.running() && watchdogs().isEmpty());
    server = new HoldingServer(); // holds every request until the test releases them
  }

  @AfterEach
  void stop() {
    server.release();
    clients.forEach(ApiClient::close);
    server.close();
  }

  private ApiClient client(Duration deadline) {
    ApiClient c = ApiClient.builder()
        .baseUrl(server.url())
        .deadline(deadline)
        .retry(Retry.none())
        .build();
    clients.add(c);
    return c;
  }

  /** Runs a call to {@code path} on a virtual thread; the future completes with its failure. */
  private static CompletableFuture<Throwable> call(ApiClient client, String path) {
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    Thread.ofVirtual().start(() -> {
      try {
        client.get(path).execute(String.class);
        ended.complete(null);
      } catch (Throwable e) {
        ended.complete(e);
      }
    });
    return ended;
  }

  @Test
  void aClientBuiltWhileTheLastOnesWatchdogDrainsHasEveryDeadlineEnforcedAndNoThreadStays()
      throws Exception {
    Duration longDeadline = Duration.ofSeconds(4);
    ApiClient first = client(longDeadline);
    long firstStart = System.nanoTime();
    CompletableFuture<Throwable> held = call(first, "/held");
    await("the first client's attempt in flight", () -> server.inFlight() == 1);

    first.close(); // the last client: its watchdog thread stays to watch the attempt in flight
    assertFalse(DeadlineWatchdog.running());
    assertEquals(1, watchdogs().size(), "the thread drains the attempt in flight");

    ApiClient second = client(Duration.ofMillis(300));
    assertTrue(DeadlineWatchdog.running());
    assertEquals(2, watchdogs().size(), "a second thread starts while the first drains");

    // The new client's attempt is cut at its deadline.
    long start = System.nanoTime();
    DeadlineExceededException cut = assertThrows(DeadlineExceededException.class,
        () -> second.get("/short").execute(String.class));
    assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(300), "cut early");
    assertEquals(1, cut.attempts());

    // The closed client's attempt is still cut at its own deadline, by the old thread.
    Throwable e = held.get(30, TimeUnit.SECONDS);
    assertInstanceOf(DeadlineExceededException.class, e, String.valueOf(e));
    assertTrue(System.nanoTime() - firstStart >= longDeadline.toNanos(), "cut early");
    await("the old thread ends after the attempt it drained", () -> watchdogs().size() == 1);
    assertTrue(DeadlineWatchdog.running(), "the second client's thread runs on");

    // And the second client's thread still cuts its attempts.
    assertThrows(DeadlineExceededException.class,
        () -> second.get("/again").execute(String.class));
    second.close();
    assertFalse(DeadlineWatchdog.running());
    await("no watchdog thread once every client is closed", () -> watchdogs().isEmpty());
  }

  @Test
  void closingAndBuildingClientsLeavesNoThreadOnceTheirAttemptsEnd() throws Exception {
    // Each client closed with an attempt in flight leaves a thread draining it (one a client,
    // for as long as the attempt lasts: its deadline at most); a client closed with none leaves
    // none. Every thread ends with the attempts it watched.
    int cycles = 8;
    List<CompletableFuture<Throwable>> calls = new ArrayList<>();
    for (int i = 1; i <= cycles; i++) {
      ApiClient c = client(Duration.ofSeconds(60));
      calls.add(call(c, "/held/" + i));
      int n = i;
      await("attempt " + i + " in flight", () -> server.inFlight() == n);
      c.close();
      client(Duration.ofSeconds(60)).close(); // none in flight: its thread ends with close()
      await("one thread for each client closed with an attempt in flight, " + i,
          () -> watchdogs().size() == n);
    }
    assertFalse(DeadlineWatchdog.running());

    server.release();
    for (CompletableFuture<Throwable> c : calls) {
      assertEquals(null, c.get(30, TimeUnit.SECONDS), "an attempt a closed client had sent");
    }
    await("every draining thread ends with its attempt", () -> watchdogs().isEmpty());
  }

  private static List<Thread> watchdogs() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("outrigger-deadlines") && t.isAlive()).toList();
  }
}
