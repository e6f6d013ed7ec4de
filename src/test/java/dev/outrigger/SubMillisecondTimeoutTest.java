package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * OkHttp takes a timeout as whole milliseconds ({@code Duration.toMillis()}) and reads 0 as no
 * timeout: a positive timeout under a millisecond must not become no timeout at all.
 */
class SubMillisecondTimeoutTest {

  @Test
  void aTimeoutUnderAMillisecondIsRefusedNotTurnedIntoNoTimeout() {
    Duration half = Duration.ofNanos(500_000);
    IllegalArgumentException connect = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().connectTimeout(half));
    assertTrue(connect.getMessage().startsWith("connectTimeout must be at least 1 ms"),
        connect.getMessage());
    assertTrue(connect.getMessage().endsWith("but was PT0.0005S"), connect.getMessage());
    IllegalArgumentException read = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().readTimeout(Duration.ofNanos(1)));
    assertTrue(read.getMessage().startsWith("readTimeout must be at least 1 ms"),
        read.getMessage());
    IllegalArgumentException write = assertThrows(IllegalArgumentException.class,
        () -> ApiClient.builder().writeTimeout(Duration.ofNanos(999_999)));
    assertTrue(write.getMessage().startsWith("writeTimeout must be at least 1 ms"),
        write.getMessage());
  }

  @Test
  void aMillisecondIsKept() {
    try (ApiClient client = ApiClient.builder().connectTimeout(Duration.ofMillis(1))
        .readTimeout(Duration.ofNanos(1_500_000)).writeTimeout(Duration.ofMillis(1)).build()) {
      assertEquals(1, client.okHttpClient().connectTimeoutMillis());
      assertEquals(1, client.okHttpClient().readTimeoutMillis());
      assertEquals(1, client.okHttpClient().writeTimeoutMillis());
    }
  }
}
