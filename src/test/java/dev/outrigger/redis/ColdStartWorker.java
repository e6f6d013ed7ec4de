package dev.outrigger.redis;

import dev.outrigger.RateLimit;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The child JVM of {@link RedisColdStartTest}: the first store built in a JVM, with the default
 * settings, then a permit asked of it at once, as an application's first call would.
 * Prints {@code STORE degraded=<b> fallbacks=<n> buildMillis=<ms>}, and closes the store once it
 * reads a line (the test may look at Redis or Sentinel meanwhile).
 *
 * <p>Arguments: redisUri
 */
public final class ColdStartWorker {
  private ColdStartWorker() {}

  public static void main(String[] args) throws Exception {
    long start = System.nanoTime();
    try (RedisRateLimitStore store = RedisRateLimitStore.builder(args[0]).build()) {
      long built = System.nanoTime() - start;
      RateLimit limit = RateLimit.perSecond(1000).burst(1000);
      // One: three answers each slower than the 10 ms timeout, interpreted on a loaded
      // machine, would read as an outage that has nothing to do with the build.
      store.reserve("first-calls", limit, 1, 0);
      System.out.println("STORE degraded=" + store.degraded() + " fallbacks="
          + store.fallbacks() + " buildMillis=" + TimeUnit.NANOSECONDS.toMillis(built));
      System.out.flush();
      new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    }
  }
}
