package dev.outrigger.internal.bulkhead;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallInterceptor;
import dev.outrigger.DeadlineExceededException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Under the static limit, a client that uses more than 64 hosts keeps the gate of a host it
 * just used: each gate that went idle while more than 64 were tracked was dropped, and the host's
 * next call made a fresh one, so with enough hosts every call built its host's gate anew. The
 * limit holds meanwhile for a host whose slots are all taken, and the gates of hosts used once
 * are still dropped in time. The static limiter and the client's transport against
 * MockWebServer, every host name resolved to the loopback address.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class StaticGateKeptTest extends LimiterOverServerTest {
  private final InFlightLimiter limiter = new InFlightLimiter(2, clock);

  @Override
  List<CallInterceptor> policies() {
    return List.of(limiter);
  }

  private int code(String host, Duration deadline) {
    try (Response r = call(url(host, "/"), deadline)) {
      return r.code();
    }
  }

  private String key(String host) {
    return host + ":" + server.getPort();
  }

  @Test
  void aHostJustUsedKeepsItsGatePast64HostsAndABusyOneKeepsItsLimit() throws Exception {
    CountDownLatch held = new CountDownLatch(2);
    CountDownLatch release = new CountDownLatch(1);
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        if (request.getUrl().host().equals("busy.test")) {
          held.countDown();
          release.await(30, TimeUnit.SECONDS);
        }
        return new MockResponse.Builder().code(200).build();
      }
    });
    // busy.test's two slots are taken for the whole test.
    // Their answers are checked on the test's thread: a failed assertion on a thread of their
    // own would only reach the uncaught-exception handler.
    List<CompletableFuture<Integer>> busy = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      CompletableFuture<Integer> answered = new CompletableFuture<>();
      busy.add(answered);
      Thread.ofVirtual().start(() -> {
        try {
          answered.complete(code("busy.test", Duration.ofMinutes(1)));
        } catch (Throwable e) {
          answered.completeExceptionally(e);
        }
      });
    }
    try {
      assertTrue(held.await(30, TimeUnit.SECONDS));
      for (int i = 0; i <= InFlightLimiter.IDLE_HOSTS_KEPT; i++) {
        assertEquals(200, code("h" + i + ".test", Duration.ofMinutes(1)));
      }
      String last = key("h" + InFlightLimiter.IDLE_HOSTS_KEPT + ".test");
      Gate gate = limiter.gate(last);
      assertNotNull(gate, "the gate of the host just used, with 66 hosts tracked");
      assertEquals(200, code("h" + InFlightLimiter.IDLE_HOSTS_KEPT + ".test",
          Duration.ofMinutes(1)));
      assertSame(gate, limiter.gate(last), "its next call used the same gate");

      // The busy host's limit held: a third attempt waits, and its deadline runs out.
      assertThrows(DeadlineExceededException.class,
          () -> code("busy.test", Duration.ofMillis(50)));
      assertEquals(2, limiter.inFlight(key("busy.test")));

      // Hosts used once each go in time. A look keeps busy.test and the 65 hosts first used
      // since the look before (the one whose first call looks among them), and the next look
      // comes 64 new hosts on.
      for (int i = 0; i < 500; i++) {
        assertEquals(200, code("once" + i + ".test", Duration.ofMinutes(1)));
        assertTrue(limiter.hostsTracked() <= 2 * InFlightLimiter.IDLE_HOSTS_KEPT + 3,
            () -> "tracked " + limiter.hostsTracked());
      }
      assertNotNull(limiter.gate(key("busy.test")), "a busy host's gate is never dropped");
    } finally {
      release.countDown();
    }
    for (CompletableFuture<Integer> answered : busy) {
      assertEquals(200, answered.get(30, TimeUnit.SECONDS));
    }
  }
}
