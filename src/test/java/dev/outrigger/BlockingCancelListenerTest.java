package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/**
 * OkHttp runs {@code EventListener.canceled} on the thread that cancels the call: a listener of
 * the user's that blocks there must hold back no other call's deadline.
 */
class BlockingCancelListenerTest {
  @Test
  void aCanceledListenerThatBlocksDelaysNoOtherCallsDeadline() throws Exception {
    CountDownLatch inFirstCancel = new CountDownLatch(1);
    CountDownLatch releaseFirst = new CountDownLatch(1);
    OkHttpClient okhttp = new OkHttpClient.Builder().eventListener(new EventListener() {
      @Override
      public void canceled(Call call) {
        if (call.request().url().encodedPath().equals("/first")) {
          inFirstCancel.countDown();
          try {
            releaseFirst.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }
    }).build();
    // The server never answers (until the test ends): only the deadline ends a call.
    try (HoldingServer server = new HoldingServer();
        ApiClient client = ApiClient.builder().baseUrl(server.url()).okHttpClient(okhttp)
            .retry(Retry.none()).build()) {
      try {
        CompletableFuture<Throwable> first = call(client, "/first");
        assertTrue(inFirstCancel.await(10, TimeUnit.SECONDS),
            "the first call's deadline must cancel it");

        CompletableFuture<Throwable> second = call(client, "/second");

        // Generous: only "ends at its deadline, not when the first listener returns" matters.
        Throwable e = second.get(10, TimeUnit.SECONDS);
        assertInstanceOf(DeadlineExceededException.class, e);
        assertEquals(1, releaseFirst.getCount(), "the first call's listener is still blocked");
        assertInstanceOf(DeadlineExceededException.class, first.get(10, TimeUnit.SECONDS));
      } finally {
        releaseFirst.countDown();
      }
      ClientTestSupport.assertNoLeaks(client);
    }
  }

  @Test
  void aCutRunsOnAPlatformThreadSoPinnedCarriersCannotHoldItBack() throws Exception {
    // On JDK 21 a virtual thread blocked in a socket read inside synchronized pins its carrier:
    // with every carrier pinned by calls that hang, a cut on a virtual thread would never run,
    // and it is what ends those reads. The cut must run on a platform thread.
    CompletableFuture<Thread> cancelledOn = new CompletableFuture<>();
    OkHttpClient okhttp = new OkHttpClient.Builder().eventListener(new EventListener() {
      @Override
      public void canceled(Call call) {
        cancelledOn.complete(Thread.currentThread());
      }
    }).build();
    try (HoldingServer server = new HoldingServer();
        ApiClient client = ApiClient.builder().baseUrl(server.url()).okHttpClient(okhttp)
            .retry(Retry.none()).build()) {
      assertInstanceOf(DeadlineExceededException.class,
          call(client, "/x").get(10, TimeUnit.SECONDS));
      Thread t = cancelledOn.get(10, TimeUnit.SECONDS);
      assertTrue(!t.isVirtual(), "cut on a virtual thread: " + t);
      assertTrue(t.isDaemon(), t.toString());
      assertEquals("outrigger-deadline-cancel", t.getName());
      ClientTestSupport.assertNoLeaks(client);
    }
  }

  /** Calls {@code path} with a 200 ms deadline on a virtual thread; completes with its failure. */
  private static CompletableFuture<Throwable> call(ApiClient client, String path) {
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    Thread.ofVirtual().start(() -> {
      try {
        client.get(path).deadline(Duration.ofMillis(200)).execute(String.class);
        ended.complete(null);
      } catch (Throwable e) {
        ended.complete(e);
      }
    });
    return ended;
  }
}
