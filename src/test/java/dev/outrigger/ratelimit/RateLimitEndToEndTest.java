package dev.outrigger.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The rate limit through a real {@link ApiClient} against a real local server, on the real
 * clock: what the server sees, from many concurrent virtual threads.
 */
class RateLimitEndToEndTest {
  private static final double RATE = 50;
  private static final int BURST = 5;

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final ConcurrentLinkedQueue<Long> arrivals = new ConcurrentLinkedQueue<>();
  /** Each request's time from leaving the policy chain to reaching the server. */
  private final ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
  private ApiClient client;

  @AfterEach
  void closeWithoutLeaks() throws InterruptedException {
    if (client != null) {
      ClientTestSupport.assertNoLeaks(client);
      client.close();
    }
  }

  private void answer(java.util.function.IntFunction<MockResponse> byIndex) {
    AtomicInteger n = new AtomicInteger();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        long now = System.nanoTime();
        arrivals.add(now);
        String sent = request.getHeaders().get("X-Sent-Nanos");
        if (sent != null) {
          latencies.add(now - Long.parseLong(sent));
        }
        return byIndex.apply(n.getAndIncrement());
      }
    });
  }

  private static MockResponse ok() {
    return new MockResponse.Builder().code(200).body("ok").build();
  }

  /** Runs {@code calls} calls on {@code threads} virtual threads, all released at once. */
  private void hammer(int threads, int callsEach) throws InterruptedException {
    CountDownLatch go = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      ts.add(Thread.ofVirtual().start(() -> {
        try {
          go.await();
          for (int j = 0; j < callsEach; j++) {
            client.get("/x").execute(String.class);
          }
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      }));
    }
    go.countDown();
    for (Thread t : ts) {
      t.join();
    }
    if (failure.get() != null) {
      throw new AssertionError("a call failed", failure.get());
    }
  }

  @Test
  void theServerNeverSeesMoreThanBurstPlusRateTimesTimeInAnyWindow() throws Exception {
    answer(i -> ok());
    client = ApiClient.builder().baseUrl(server.url("/").toString())
        .rateLimit(RateLimit.perSecond(RATE).burst(BURST))
        .retry(Retry.none())
        .deadline(Duration.ofSeconds(30))
        // Runs right after the rate limit: stamps when the request leaves for the network.
        .addAttemptInterceptor(chain -> chain.proceed(chain.request().newBuilder()
            .header("X-Sent-Nanos", String.valueOf(System.nanoTime())).build()))
        .build();
    // Warm up (class loading, the first connections), then measure only what follows.
    hammer(BURST, 2);
    arrivals.clear();
    latencies.clear();
    hammer(40, 2);
    List<Long> t = new ArrayList<>(arrivals);
    t.sort(null);
    assertEquals(80, t.size());
    // Requests granted at one moment reach the server after varying delays (a new connection,
    // scheduling), so arrivals can bunch a little more than grants did: by the spread of the
    // measured latencies, and by nothing else.
    long jitter = latencies.stream().mapToLong(Long::longValue).max().orElseThrow()
        - latencies.stream().mapToLong(Long::longValue).min().orElseThrow();
    for (int i = 0; i < t.size(); i++) {
      for (int j = i; j < t.size(); j++) {
        double seconds = (t.get(j) - t.get(i)) / 1e9;
        int seen = j - i + 1;
        double bound = BURST + RATE * (seconds + jitter / 1e9);
        assertTrue(seen <= bound, seen + " requests within " + seconds + " s; at most "
            + bound + " allowed (latency spread " + jitter / 1e6 + " ms)");
      }
    }
    // And the limiter let them through at about the rate, not much slower: 80 take 1.6 s.
    double total = (t.get(t.size() - 1) - t.get(0)) / 1e9;
    assertTrue(total < 1.6 + 1.0, "took " + total + " s");
  }

  @Test
  void aCallWhoseWaitCannotFitItsDeadlineFailsAtOnceAndIsNeverSent() throws Exception {
    answer(i -> ok());
    client = ApiClient.builder().baseUrl(server.url("/").toString())
        .rateLimit(RateLimit.perSecond(1).burst(1))
        .build();
    assertEquals("ok", client.get("/x").execute(String.class));
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> client.get("/x").deadline(Duration.ofMillis(200)).execute(String.class));
    assertEquals(0, e.attempts());
    assertTrue(e.wouldWait().compareTo(Duration.ofMillis(200)) > 0, e.getMessage());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aRetryAfterFromTheServerStopsTheWholeClientUntilThen() throws Exception {
    // The third request is answered 429 Retry-After: 1; everything else 200.
    answer(i -> i == 2
        ? new MockResponse.Builder().code(429).addHeader("Retry-After", "1").build()
        : ok());
    client = ApiClient.builder().baseUrl(server.url("/").toString())
        .rateLimit(RateLimit.perSecond(RATE).burst(BURST))
        .retry(Retry.none())
        .deadline(Duration.ofSeconds(30))
        .build();
    AtomicInteger refused = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ts.add(Thread.ofVirtual().start(() -> {
        try {
          go.await();
          for (int j = 0; j < 3; j++) {
            try {
              client.get("/x").execute(String.class);
            } catch (dev.outrigger.HttpStatusException e) {
              refused.incrementAndGet();
            }
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    go.countDown();
    for (Thread t : ts) {
      t.join();
    }
    assertEquals(1, refused.get());
    List<Long> t = new ArrayList<>(arrivals);
    t.sort(null);
    long paused = t.get(2);
    // Requests already on their way when the 429 arrived may land just after it; after that,
    // nothing until the second the server asked for has passed.
    long quietFrom = paused + 200_000_000L;
    long quietUntil = paused + 1_000_000_000L;
    long during = t.stream().filter(a -> a - quietFrom > 0 && a - quietUntil < 0).count();
    assertEquals(0, during, "requests during the server's pause");
    assertEquals(60, t.size());
  }
}
