package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.CertificatePinner;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;

/**
 * A builder from {@code newBuilder()} holds every setting of its parent, so each setting a
 * client of another service must not keep has a way back to its default there: here the
 * credentials and the deadline header, which such a client would otherwise send to its own base
 * URL's origin, the parent's TLS trust and key material, its certificate pins, its proxy, and
 * its mapper.
 */
class DerivedBuilderTurnsOffTest {
  @StartStop
  final MockWebServer server = new MockWebServer();

  @Test
  void aDerivedClientCanDropItsParentsAuthAndDeadlineHeader() throws Exception {
    server.enqueue(new MockResponse.Builder().body("parent").build());
    server.enqueue(new MockResponse.Builder().body("child").build());
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/v1").toString())
            .auth(refresh -> "Bearer parent-token").propagateDeadline("X-Deadline-Ms").build();
        ApiClient other = parent.newBuilder().baseUrl(server.url("/partner").toString())
            .auth(null).propagateDeadline(null).build()) {
      assertEquals("parent", parent.get("/a").execute(String.class));
      assertEquals("child", other.get("/b").execute(String.class));
      ClientTestSupport.assertNoLeaks(parent);
      ClientTestSupport.assertNoLeaks(other);
    }

    RecordedRequest fromParent = server.takeRequest();
    assertEquals("Bearer parent-token", fromParent.getHeaders().get("Authorization"));
    assertNotNull(fromParent.getHeaders().get("X-Deadline-Ms"));
    RecordedRequest fromOther = server.takeRequest();
    assertEquals("/partner/b", fromOther.getUrl().encodedPath());
    assertNull(fromOther.getHeaders().get("Authorization"));
    assertNull(fromOther.getHeaders().get("X-Deadline-Ms"));
  }

  /** A body of one field: a mapper refusing unknown fields refuses {"id":1,"added":2}. */
  static final class Item {
    public int id;
  }

  @Test
  void aDerivedClientCanGoBackToTheDefaultTls() throws Exception {
    HeldCertificate root = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate cert = new HeldCertificate.Builder().signedBy(root)
        .addSubjectAlternativeName("localhost").build();
    server.useHttps(new HandshakeCertificates.Builder().heldCertificate(cert).build()
        .sslSocketFactory());
    server.enqueue(new MockResponse.Builder().body("trusted").build());
    HandshakeCertificates trustingRoot = new HandshakeCertificates.Builder()
        .addTrustedCertificate(root.certificate()).build();
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString())
            .tls(trustingRoot.sslSocketFactory(), trustingRoot.trustManager()).build();
        ApiClient other = parent.newBuilder().tls(null, null).build()) {
      assertEquals("trusted", parent.get("/").execute(String.class));
      // The platform's trust, which has never heard of this private root.
      TransportException e = assertThrows(TransportException.class,
          () -> other.get("/").execute(String.class));
      assertEquals(TransportException.Kind.TLS, e.kind(), e.toString());
      ClientTestSupport.assertNoLeaks(parent);
      ClientTestSupport.assertNoLeaks(other);
    }
    // Half a TLS setting is still refused.
    assertThrows(NullPointerException.class,
        () -> ApiClient.builder().tls(null, trustingRoot.trustManager()));
    assertThrows(NullPointerException.class,
        () -> ApiClient.builder().tls(trustingRoot.sslSocketFactory(), null));
  }

  /** Pins that no certificate of this server matches: the parent refuses it, the child not. */
  @Test
  void aDerivedClientCanDropItsParentsCertificatePins() throws Exception {
    HeldCertificate root = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate cert = new HeldCertificate.Builder().signedBy(root)
        .addSubjectAlternativeName("localhost").build();
    server.useHttps(new HandshakeCertificates.Builder().heldCertificate(cert).build()
        .sslSocketFactory());
    server.enqueue(new MockResponse.Builder().body("unpinned").build());
    HandshakeCertificates trustingRoot = new HandshakeCertificates.Builder()
        .addTrustedCertificate(root.certificate()).build();
    CertificatePinner elsewhere = new CertificatePinner.Builder()
        .add("localhost", "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").build();
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString())
            .tls(trustingRoot.sslSocketFactory(), trustingRoot.trustManager())
            .certificatePinner(elsewhere).build();
        ApiClient other = parent.newBuilder().certificatePinner(null).build()) {
      TransportException e = assertThrows(TransportException.class,
          () -> parent.get("/").execute(String.class));
      assertEquals(TransportException.Kind.TLS, e.kind(), e.toString());
      assertEquals("unpinned", other.get("/").execute(String.class));
      ClientTestSupport.assertNoLeaks(parent);
      ClientTestSupport.assertNoLeaks(other);
    }
  }

  /** The parent sends through a proxy (a second server); the child goes straight to the API. */
  @Test
  void aDerivedClientCanDropItsParentsProxy() throws Exception {
    try (MockWebServer proxyServer = new MockWebServer()) {
      proxyServer.start();
      proxyServer.enqueue(new MockResponse.Builder().body("via proxy").build());
      server.enqueue(new MockResponse.Builder().body("direct").build());
      Proxy proxy = new Proxy(Proxy.Type.HTTP,
          new InetSocketAddress(proxyServer.getHostName(), proxyServer.getPort()));
      try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/v1").toString())
              .proxy(proxy, (route, response) -> null).build();
          ApiClient other = parent.newBuilder().proxy(null, null).build()) {
        assertEquals("via proxy", parent.get("/a").execute(String.class));
        assertEquals("direct", other.get("/b").execute(String.class));
        ClientTestSupport.assertNoLeaks(parent);
        ClientTestSupport.assertNoLeaks(other);
      }
      // The proxy got the parent's request in absolute form, for the API's address.
      assertEquals(server.url("/v1/a"), proxyServer.takeRequest().getUrl());
      assertEquals(1, proxyServer.getRequestCount());
      assertEquals("/v1/b", server.takeRequest().getUrl().encodedPath());
    }
    // An authenticator without a proxy is still refused.
    assertThrows(NullPointerException.class,
        () -> ApiClient.builder().proxy(null, (route, response) -> null));
  }

  @Test
  void aDerivedClientCanGoBackToTheDefaultMapper() throws Exception {
    for (int i = 0; i < 3; i++) {
      server.enqueue(new MockResponse.Builder().body("{\"id\":1,\"added\":2}").build());
    }
    JsonMapper strict =
        JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString())
            .objectMapper(strict).build();
        ApiClient other = parent.newBuilder().objectMapper(null).build();
        ApiClient grandchild = other.newBuilder().build();
        ApiClient plain = ApiClient.builder().build();
        ApiClient plainChild = plain.newBuilder().objectMapper(null).build()) {
      assertThrows(DeserializationException.class, () -> parent.get("/").execute(Item.class));
      assertEquals(1, other.get("/").execute(Item.class).id, "the default ignores unknown fields");
      assertNotSame(strict, other.mapper());
      assertEquals(1, grandchild.get("/").execute(Item.class).id);
      assertSame(other.mapper(), grandchild.mapper(), "a default mapper is shared down the line");
      assertSame(plain.mapper(), plainChild.mapper(),
          "the default of a parent with no mapper of its own is still the parent's");
      ClientTestSupport.assertNoLeaks(parent);
      ClientTestSupport.assertNoLeaks(other);
    }
  }

  /**
   * The parent stamps every request with a header from each kind of interceptor; the child,
   * for another service, drops them all and adds one of its own (kept: added after the clear).
   * The parent keeps its own.
   */
  @Test
  void aDerivedClientCanDropItsParentsInterceptors() throws Exception {
    server.enqueue(new MockResponse.Builder().body("parent").build());
    server.enqueue(new MockResponse.Builder().body("child").build());
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString())
            .addCallInterceptor(chain -> chain.proceed(
                chain.request().newBuilder().header("X-Call", "parent").build()))
            .addAttemptInterceptor(chain -> chain.proceed(
                chain.request().newBuilder().header("X-Attempt", "parent").build()))
            .addOkHttpInterceptor(chain -> chain.proceed(
                chain.request().newBuilder().header("X-OkHttp", "parent").build()))
            .build();
        ApiClient other = parent.newBuilder().clearInterceptors()
            .addAttemptInterceptor(chain -> chain.proceed(
                chain.request().newBuilder().header("X-Attempt", "child").build()))
            .build()) {
      assertEquals("parent", parent.get("/a").execute(String.class));
      assertEquals("child", other.get("/b").execute(String.class));
      ClientTestSupport.assertNoLeaks(parent);
      ClientTestSupport.assertNoLeaks(other);
    }
    RecordedRequest fromParent = server.takeRequest();
    assertEquals("parent", fromParent.getHeaders().get("X-Call"));
    assertEquals("parent", fromParent.getHeaders().get("X-Attempt"));
    assertEquals("parent", fromParent.getHeaders().get("X-OkHttp"));
    RecordedRequest fromOther = server.takeRequest();
    assertNull(fromOther.getHeaders().get("X-Call"));
    assertEquals("child", fromOther.getHeaders().get("X-Attempt"));
    assertNull(fromOther.getHeaders().get("X-OkHttp"));
  }

  /** Each client's calls reach its own listeners only: the child dropped the parent's. */
  @Test
  void aDerivedClientCanDropItsParentsListeners() throws Exception {
    server.enqueue(new MockResponse.Builder().body("parent").build());
    server.enqueue(new MockResponse.Builder().body("child").build());
    List<String> heard = new CopyOnWriteArrayList<>();
    try (ApiClient parent = ApiClient.builder().baseUrl(server.url("/").toString())
            .addListener(new CallListener() {
              @Override
              public void callStart(CallContext call) {
                heard.add("parent's listener: " + call.url().encodedPath());
              }
            }).build();
        ApiClient other = parent.newBuilder().clearListeners()
            .addListener(new CallListener() {
              @Override
              public void callStart(CallContext call) {
                heard.add("child's listener: " + call.url().encodedPath());
              }
            }).build()) {
      assertEquals("parent", parent.get("/a").execute(String.class));
      assertEquals("child", other.get("/b").execute(String.class));
      ClientTestSupport.assertNoLeaks(parent);
      ClientTestSupport.assertNoLeaks(other);
    }
    assertEquals(List.of("parent's listener: /a", "child's listener: /b"), heard);
  }
}
