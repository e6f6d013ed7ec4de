package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The adaptive in-flight limit through {@link ApiClient}, against a JDK HttpServer. */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class AdaptiveConcurrencyTest {
  private HttpServer server;
  private final AtomicInteger status = new AtomicInteger(200);
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile long delayMillis;
  private volatile CountDownLatch hold;
  private final List<int[]> changes = new CopyOnWriteArrayList<>();
  private final CallListener listener = new CallListener() {
    @Override
    public void adaptiveLimitChanged(String host, int from, int to) {
      changes.add(new int[] {from, to});
    }
  };

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/", ex -> {
      inFlight.incrementAndGet();
      try {
        CountDownLatch h = hold;
        if (ex.getRequestURI().getPath().equals("/drop")) {
          ex.sendResponseHeaders(503, -1);
          return;
        }
        if (h != null) {
          h.await(30, TimeUnit.SECONDS);
        }
        if (delayMillis > 0) {
          Thread.sleep(delayMillis);
        }
        byte[] body = "ok".getBytes();
        ex.sendResponseHeaders(status.get(), body.length);
        ex.getResponseBody().write(body);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        inFlight.decrementAndGet();
        ex.close();
      }
    });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private ApiClient.Builder client(AdaptiveLimit limit) {
    return ApiClient.builder()
        .baseUrl("http://127.0.0.1:" + server.getAddress().getPort())
        .retry(Retry.none())
        .circuitBreaker(CircuitBreaker.none())
        .adaptiveConcurrency(limit)
        .addListener(listener);
  }

  private int lastLimit() {
    return changes.get(changes.size() - 1)[1];
  }

  @Test
  void dropsCutTheLimitToItsMinimumAndHealthyAnswersRaiseItAgain() throws Exception {
    try (ApiClient c = client(AdaptiveLimit.vegas().min(4).initial(20).backoffRatio(0.5)).build();
        LogCapture logs = new LogCapture()) {
      status.set(503);
      for (int i = 0; i < 5; i++) {
        assertThrows(HttpStatusException.class, () -> c.get("/x").execute(String.class));
      }
      // One cut per drop, each sent after the previous cut: 20 -> 10 -> 5 -> 4.
      assertEquals(List.of("20->10", "10->5", "5->4"),
          changes.stream().map(ch -> ch[0] + "->" + ch[1]).toList());
      assertTrue(logs.all().contains("adaptive in-flight limit for 127.0.0.1:"), logs.all());
      assertTrue(logs.all().contains("10 -> 5 (drop"), logs.all());

      status.set(200);
      delayMillis = 20;
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        threads.add(Thread.ofVirtual().start(() -> {
          for (int i = 0; i < 15; i++) {
            c.get("/x").execute(String.class);
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      assertTrue(lastLimit() > 4, "recovered above the minimum: " + lastLimit());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  @Test
  void aChangeLoggedBeforeAnyNoLoadLatencyIsKnownSaysItIsUnknownNotZero() throws Exception {
    try (ApiClient c = client(AdaptiveLimit.vegas().initial(20).backoffRatio(0.5)).build();
        LogCapture logs = new LogCapture()) {
      // A drop before the host's first 2xx: nothing has been timed as its no-load latency.
      status.set(503);
      assertThrows(HttpStatusException.class, () -> c.get("/x").execute(String.class));
      assertEquals(1, logs.count("DEBUG", "20 -> 10 (drop; no-load latency unknown)"),
          logs.all());
      // Once a 2xx is timed, its latency is given in microseconds.
      status.set(200);
      delayMillis = 5;
      c.get("/x").execute(String.class);
      status.set(503);
      delayMillis = 0;
      assertThrows(HttpStatusException.class, () -> c.get("/x").execute(String.class));
      assertTrue(logs.all()
              .matches("(?s).*10 -> 5 \\(drop; no-load latency [1-9][0-9]{3,} us\\).*"),
          logs.all());
    }
  }

  @Test
  void callsBeyondTheAdaptiveLimitWaitWithinTheirDeadlineAndAreThenRefused() throws Exception {
    hold = new CountDownLatch(1);
    try (ApiClient c = client(AdaptiveLimit.vegas().min(2).max(2)).build()) {
      List<Thread> holders = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        holders.add(Thread.ofVirtual().start(() -> c.get("/slow").execute(String.class)));
      }
      while (inFlight.get() < 2) {
        Thread.onSpinWait();
      }
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> c.get("/x").deadline(Duration.ofMillis(200)).execute(String.class));
      assertTrue(e.getMessage().contains("no in-flight slot"), e.getMessage());
      assertTrue(e.getMessage().contains("2 attempts in flight to it at most, adaptive"),
          e.getMessage());
      assertEquals(0, e.attempts());
      assertEquals(2, inFlight.get(), "the refused call was never sent");
      hold.countDown();
      for (Thread t : holders) {
        t.join();
      }
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  @Test
  void aCutLimitHoldsNewAttemptsUntilThoseInFlightDrainBelowIt() throws Exception {
    hold = new CountDownLatch(1);
    try (ApiClient c = client(AdaptiveLimit.vegas().min(2).initial(8).backoffRatio(0.5))
        .build()) {
      List<Thread> holders = new ArrayList<>();
      for (int i = 0; i < 7; i++) {
        holders.add(Thread.ofVirtual().start(() -> c.get("/slow").execute(String.class)));
      }
      while (inFlight.get() < 7) {
        Thread.onSpinWait();
      }
      // The eighth slot: a 503 cuts the limit from 8 to 4 while 7 are still in flight.
      assertThrows(HttpStatusException.class, () -> c.get("/drop").execute(String.class));
      assertEquals("8->4", changes.get(0)[0] + "->" + changes.get(0)[1]);
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> c.get("/x").deadline(Duration.ofMillis(200)).execute(String.class));
      assertTrue(e.getMessage().contains("4 attempts in flight to it at most, adaptive"),
          e.getMessage());
      assertEquals(7, inFlight.get(), "nothing beyond the held attempts was sent");
      hold.countDown();
      for (Thread t : holders) {
        t.join();
      }
      hold = null;
      assertEquals("ok", c.get("/x").execute(String.class));
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  @Test
  void anAttemptTimeoutIsADropButAConnectFailureTeachesNothing() throws Exception {
    delayMillis = 2_000;
    try (ApiClient c = client(AdaptiveLimit.vegas().initial(20).backoffRatio(0.5))
        .attemptTimeout(Duration.ofMillis(100)).build()) {
      TransportException e = assertThrows(TransportException.class,
          () -> c.get("/x").execute(String.class));
      assertEquals(TransportException.Kind.TIMEOUT, e.kind());
      assertEquals("20->10", changes.get(0)[0] + "->" + changes.get(0)[1]);
    }
    changes.clear();
    int port = server.getAddress().getPort();
    server.stop(0);
    try (ApiClient c = ApiClient.builder().baseUrl("http://127.0.0.1:" + port)
        .retry(Retry.none()).adaptiveConcurrency(AdaptiveLimit.vegas()).addListener(listener)
        .build()) {
      TransportException e = assertThrows(TransportException.class,
          () -> c.get("/x").execute(String.class));
      assertEquals(TransportException.Kind.CONNECT, e.kind());
      assertTrue(changes.isEmpty(), "no change on a connect failure");
    }
  }

  @Test
  void aTimeoutThrownByAnAttemptInterceptorWithoutSendingIsNoDrop() throws Exception {
    // An attempt interceptor that gives up on /stubbed before sending (its own timeout), and
    // one on /late that lets the server answer and then throws a timeout of its own.
    CallInterceptor timesOut = chain -> {
      String path = chain.context().url().encodedPath();
      if (path.equals("/stubbed")) {
        throw new TransportException("stubbed attempt timed out", null,
            chain.context().attemptsSent(), TransportException.Kind.TIMEOUT);
      }
      Response r = chain.proceed(chain.request());
      if (path.equals("/late")) {
        r.close();
        throw new TransportException("answer came too late", null,
            chain.context().attemptsSent(), TransportException.Kind.TIMEOUT);
      }
      return r;
    };
    try (ApiClient c = client(AdaptiveLimit.vegas().initial(20).backoffRatio(0.5))
        .addAttemptInterceptor(timesOut).build()) {
      assertEquals("ok", c.get("/x").execute(String.class));
      for (int i = 0; i < 3; i++) {
        TransportException e = assertThrows(TransportException.class,
            () -> c.get("/stubbed").execute(String.class));
        assertEquals(TransportException.Kind.TIMEOUT, e.kind());
        assertEquals(0, e.attempts(), "nothing was sent");
      }
      assertTrue(changes.isEmpty(), () -> "the host never saw those attempts, yet the limit moved: "
          + changes.stream().map(ch -> ch[0] + "->" + ch[1]).toList());

      // One that reached the server is still the host's drop.
      assertThrows(TransportException.class, () -> c.get("/late").execute(String.class));
      assertEquals(List.of("20->10"), changes.stream().map(ch -> ch[0] + "->" + ch[1]).toList());
      ClientTestSupport.assertNoLeaks(c);
    }
  }

  @Test
  void describeNamesTheAdaptiveLimit() {
    try (ApiClient c = client(AdaptiveLimit.vegas().max(64)).build()) {
      assertTrue(c.describe().contains("InFlightLimit[adaptive per host: AdaptiveLimit.vegas[min=4,"
          + " max=64, initial=20"), c.describe());
    }
  }

  @Test
  void aStaticLimitSetBesideAnAdaptiveOneIsRefusedNotIgnored() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().maxInFlightPerHost(16)
            .adaptiveConcurrency(AdaptiveLimit.vegas()).build());
    assertEquals("maxInFlightPerHost(16) would be ignored: adaptiveConcurrency replaces it, and "
        + "its limit may reach 1024; bound the adaptive limit instead with AdaptiveLimit.max(16),"
        + " or drop maxInFlightPerHost", e.getMessage());
    // The two agree: nothing is ignored.
    ApiClient.builder().maxInFlightPerHost(16)
        .adaptiveConcurrency(AdaptiveLimit.vegas().max(16)).build().close();
    // A derived builder carries the setting: the same rule holds there, and the same way out.
    try (ApiClient parent = ApiClient.builder().maxInFlightPerHost(16).build()) {
      // It says so, and offers no way out that is not there: nothing drops the parent's value,
      // whether left as it was or set again on the derived builder.
      String inherited = " (this builder is derived from a client that set maxInFlightPerHost,"
          + " which it keeps)";
      assertEquals("maxInFlightPerHost(16) would be ignored: adaptiveConcurrency replaces it, and"
          + " its limit may reach 1024; bound the adaptive limit instead with"
          + " AdaptiveLimit.max(16)" + inherited,
          assertThrows(IllegalArgumentException.class,
              () -> parent.newBuilder().adaptiveConcurrency(AdaptiveLimit.vegas()).build())
              .getMessage());
      // Set again here, to a value the adaptive max does not agree with either: dropping this
      // builder's call would leave the parent's 16, still refused, so it is not offered.
      assertTrue(assertThrows(IllegalArgumentException.class,
          () -> parent.newBuilder().maxInFlightPerHost(8)
              .adaptiveConcurrency(AdaptiveLimit.vegas()).build())
          .getMessage().endsWith("AdaptiveLimit.max(8) (set here, over the"
              + " maxInFlightPerHost(16) of the client this builder is derived from, which it"
              + " would keep without it)"));
      parent.newBuilder().adaptiveConcurrency(AdaptiveLimit.vegas().max(16)).build().close();
    }
    // A parent whose static and adaptive limits agree: a derived builder that sets its own
    // static limit is told that dropping that call is a way out, as it is.
    try (ApiClient parent = ApiClient.builder().maxInFlightPerHost(100)
        .adaptiveConcurrency(AdaptiveLimit.vegas().max(100)).build()) {
      assertEquals("maxInFlightPerHost(200) would be ignored: adaptiveConcurrency replaces it, and"
          + " its limit may reach 100; bound the adaptive limit instead with"
          + " AdaptiveLimit.max(200), or drop this builder's maxInFlightPerHost(200): it would"
          + " keep the maxInFlightPerHost(100) of the client it is derived from, which agrees",
          assertThrows(IllegalArgumentException.class,
              () -> parent.newBuilder().maxInFlightPerHost(200).build()).getMessage());
      // The way out it offers works.
      parent.newBuilder().build().close();
    }
  }

  @Test
  void contradictorySettingsAreRefusedWhateverTheOrderOfTheWithers() {
    ApiClient.Builder b = ApiClient.builder();
    IllegalArgumentException e1 = assertThrows(IllegalArgumentException.class,
        () -> b.adaptiveConcurrency(AdaptiveLimit.vegas().min(10).max(5)));
    IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
        () -> b.adaptiveConcurrency(AdaptiveLimit.vegas().max(5).min(10)));
    assertEquals("AdaptiveLimit min (10) must not be above max (5): set min(n) to at most 5, "
        + "or raise max", e1.getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class,
            () -> AdaptiveLimit.vegas().max(2).checked()).getMessage()
        .startsWith("AdaptiveLimit min (4, the default) must not be above max (2)"));
    assertEquals(e1.getMessage(), e2.getMessage());
    IllegalArgumentException e3 = assertThrows(IllegalArgumentException.class,
        () -> b.adaptiveConcurrency(AdaptiveLimit.vegas().initial(2000)));
    assertTrue(e3.getMessage().contains("initial must be within min (4) and max (1024), but was"
        + " 2000"), e3.getMessage());
    // An unset initial value follows the bounds instead.
    assertEquals(50, AdaptiveLimit.vegas().min(50).max(60).initial());
    assertEquals(8, AdaptiveLimit.vegas().min(1).max(8).initial());
  }

  @Test
  void eachSettingRefusesAnOutOfRangeValueNamingIt() {
    AdaptiveLimit v = AdaptiveLimit.vegas();
    assertEquals("AdaptiveLimit min must be at least 1, but was 0",
        assertThrows(IllegalArgumentException.class, () -> v.min(0)).getMessage());
    assertEquals("AdaptiveLimit max must be at least 1, but was -1",
        assertThrows(IllegalArgumentException.class, () -> v.max(-1)).getMessage());
    assertEquals("AdaptiveLimit initial must be at least 1, but was 0",
        assertThrows(IllegalArgumentException.class, () -> v.initial(0)).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> v.backoffRatio(1.0))
        .getMessage()
        .contains("backoffRatio must be greater than 0 and lower than 1 (a fraction: 0.9 keeps "
            + "90%), but was 1.0"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> v.smoothing(20))
        .getMessage().contains("smoothing must be greater than 0 and at most 1 (a fraction: 0.2 "
            + "for 20%), but was 20.0"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> v.rttWindow(Duration.ZERO))
        .getMessage().contains("rttWindow must be at least PT1S, but was PT0S"));
    assertEquals(v.min(8), AdaptiveLimit.vegas().min(8));
  }

  @Test
  void rttWindowTooShortToHoldALatencyFloorIsRefusedSayingWhatToSet() {
    // A 1 ns window makes every answer its own floor: nothing looks queued, the limit only grows.
    AdaptiveLimit v = AdaptiveLimit.vegas();
    String m = assertThrows(IllegalArgumentException.class,
        () -> v.rttWindow(Duration.ofNanos(1))).getMessage();
    assertTrue(m.startsWith("AdaptiveLimit rttWindow must be at least PT1S, but was PT0.000000001S:"
        + " the latency floor must outlast many round trips; use a window of 1 s or more"), m);
    assertThrows(IllegalArgumentException.class, () -> v.rttWindow(Duration.ofMillis(999)));
    assertEquals(Duration.ofSeconds(1), v.rttWindow(Duration.ofSeconds(1)).rttWindow());
  }
}
