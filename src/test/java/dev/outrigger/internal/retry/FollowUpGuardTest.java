package dev.outrigger.internal.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.internal.RetryAfter;
import java.time.Duration;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class FollowUpGuardTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  /** Outrigger's setting: OkHttp's connection-failure retries off. */
  private final OkHttpClient bare = new OkHttpClient.Builder()
      .retryOnConnectionFailure(false).build();
  private final OkHttpClient guarded = bare.newBuilder()
      .addNetworkInterceptor(FollowUpGuard.INSTANCE).build();

  @AfterEach
  void release() {
    bare.connectionPool().evictAll();
  }

  private Request post() {
    return new Request.Builder().url(server.url("/orders"))
        .post(RequestBody.create("{}", MediaType.get("application/json"))).build();
  }

  private static MockResponse unavailable(String retryAfter) {
    return new MockResponse.Builder().code(503).addHeader("Retry-After", retryAfter).build();
  }

  @Test
  void okHttpAloneResendsAPostOnA503WithRetryAfterZero() throws Exception {
    server.enqueue(unavailable("0"));
    server.enqueue(new MockResponse.Builder().code(201).build());
    try (Response r = bare.newCall(post()).execute()) {
      assertEquals(201, r.code(), "OkHttp followed up by itself");
    }
    assertEquals(2, server.getRequestCount());
  }

  @Test
  void theGuardLetsThePostThroughOnceAndKeepsTheMeaningOfRetryNow() throws Exception {
    server.enqueue(unavailable("0"));
    server.enqueue(new MockResponse.Builder().code(201).build());
    try (Response r = guarded.newCall(post()).execute()) {
      assertEquals(503, r.code());
      assertEquals(Duration.ZERO, RetryAfter.retryAfter(r, System::currentTimeMillis));
    }
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void okHttpAloneThrowsOnARetryAfterBeyondAnInt() {
    server.enqueue(unavailable("99999999999"));
    assertThrows(NumberFormatException.class, () -> bare.newCall(post()).execute());
  }

  @Test
  void theGuardHidesARetryAfterBeyondAnIntAndUnguardPutsItBack() throws Exception {
    server.enqueue(unavailable("99999999999"));
    try (Response r = guarded.newCall(post()).execute()) {
      assertEquals(503, r.code());
      assertEquals(FollowUpGuard.FAR, r.header("Retry-After"), "what OkHttp reads: no int");
      Response back = FollowUpGuard.unguard(r);
      assertEquals(List.of("99999999999"), back.headers("Retry-After"), "the server's value");
    }
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aRequestTimeoutKeepsItsZeroAndHidesOnlyAValueBeyondAnInt() throws Exception {
    server.enqueue(new MockResponse.Builder().code(408).addHeader("Retry-After", "0").build());
    server.enqueue(new MockResponse.Builder().code(408).addHeader("Retry-After", "99999999999")
        .build());
    try (Response r = guarded.newCall(post()).execute()) {
      assertEquals("0", r.header("Retry-After"), "OkHttp's re-send is retryOnConnectionFailure's");
    }
    try (Response r = guarded.newCall(post()).execute()) {
      assertEquals(FollowUpGuard.FAR, r.header("Retry-After"));
      assertEquals(List.of("99999999999"), FollowUpGuard.unguard(r).headers("Retry-After"));
    }
  }

  @Test
  void otherResponsesPassUntouched() throws Exception {
    server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "0").build());
    server.enqueue(unavailable("5"));
    try (Response r = guarded.newCall(post()).execute()) {
      assertEquals("0", r.header("Retry-After"));
    }
    try (Response r = guarded.newCall(post()).execute()) {
      assertEquals("5", r.header("Retry-After"));
    }
  }

  @Test
  void onlyAllDigitZeroOrOverflowingValuesAreRewritten() {
    assertEquals(FollowUpGuard.PAST, FollowUpGuard.safeValue("0"));
    assertEquals(FollowUpGuard.PAST, FollowUpGuard.safeValue("000"));
    assertEquals(FollowUpGuard.FAR, FollowUpGuard.safeValue("2147483648"));
    assertEquals(FollowUpGuard.FAR, FollowUpGuard.safeValue("00000000000000000000099999999999"));
    assertNull(FollowUpGuard.safeValue("2147483647"));
    assertNull(FollowUpGuard.safeValue("007"));
    assertNull(FollowUpGuard.safeValue("120"));
    assertNull(FollowUpGuard.safeValue("Wed, 21 Oct 2015 07:28:00 GMT"));
    assertNull(FollowUpGuard.safeValue("-1"));
    assertNull(FollowUpGuard.safeValue(""));
    assertEquals(Duration.ZERO, RetryAfter.parse(FollowUpGuard.PAST, System.currentTimeMillis()));
  }
}
