package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.ApiClient;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.ClientTestSupport;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.internal.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A 403 with {@code Retry-After} (GitHub's secondary rate limits) pauses the key in the shared
 * store as a 429 does, for every client of the store; a 403 without it pauses nothing.
 */
class SharedForbiddenRetryAfterTest {
  @RegisterExtension
  static final RedisFixture redis = new RedisFixture();

  @RegisterExtension
  final RedisStores stores = new RedisStores(redis);

  @StartStop
  private final MockWebServer server = new MockWebServer();

  private final FakeClock clock = new FakeClock();
  private final List<String> paused = new CopyOnWriteArrayList<>();
  private ApiClient client;

  @BeforeEach
  void setUp() {
    RedisRateLimitStore store = stores.build(RedisRateLimitStore.builder(redis.uri())
        .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).timeout(RedisFixture.GENEROUS_TIMEOUT));
    client = ClientTestSupport.withClock(ApiClient.builder(), clock)
        .baseUrl(server.url("/").toString())
        .retry(Retry.none())
        .rateLimit(RateLimit.perSecond(100).burst(10).store(store))
        .addListener(new CallListener() {
          @Override
          public void rateLimitPaused(CallContext call, String key, Duration pause) {
            paused.add(pause.toString());
          }
        })
        .build();
  }

  @AfterEach
  void tearDown() throws Exception {
    ClientTestSupport.assertNoLeaks(client);
    client.close();
  }

  @Test
  void a403PausesTheKeyInTheStoreOnlyWithRetryAfter() {
    server.enqueue(new MockResponse.Builder().code(403).body("forbidden").build());
    server.enqueue(new MockResponse.Builder().code(200).body("ok").build());
    server.enqueue(new MockResponse.Builder().code(403).addHeader("Retry-After", "30")
        .body("secondary rate limit").build());
    // Without Retry-After, a refusal: the next call goes at once.
    assertThrows(HttpStatusException.class, () -> client.get("/x").execute(String.class));
    assertEquals("ok", client.get("/x").deadline(Duration.ofSeconds(10)).execute(String.class));
    assertEquals(List.of(), paused);

    HttpStatusException forbidden = assertThrows(HttpStatusException.class,
        () -> client.get("/x").execute(String.class));
    assertEquals(403, forbidden.status());
    assertEquals(List.of("PT30S"), paused);
    RateLimitedException e = assertThrows(RateLimitedException.class,
        () -> client.get("/x").deadline(Duration.ofSeconds(10)).execute(String.class));
    // Redis keeps its own time: most of the 30 s are still ahead, however slow this machine.
    assertTrue(e.wouldWait().compareTo(Duration.ofSeconds(20)) > 0, e.getMessage());
    assertEquals(3, server.getRequestCount());
  }
}
