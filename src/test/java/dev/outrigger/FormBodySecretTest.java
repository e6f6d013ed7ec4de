package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.FormBody;
import okhttp3.MediaType;
import okhttp3.RequestBody;
import okio.BufferedSink;
import org.junit.jupiter.api.Test;

/**
 * README (Security): an error body's snippet masks the secrets the request carried where the
 * server quotes them. The fields of a form body were not looked for: an OAuth token endpoint
 * that answers a refused grant with a 400 echoing the form it was sent showed the client secret
 * and the refresh token in {@code bodySnippet()}, the message and the attempt's DEBUG line. A
 * form's fields of a secret name are masked now, in a form the client sends from bytes and in
 * OkHttp's {@code FormBody}; any other body (a stream) is never read a second time.
 */
class FormBodySecretTest {
  /** Base64-like: its {@code +}, {@code /} and {@code =} go escaped in the form. */
  private static final String CLIENT_SECRET = "cl1ent-s3cr3t+k3y/xyz=";
  private static final String REFRESH = "r3fr3sh-t0k3n-0123456789";
  private static final String FORM = "grant_type=refresh_token&client_id=app-42&client_secret="
      + URLEncoder.encode(CLIENT_SECRET, StandardCharsets.UTF_8) + "&refresh_token=" + REFRESH;

  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aFormsSecretFieldsATokenEndpointEchoesAreMasked() throws Exception {
    server.enqueue(echo());
    try (LogCapture logs = new LogCapture();
        ApiClient client = client().build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.post("/oauth/token").body(FORM.getBytes(StandardCharsets.UTF_8),
              "application/x-www-form-urlencoded").execute(String.class));

      assertEquals(FORM, server.takeRequest().getBody().utf8(), "the server got the form");
      assertNotShown(e, logs);
      assertTrue(e.bodySnippet().contains("\"client_id\":\"app-42\""), e.bodySnippet());
      assertTrue(e.bodySnippet().contains("client_secret=REDACTED&refresh_token=REDACTED"),
          e.bodySnippet());
    }
  }

  /** A body sent with its type in a {@code Content-Type} header, a charset with it. */
  @Test
  void aFormTypedByItsHeaderIsReadToo() {
    server.enqueue(echo());
    try (LogCapture logs = new LogCapture();
        ApiClient client = client().build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.post("/oauth/token").body(FORM.getBytes(StandardCharsets.UTF_8), null)
              .header("Content-Type", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")
              .execute(String.class));

      assertNotShown(e, logs);
    }
  }

  /** Client credentials an OkHttp interceptor of the user's adds as an OkHttp form. */
  @Test
  void anOkHttpFormBodysSecretFieldsAreMasked() throws Exception {
    server.enqueue(echo());
    try (LogCapture logs = new LogCapture();
        ApiClient client = client().addOkHttpInterceptor(chain -> chain.proceed(
            chain.request().newBuilder().post(new FormBody.Builder()
                .add("grant_type", "refresh_token").add("client_id", "app-42")
                .add("client_secret", CLIENT_SECRET).add("refresh_token", REFRESH).build())
                .build())).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.post("/oauth/token").execute(String.class));

      RecordedRequest sent = server.takeRequest();
      assertTrue(sent.getBody().utf8().contains("client_secret=cl1ent-s3cr3t%2Bk3y"),
          sent.getBody().utf8());
      assertNotShown(e, logs);
    }
  }

  /**
   * A body of the form type that is neither (an interceptor's own, which may stream from a
   * file) is not written again to look for secrets: the server alone read it.
   */
  @Test
  void anyOtherBodyIsNotReadAgain() {
    server.enqueue(new MockResponse.Builder().code(400).body("invalid_grant").build());
    AtomicInteger writes = new AtomicInteger();
    RequestBody streamed = new RequestBody() {
      @Override
      public MediaType contentType() {
        return MediaType.get("application/x-www-form-urlencoded");
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        writes.incrementAndGet();
        sink.writeUtf8(FORM);
      }
    };
    try (ApiClient client = client().addOkHttpInterceptor(chain -> chain.proceed(
        chain.request().newBuilder().post(streamed).build())).build()) {
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> client.post("/oauth/token").execute(String.class));

      assertEquals("invalid_grant", e.bodySnippet());
      assertEquals(1, writes.get());
    }
  }

  /** A 400 that quotes the form's fields, decoded, and the form as it came. */
  private static MockResponse echo() {
    return new MockResponse.Builder().code(400).addHeader("Content-Type", "application/json")
        .body("{\"error\":\"invalid_grant\",\"client_id\":\"app-42\",\"client_secret\":\""
            + CLIENT_SECRET + "\",\"refresh_token\":\"" + REFRESH + "\",\"form\":\"" + FORM
            + "\"}")
        .build();
  }

  private ApiClient.Builder client() {
    return ApiClient.builder().baseUrl(server.url("/").toString()).retry(Retry.none());
  }

  private static void assertNotShown(HttpStatusException e, LogCapture logs) {
    String escaped = URLEncoder.encode(CLIENT_SECRET, StandardCharsets.UTF_8);
    String all = e.bodySnippet() + "\n" + e.getMessage() + "\n" + logs.all();
    for (String secret : new String[] {CLIENT_SECRET, escaped, REFRESH}) {
      assertFalse(all.contains(secret), secret + " shown:\n" + all);
    }
    assertTrue(e.bodySnippet().contains("\"refresh_token\":\"REDACTED\""), e.bodySnippet());
  }
}
