package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.RateLimit;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Measures, rather than tests, how long a store keeps taking permits from the old master after
 * Sentinel switched (README's figure): a master Sentinel demotes as usual, a replica, one
 * Sentinel, a store with its defaults taking one permit (of its own key) every 5 ms, and the
 * node holding each permit's bucket looked up at once. Prints the window; takes about 15 s.
 * Opt-in: {@code mvn test -Dtest=RedisFailoverWindowTest -Doutrigger.failoverWindow=true}
 * (with {@code OUTRIGGER_REQUIRE_REDIS=1}); the numbers are in
 * {@code target/surefire-reports/dev.outrigger.redis.RedisFailoverWindowTest-output.txt}.
 */
@EnabledIfSystemProperty(named = "outrigger.failoverWindow", matches = "true")
class RedisFailoverWindowTest {
  @RegisterExtension
  @Order(1)
  static final RedisFixture oldMaster = new RedisFixture();

  @RegisterExtension
  @Order(2)
  static final RedisFixture replica = RedisFixture.replicaOf(oldMaster);

  @RegisterExtension
  @Order(3)
  static final RedisFixture sentinel = RedisFixture.sentinelOf(oldMaster, "mymaster");

  private static final RateLimit LIMIT = RateLimit.per(1, Duration.ofHours(1)).burst(100);
  /** Sentinel demotes the old master about 10 s after the switch: watched for longer. */
  private static final long WATCH_NANOS = TimeUnit.SECONDS.toNanos(13);

  private record Permit(long startNanos, String node) {}

  @Test
  void measureHowLongPermitsComeFromTheOldMasterAfterTheSwitch() throws Exception {
    RedisClient events = RedisClient.create();
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(
        "redis-sentinel://127.0.0.1:" + sentinel.port() + "#mymaster").build()) {
      CompletableFuture<Long> switched = new CompletableFuture<>();
      StatefulRedisPubSubConnection<String, String> sub =
          events.connectPubSub(RedisURI.create("127.0.0.1", sentinel.port()));
      sub.addListener(new RedisPubSubAdapter<String, String>() {
        @Override
        public void message(String channel, String message) {
          switched.complete(System.nanoTime());
        }
      });
      sub.sync().subscribe("+switch-master");

      List<Permit> permits = new ArrayList<>();
      Thread load = Thread.ofVirtual().start(() -> {
        try {
          for (int i = 0; ; i++) {
            Long at = switched.getNow(null);
            if (at != null && System.nanoTime() - at > WATCH_NANOS) {
              return;
            }
            long start = System.nanoTime();
            String key = "w-" + i;
            boolean granted = store.reserve(key, LIMIT, 1, 0) == 0;
            // The new master first: once demoted, the old one holds a copy of what it has. Checked
            // at once: the demoted master drops what only it holds.
            String node = !granted ? "refused"
                : replica.command("EXISTS " + store.redisKey(key)).equals(":1") ? "new"
                : oldMaster.command("EXISTS " + store.redisKey(key)).equals(":1") ? "old"
                : "fallback";
            permits.add(new Permit(start, node));
            TimeUnit.MILLISECONDS.sleep(5);
          }
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      RedisFixture.await("Sentinel accepts SENTINEL FAILOVER", Duration.ofSeconds(10),
          () -> sentinel.command("SENTINEL FAILOVER mymaster").equals("+OK"));
      load.join();

      long at = switched.get();
      long lastOld = Long.MIN_VALUE;
      int old = 0;
      int fresh = 0;
      int other = 0;
      Long firstNew = null;
      for (Permit p : permits) {
        if (p.startNanos - at < 0) {
          continue;
        }
        switch (p.node) {
          case "old" -> {
            old++;
            lastOld = p.startNanos;
          }
          case "new" -> {
            fresh++;
            firstNew = firstNew == null ? p.startNanos : firstNew;
          }
          default -> other++;
        }
      }
      System.out.printf("after +switch-master: %d permits from the old master, the last asked "
              + "%s ms after the event; first permit from the new master asked %s ms after it; "
              + "%d from the new master, %d refused or from the fallback%n",
          old, old == 0 ? "-" : (lastOld - at) / 1_000_000,
          firstNew == null ? "-" : (firstNew - at) / 1_000_000, fresh, other);
      assertTrue(fresh > 0, "permits from the new master: " + permits.size() + " asked");
    } finally {
      events.shutdown();
    }
  }
}
