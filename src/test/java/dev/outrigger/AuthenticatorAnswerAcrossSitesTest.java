package dev.outrigger;

import static dev.outrigger.AuthenticatorAnswerSupport.TOKEN;
import static dev.outrigger.AuthenticatorAnswerSupport.answersWith;
import static dev.outrigger.AuthenticatorAnswerSupport.challenge;
import static dev.outrigger.AuthenticatorAnswerSupport.getWithToken;
import static dev.outrigger.AuthenticatorAnswerSupport.landedWithTheToken;
import static dev.outrigger.AuthenticatorAnswerSupport.landsWithTheToken;
import static dev.outrigger.AuthenticatorAnswerSupport.redirectTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetSocketAddress;
import java.net.Proxy;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;

/**
 * README (Security): an authenticator's answer to the 401 of another origin a redirect led to
 * stays, even one equal to the call's own Authorization, only on the call's site. A common
 * token authenticator hands out the current token to any request that does not carry it yet
 * (another call may have refreshed it meanwhile), whatever the host: when a redirect named a
 * host of another site that answered 401, the call's token went there. Before the rule for one
 * token across the API's hosts, that was dropped as the call's own; on another site it still
 * is, and the 401 is returned. The server is an HTTP proxy (MockWebServer), so the calls can
 * name any host. Nor does it stay on a redirect from https to plain http, even on the same host:
 * anyone on the network would read it there.
 */
class AuthenticatorAnswerAcrossSitesTest {
  @StartStop
  private final MockWebServer proxy = new MockWebServer();

  @Test
  void theCallsTokenAnAuthenticatorHandsToAnotherSiteIsDropped() throws Exception {
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return request.getUrl().host().equals("api.example.test")
            ? redirectTo("http://harvest.other.test/landing")
            : challenge("api");
      }
    });
    HttpStatusException e = assertThrows(HttpStatusException.class,
        () -> getWithToken(client(), ApiClient.builder(), "http://api.example.test/start"));

    assertEquals(401, e.status());
    assertEquals(TOKEN, proxy.takeRequest().getHeaders().get("Authorization"));
    for (int i = 0; i < 2; i++) {
      RecordedRequest r = proxy.takeRequest();
      assertEquals("harvest.other.test", r.getUrl().host());
      assertNull(r.getHeaders().get("Authorization"), "the call's token went to another site");
    }
  }

  @Test
  void theCallsTokenAnAuthenticatorHandsToAnotherHostOfTheSiteIsSent() {
    proxy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return request.getUrl().host().equals("api.example.test")
            ? redirectTo("http://files.example.test/landing")
            : landedWithTheToken(request);
      }
    });
    assertEquals("landed",
        getWithToken(client(), ApiClient.builder(), "http://api.example.test/start"));
  }

  @Test
  void theCallsTokenAnAuthenticatorHandsToPlainHttpOnTheSameHostIsDropped() throws Exception {
    HeldCertificate root = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate cert = new HeldCertificate.Builder().signedBy(root)
        .addSubjectAlternativeName("localhost").build();
    HandshakeCertificates clientCerts = new HandshakeCertificates.Builder()
        .addTrustedCertificate(root.certificate()).build();
    try (MockWebServer api = new MockWebServer(); MockWebServer plain = new MockWebServer()) {
      api.useHttps(new HandshakeCertificates.Builder().heldCertificate(cert).build()
          .sslSocketFactory());
      api.start();
      plain.start();
      api.enqueue(redirectTo(plain.url("/landing").toString()));
      plain.setDispatcher(landsWithTheToken());
      OkHttpClient ok = new OkHttpClient.Builder()
          .sslSocketFactory(clientCerts.sslSocketFactory(), clientCerts.trustManager())
          .authenticator(answersWith(TOKEN))
          .build();
      HttpStatusException e = assertThrows(HttpStatusException.class,
          () -> getWithToken(ok, ApiClient.builder(), api.url("/start").toString()));

      assertEquals(401, e.status());
      assertEquals(TOKEN, api.takeRequest().getHeaders().get("Authorization"));
      for (int i = 0; i < 2; i++) {
        assertNull(plain.takeRequest().getHeaders().get("Authorization"),
            "the call's token went out over plain http");
      }
    }
  }

  /** Sends through the proxy, answering a 401 with the token it did not carry. */
  private OkHttpClient client() {
    return new OkHttpClient.Builder()
        .proxy(new Proxy(Proxy.Type.HTTP,
            new InetSocketAddress(proxy.getHostName(), proxy.getPort())))
        .authenticator(answersWith(TOKEN))
        .build();
  }
}
