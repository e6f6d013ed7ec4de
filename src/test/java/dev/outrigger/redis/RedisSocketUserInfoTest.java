package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * "A user name or password holding '/', '?', '#' or '@' must be percent-encoded ...: as written,
 * Lettuce would read part of it as the host ..., and the builder refuses it, its message
 * showing nothing up to the '@'". For a Unix socket with a '/' in the password, Lettuce reads
 * the authority up to that '/' and the rest as the socket's path: no password is sent, the
 * store connects to a socket named after the password's tail, and that path, the password's
 * tail with it, is what every message, log line and toString() of the store names.
 */
class RedisSocketUserInfoTest {
  @Test
  void aSocketUriWhosePasswordHoldsASlashIsRefusedWithoutShowingIt() {
    String uri = "redis-socket://:s3cret/tail@/var/run/redis/redis.sock";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RedisUris.parse(uri),
        () -> "accepted, as the socket " + RedisUris.where(RedisUris.parse(uri)));
    assertFalse(e.getMessage().contains("s3cret") || e.getMessage().contains("tail"),
        e.getMessage());
  }
}
