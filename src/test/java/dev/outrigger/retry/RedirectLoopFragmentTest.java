package dev.outrigger.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.outrigger.ApiClient;
import dev.outrigger.ApiException;
import dev.outrigger.TransportException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * README (Writes are never sent twice by surprise): for a request that must be sent once, the
 * network interceptor "refuses to write it again to a method and URL it already went to: a
 * redirect loop". URLs are compared as sent, without their fragments: a 307 whose Location is the
 * same URL with a fragment ({@code /v1/orders#retry}) is the same resource, and the POST is not
 * written to it a second time (compared with the fragment, it was).
 */
class RedirectLoopFragmentTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  @Test
  void aPostRedirectedToItselfWithAFragmentIsNotWrittenAgain() throws Exception {
    server.enqueue(new MockResponse.Builder().code(307)
        .addHeader("Location", "/v1/orders#retry").build());
    server.enqueue(new MockResponse.Builder().code(201).body("created").build());
    Object outcome;
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/v1").toString()).build()) {
      outcome = client.post("/orders").json(Map.of("item", "book")).execute(String.class);
    } catch (ApiException e) {
      outcome = e;
    }
    List<String> written = new ArrayList<>();
    for (int i = server.getRequestCount(); i > 0; i--) {
      written.add(server.takeRequest().getRequestLine());
    }
    // Before: the same request line twice, and the call returned "created".
    assertEquals(List.of("POST /v1/orders HTTP/1.1"), written,
        "the POST went again to the URL it went to, the fragment aside");
    TransportException e = assertInstanceOf(TransportException.class, outcome);
    assertEquals(TransportException.Kind.PROTOCOL, e.kind());
  }
}
