package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The builder refuses two databases that disagree ("Lettuce would use the last without a word")
 * and promises to refuse at once what Lettuce would read as something else; but a Sentinel URI
 * naming two masters that disagree, one in the fragment and one in {@code sentinelMasterId}, is
 * accepted, and Lettuce silently uses the query's name: the store shares its buckets on another
 * master (another Redis) than the fragment, the usual way to name it, says.
 */
class RedisUriMasterNameTest {
  @Test
  void twoMasterNamesThatDisagreeAreRefusedSayingWhichToDrop() {
    for (String uri : new String[] {
        "redis-sentinel://s1:26379?sentinelMasterId=orders#ratelimit",
        "redis-sentinel://s1:26379?sentinelMasterId=ratelimit&sentinelMasterId=orders"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> RedisRateLimitStore.builder(uri),
          () -> uri + " was accepted; Lettuce reads the master as '"
              + RedisUris.parse(uri).getSentinelMasterId() + "'");
      assertTrue(e.getMessage().contains("orders") && e.getMessage().contains("ratelimit"),
          e.getMessage());
    }
  }
}
