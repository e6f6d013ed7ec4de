package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitStore;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * A call of the shared limit that a pause held (RateLimitStore#heldFor) and that is interrupted
 * while it books again. README (Rate limiting): rateLimitWaited reports each wait, one cut short
 * by an interrupt included, for as long as it lasted. On a clock moved by hand.
 */
class SharedHeldWaiterInterruptTest {
  @StartStop private final MockWebServer server = new MockWebServer();

  @Test
  void aHeldWaiterInterruptedWhileItBooksAgainReportsItsWait() {
    FakeClock clock = new FakeClock();
    AtomicInteger bookings = new AtomicInteger();
    RateLimitStore store = new RateLimitStore() {
      @Override
      public long reserve(String key, RateLimit limit, int permits, long maxWaitNanos)
          throws InterruptedException {
        if (bookings.incrementAndGet() == 1) {
          return Duration.ofMillis(50).toNanos(); // in line: 50 ms
        }
        throw new InterruptedException(); // interrupted while the store answers the second
      }

      @Override
      public long heldFor(String key, RateLimit limit, long lateNanos, long maxWaitNanos) {
        return Duration.ofMillis(100).toNanos(); // another replica's pause: 100 ms more
      }

      @Override
      public long pause(String key, RateLimit limit, long pauseNanos) {
        return 0;
      }
    };
    List<Duration> waits = new CopyOnWriteArrayList<>();
    try (ApiClient client = ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .rateLimit(RateLimit.perSecond(10).store(store))
        .addListener(new CallListener() {
          @Override
          public void rateLimitWaited(CallContext call, String key, Duration waited) {
            waits.add(waited);
          }
        })
        .build()) {
      TransportException e = assertThrows(TransportException.class,
          () -> client.get("/x").deadline(Duration.ofSeconds(5)).execute(String.class));
      assertTrue(Thread.interrupted(), "the interrupt was not kept");

      assertTrue(e.getMessage().contains("interrupted"), e.getMessage());
      assertEquals(2, bookings.get());
      assertEquals(List.of(Duration.ofMillis(150)), waits,
          "the 50 ms in line and the 100 ms the pause held it");
    }
    assertEquals(0, server.getRequestCount());
  }
}
