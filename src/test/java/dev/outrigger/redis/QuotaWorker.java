package dev.outrigger.redis;

import dev.outrigger.ApiClient;
import dev.outrigger.RateLimit;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The second JVM of the shared-quota test: one client with its own Redis store, calling the
 * server from several threads for a while. Prints {@code READY} once connected and warm (one
 * call made), starts when it
 * reads {@code GO}, and prints {@code SENT n} at the end.
 *
 * <p>Arguments: redisUri baseUrl rate burst threads millis prefetch name timeoutMillis
 */
public final class QuotaWorker {
  private QuotaWorker() {}

  public static void main(String[] args) throws Exception {
    String redisUri = args[0];
    String baseUrl = args[1];
    RateLimit limit = RateLimit.perSecond(Double.parseDouble(args[2]))
        .burst(Integer.parseInt(args[3]));
    int threads = Integer.parseInt(args[4]);
    long millis = Long.parseLong(args[5]);
    int prefetch = Integer.parseInt(args[6]);
    String name = args[7];
    Duration timeout = Duration.ofMillis(Long.parseLong(args[8]));
    // A JVM of its own, started cold: its store's first connection is the slowest.
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(redisUri)
            .prefetch(prefetch).timeout(timeout)
            .connectTimeout(RedisFixture.GENEROUS_TIMEOUT).build();
         ApiClient client = SharedQuota.client(baseUrl, limit, store, name)) {
      client.get("/warm").execute(String.class);
      System.out.println("READY");
      System.out.flush();
      BufferedReader in = new BufferedReader(
          new InputStreamReader(System.in, StandardCharsets.UTF_8));
      if (!"GO".equals(in.readLine())) {
        System.exit(2);
      }
      AtomicLong sent = new AtomicLong();
      long end = System.nanoTime() + millis * 1_000_000;
      Thread[] ts = new Thread[threads];
      for (int i = 0; i < threads; i++) {
        ts[i] = Thread.ofVirtual().start(() -> {
          while (System.nanoTime() - end < 0) {
            client.get("/q").execute(String.class);
            sent.incrementAndGet();
          }
        });
      }
      for (Thread t : ts) {
        t.join();
      }
      System.out.println("SENT " + sent.get() + " FALLBACKS " + store.fallbacks());
      System.out.flush();
    }
  }
}
