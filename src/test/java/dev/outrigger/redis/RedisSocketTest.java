package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.outrigger.LogCapture;
import io.lettuce.core.resource.Transports;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A store on a Unix socket ({@code redis-socket://}), against a real Redis listening on one. It
 * runs in surefire's {@code redis-socket} execution, whose class path has netty's native epoll
 * transport, without which Lettuce cannot open a Unix socket (and the builder refuses the URI).
 */
class RedisSocketTest {
  @RegisterExtension
  static final RedisFixture redis = RedisFixture.withUnixSocket();

  @BeforeAll
  static void nativeTransport() {
    if (Transports.NativeTransports.isDomainSocketSupported()) {
      return;
    }
    // The pom puts epoll's linux-x86_64 build on that execution's class path.
    boolean expected = Boolean.getBoolean("outrigger.nativeTransport")
        && System.getProperty("os.name").toLowerCase(Locale.ROOT).contains("linux")
        && System.getProperty("os.arch").matches("amd64|x86_64");
    if (expected) {
      fail("netty's native epoll transport did not load: Lettuce cannot open a Unix socket");
    }
    Assumptions.abort("needs netty's native transport: runs in surefire's redis-socket "
        + "execution on Linux x86_64");
  }

  @Test
  void aStoreOnAUnixSocketSharesTheBucketsOfThatRedisAndNamesTheSocket() throws Exception {
    String path = redis.socket().toString();
    try (LogCapture netty = new LogCapture("io.netty");
        RedisRateLimitStore socket = RedisRateLimitStore.builder("redis-socket://" + path)
            .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
            .timeout(RedisFixture.GENEROUS_TIMEOUT).build();
        RedisRateLimitStore tcp = RedisRateLimitStore.builder(redis.uri())
            .connectTimeout(RedisFixture.GENEROUS_TIMEOUT)
            .timeout(RedisFixture.GENEROUS_TIMEOUT).build()) {
      redis.assertSharesBuckets(socket, tcp, "through the socket");
      assertTrue(socket.toString().startsWith("RedisRateLimitStore[" + path + ","),
          socket.toString());
      // TCP keep-alive means nothing on a Unix socket: netty warned of each option Lettuce set.
      assertEquals(List.of(), netty.lines().stream().filter(l -> l.startsWith("WARN")).toList());
    }
  }
}
