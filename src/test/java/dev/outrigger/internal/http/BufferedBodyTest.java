package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.charset.StandardCharsets;
import okhttp3.MediaType;
import org.junit.jupiter.api.Test;

class BufferedBodyTest {
  private static final MediaType TEXT = MediaType.get("text/plain; charset=utf-8");

  @Test
  void readsLikeAnyBodyAndKeepsItsArrayForTheDecoder() throws Exception {
    byte[] bytes = "hello".getBytes(StandardCharsets.UTF_8);
    BufferedBody body = new BufferedBody(bytes, TEXT);

    assertEquals(5, body.contentLength());
    assertSame(TEXT, body.contentType());
    assertEquals("he", body.source().readUtf8(2));
    assertSame(body.source(), body.source(), "one source per body, as OkHttp's contract says");
    assertEquals("llo", body.source().readUtf8());
    // The decoder's view is the whole body, whatever an interceptor read.
    assertSame(bytes, body.array());
    body.close();
    assertEquals(true, body.source().exhausted());
  }
}
