package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

/**
 * An Auth that signs each attempt (a nonce or a timestamp in the value, as request-signing
 * schemes do) hands out a different value on every authorization(false). Since c7a6e61 the held
 * value never equals the refused one, so a 401 (the signing key rotated) is answered by signing
 * again with the same old key, never by authorization(true): the key is never refreshed, and
 * every call fails, where before the 401 fetched a new key and the call succeeded.
 */
class AuthPerAttemptSignatureTest {
  @StartStop
  private final MockWebServer server = new MockWebServer();

  private volatile int key = 0;
  private final AtomicInteger nonce = new AtomicInteger();
  private final AtomicInteger fetches = new AtomicInteger();

  private final Auth auth = refresh -> {
    if (refresh) {
      fetches.incrementAndGet();
      key++;
    }
    return "Sig key=k" + key + ",nonce=" + nonce.incrementAndGet();
  };

  @Test
  void a401ForASignedValueFetchesANewKey() throws Exception {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String authz = request.getHeaders().get("Authorization");
        return authz != null && authz.startsWith("Sig key=k1,")
            ? new MockResponse.Builder().code(200).body("ok").build()
            : new MockResponse.Builder().code(401).body("key rotated").build();
      }
    });
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(10)).retry(Retry.none()).auth(auth).build()) {
      String result;
      try {
        result = client.get("/a").execute(String.class);
      } catch (HttpStatusException e) {
        result = "status " + e.status();
      }
      assertEquals(1, fetches.get(), "a 401 never asked for a fresh key");
      assertEquals("ok", result);
    }
  }

  @Test
  void anAttemptSignedAfterAnotherCallsFetchStillFetchesWhenItsKeyIsRefused() throws Exception {
    // The generation an attempt is judged by is the one it was signed in, as it goes out, not
    // the one when its call began: the retry of /c is signed with k1, which another call's
    // fetch left while /c's first attempt was out, and when k1 is refused in turn, /c fetches.
    CountDownLatch firstCSent = new CountDownLatch(1);
    CountDownLatch answerFirstC = new CountDownLatch(1);
    AtomicInteger validKey = new AtomicInteger(1);
    List<String> sentC = new CopyOnWriteArrayList<>();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        String authz = request.getHeaders().get("Authorization");
        if (request.getUrl().encodedPath().equals("/c")) {
          sentC.add(authz.substring(0, authz.indexOf(',')));
          if (sentC.size() == 1) {
            firstCSent.countDown();
            answerFirstC.await(10, TimeUnit.SECONDS);
            return new MockResponse.Builder().code(503).build();
          }
        }
        return authz.startsWith("Sig key=k" + validKey.get() + ",")
            ? new MockResponse.Builder().code(200).body("ok").build()
            : new MockResponse.Builder().code(401).body("key rotated").build();
      }
    });
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(10)).auth(auth)
        .retry(Retry.exponential(Duration.ofMillis(1), Duration.ofMillis(2)).maxAttempts(2))
        .build()) {
      Future<String> c = pool.submit(() -> client.get("/c").execute(String.class));
      assertTrue(firstCSent.await(10, TimeUnit.SECONDS));
      // Another call's 401 for k0 fetches k1; then the server rotates again.
      assertEquals("ok", client.get("/a").execute(String.class));
      assertEquals(1, fetches.get());
      validKey.set(2);

      answerFirstC.countDown();

      assertEquals("ok", c.get(10, TimeUnit.SECONDS));
      assertEquals(2, fetches.get(), "k1, refused, was never refreshed");
      assertEquals(List.of("Sig key=k0", "Sig key=k1", "Sig key=k2"), sentC);
    } finally {
      answerFirstC.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void anAttemptDatedBeforeTheKeyItCarriesFetchesWhenThatKeyIsRefused() throws Exception {
    // /c reads the generation, then another call's fetch moves the key on to k1 before /c's
    // Auth signs: /c carries k1 dated before it, which the server has rotated out too. Its 401
    // finds a signature other than the refused one (a new nonce) and signs again, with k1,
    // dated now; that 401 fetches k2. Before, it was returned to the caller.
    CountDownLatch cSigning = new CountDownLatch(1);
    CountDownLatch keyMovedOn = new CountDownLatch(1);
    AtomicInteger validKey = new AtomicInteger(1);
    AtomicReference<Thread> cThread = new AtomicReference<>();
    List<String> sentC = new CopyOnWriteArrayList<>();
    Auth signing = refresh -> {
      if (refresh) {
        fetches.incrementAndGet();
        key++;
      } else if (Thread.currentThread() == cThread.get() && cSigning.getCount() > 0) {
        cSigning.countDown();
        try {
          keyMovedOn.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
      return "Sig key=k" + key + ",nonce=" + nonce.incrementAndGet();
    };
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String authz = request.getHeaders().get("Authorization");
        if (request.getUrl().encodedPath().equals("/c")) {
          sentC.add(authz.substring(0, authz.indexOf(',')));
        }
        return authz.startsWith("Sig key=k" + validKey.get() + ",")
            ? new MockResponse.Builder().code(200).body("ok").build()
            : new MockResponse.Builder().code(401).body("key rotated").build();
      }
    });
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (ApiClient client = ApiClient.builder().baseUrl(server.url("/").toString())
        .deadline(Duration.ofSeconds(10)).retry(Retry.none()).auth(signing).build()) {
      Future<String> c = pool.submit(() -> {
        cThread.set(Thread.currentThread());
        return client.get("/c").execute(String.class);
      });
      assertTrue(cSigning.await(10, TimeUnit.SECONDS));
      // Another call's 401 for k0 fetches k1; then the server rotates again.
      assertEquals("ok", client.get("/a").execute(String.class));
      assertEquals(1, fetches.get());
      validKey.set(2);

      keyMovedOn.countDown();

      assertEquals("ok", c.get(10, TimeUnit.SECONDS));
      assertEquals(2, fetches.get(), "k1, refused, was never refreshed");
      assertEquals(List.of("Sig key=k1", "Sig key=k1", "Sig key=k2"), sentC);
    } finally {
      keyMovedOn.countDown();
      pool.shutdownNow();
    }
  }
}
