package dev.outrigger.internal.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.http.ClientOkHttp;
import dev.outrigger.internal.http.Transport;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The throttle's table of hosts past {@link ThrottleInterceptor#MAX_IDLE_HOSTS}: many hosts
 * (names a test resolver sends to one MockWebServer), each called once over a real socket.
 */
class ThrottleHostMapTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  private final FakeClock time = new FakeClock();
  /** The throttle's own clock, counting its readings; the calls keep the plain one. */
  private final AtomicLong readings = new AtomicLong();
  private final NanoClock counted = new NanoClock() {
    @Override
    public long nanoTime() {
      readings.incrementAndGet();
      return time.nanoTime();
    }

    @Override
    public void sleepNanos(long nanos) throws InterruptedException {
      time.sleepNanos(nanos);
    }
  };
  private final OkHttpClient okhttp = ClientOkHttp.builder()
      .dns(host -> List.of(InetAddress.getLoopbackAddress()))
      .build();
  private final CountDownLatch release = new CountDownLatch(1);
  private final CountDownLatch slowArrived = new CountDownLatch(1);

  @AfterEach
  void releaseConnections() {
    release.countDown();
    okhttp.dispatcher().executorService().shutdown();
    okhttp.connectionPool().evictAll();
    assertEquals(0, okhttp.connectionPool().connectionCount());
  }

  private HttpUrl url(String host) {
    return new HttpUrl.Builder().scheme("http").host(host).port(server.getPort())
        .addPathSegment("x").build();
  }

  private void call(PolicyChain chain, String host) {
    RealCallContext ctx = new RealCallContext("GET", url(host),
        Deadline.after(Duration.ofSeconds(30), time::nanoTime), true, time, CallListener.NONE,
        new Redactor(Set.of(), Set.of()));
    ctx.beginAttempt();
    try (Response r = chain.proceed(ctx, new Request.Builder().url(url(host)).build())) {
      assertEquals(200, r.code());
    }
  }

  private PolicyChain chain(ThrottleInterceptor throttle) {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        if (request.getHeaders().get("Host").startsWith("slow.test")) {
          slowArrived.countDown();
          release.await(30, TimeUnit.SECONDS);
        }
        return new MockResponse.Builder().code(200).body("ok").build();
      }
    });
    return new PolicyChain(
        List.of(throttle, new Transport(okhttp, null, 1 << 20, null, false, false)));
  }

  @Test
  void newHostsPastTheBoundDoNotEachScanEveryHost() {
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), counted,
        new Random(1));
    PolicyChain chain = chain(t);
    int busy = ThrottleInterceptor.MAX_IDLE_HOSTS + 10;
    for (int i = 0; i < busy; i++) {
      call(chain, "h" + i + ".test"); // each host's window now holds its attempt
    }
    readings.set(0);
    int more = 200;
    for (int i = 0; i < more; i++) {
      call(chain, "new" + i + ".test");
    }
    // A call reads the clock a few times; one look over every host (for idle ones to drop) is
    // ~1,000 readings more. Every new host looked them all over: 200 x 1,000.
    assertTrue(readings.get() < 20L * more + 4L * (busy + more),
        readings.get() + " clock readings for " + more + " new hosts");
    assertEquals(new AcceptWindow.Counts(1, 1), t.counts("new199.test:" + server.getPort()));
    assertEquals(busy + more, t.hostCount(), "busy hosts are all kept");

    // A whole window later every one of them is idle: the next new host drops them.
    time.advance(Duration.ofMinutes(2).toNanos());
    call(chain, "later.test");
    assertEquals(1, t.hostCount());
  }

  @Test
  void aHostWhoseOnlyAttemptIsInFlightKeepsItsCount() throws Exception {
    ThrottleInterceptor t = new ThrottleInterceptor(2, Duration.ofMinutes(2), counted,
        new Random(1));
    PolicyChain chain = chain(t);
    Thread slow = Thread.ofPlatform().start(() -> call(chain, "slow.test"));
    assertTrue(slowArrived.await(30, TimeUnit.SECONDS), "the slow attempt never arrived");
    // Past the bound while slow.test's attempt is in flight: its window holds nothing yet.
    for (int i = 0; i < ThrottleInterceptor.MAX_IDLE_HOSTS + 10; i++) {
      call(chain, "h" + i + ".test");
    }
    release.countDown();
    slow.join(30_000);
    assertEquals(new AcceptWindow.Counts(1, 1), t.counts("slow.test:" + server.getPort()),
        "the answer of the attempt in flight is counted for its host");
  }
}
