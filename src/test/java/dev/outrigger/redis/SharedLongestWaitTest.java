package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.outrigger.ApiClient;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README, rate limiting: "When the wait cannot fit in what is left (or would be longer than 30
 * days, the longest wait any rate limit allows, whatever the deadline), the call fails at once
 * with RateLimitedException". A limit kept in a store has the "same semantics as the local
 * bucket", but its step passes the whole deadline to the store as the longest wait, so a call
 * with a long deadline books a permit 40 days out and sleeps for it.
 */
class SharedLongestWaitTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aWaitLongerThan30DaysIsRefusedAtOnceWhateverTheDeadline() throws Exception {
    for (int i = 0; i < 2; i++) {
      server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    }
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT));
    ApiClient client = stores.closeFirst(ApiClient.builder()
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .rateLimit(RateLimit.per(1, Duration.ofDays(40)).burst(1).store(store))
        .build());
    Duration deadline = Duration.ofDays(365);
    client.get("/first").deadline(deadline).execute(String.class); // the burst

    CompletableFuture<String> second = CompletableFuture.supplyAsync(
        () -> client.get("/second").deadline(deadline).execute(String.class),
        r -> Thread.ofVirtual().start(r));
    try {
      second.get(10, TimeUnit.SECONDS);
      fail("the second call was sent");
    } catch (TimeoutException e) {
      fail("the second call is waiting for a permit 40 days out instead of being refused");
    } catch (ExecutionException e) {
      RateLimitedException refused = assertInstanceOf(RateLimitedException.class, e.getCause());
      assertTrue(refused.wouldWait().compareTo(Duration.ofDays(30)) > 0, refused.getMessage());
    }
    assertEquals(1, server.getRequestCount());
  }
}
