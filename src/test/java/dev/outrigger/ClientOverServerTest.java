package dev.outrigger;

import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * A client with no retry over MockWebServer's {@code /v1}, checked for leaks and closed after
 * each test: the set-up of the tests of requests and JSON bodies.
 */
abstract class ClientOverServerTest {
  record Post(int id, String title) {}

  @StartStop
  final MockWebServer server = new MockWebServer();

  ApiClient client;

  @BeforeEach
  void setUp() {
    client = ApiClient.builder().baseUrl(server.url("/v1").toString()).retry(Retry.none()).build();
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    ClientTestSupport.assertNoLeaks(client);
    client.close();
  }

  static MockResponse json(String body) {
    return new MockResponse.Builder().code(200).addHeader("Content-Type", "application/json")
        .body(body).build();
  }
}
