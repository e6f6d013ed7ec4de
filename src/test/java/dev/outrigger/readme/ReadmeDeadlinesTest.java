package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import dev.outrigger.ApiClient;
import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HoldingServer;
import dev.outrigger.LogCapture;
import dev.outrigger.Retry;
import dev.outrigger.readme.ReadmeServer.Reply;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;

/** README "Deadlines". */
class ReadmeDeadlinesTest {

  /**
   * "What the deadline bounds ... resolving the host name ... A name lookup is cut like the
   * rest, although nothing can interrupt a resolver ...: the client's OkHttp client runs each
   * lookup of its Dns on a virtual thread of its own (outrigger-dns) while the call waits for
   * it, and the deadline ... ends that wait. ... the JDK's resolver does not [stop], and
   * finishes in the background, its answer dropped." A Dns deaf to interrupts that hangs: the
   * call ends at its 2 s deadline while the lookup is still blocked, and nothing is sent,
   * not even once the lookup answers. (HungLookupTest covers close(), interrupts and a Dns
   * that honours interrupts.)
   */
  @Test
  void aHangingLookupRunsOnAnOutriggerDnsVirtualThreadAndIsCutByTheDeadline() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch answered = new CountDownLatch(1);
    AtomicReference<String> lookupThread = new AtomicReference<>();
    OkHttpClient hangingDns = new OkHttpClient.Builder().dns(host -> {
      Thread me = Thread.currentThread();
      lookupThread.set(me.getName() + (me.isVirtual() ? " virtual" : " platform"));
      boolean interrupted = false;
      while (true) {
        try {
          release.await(); // a resolver that hangs and ignores interrupts, as the JDK's does
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        me.interrupt();
      }
      answered.countDown();
      return List.of(InetAddress.getLoopbackAddress());
    }).build();
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().okHttpClient(hangingDns).retry(Retry.none())
            // Room for a loaded machine to reach the lookup first: the test needs it started.
            .deadline(Duration.ofSeconds(2)).build()) {
      int port = Integer.parseInt(server.host().substring(server.host().indexOf(':') + 1));
      DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
          () -> client.get("http://slow-dns.test:" + port + "/x").execute(String.class));
      assertEquals(1, answered.getCount(), "the call ended while its lookup still hung");
      assertEquals("outrigger-dns virtual", lookupThread.get());
      release.countDown();
      assertTrue(answered.await(10, TimeUnit.SECONDS));
      assertEquals(0, server.requests(), e.getMessage());
    } finally {
      release.countDown();
      hangingDns.connectionPool().evictAll();
    }
  }

  /**
   * "Calls to an IP address, or on a pooled connection, resolve nothing": the client's Dns is
   * not asked for 127.0.0.1, and asked once for two calls to one host name.
   */
  @Test
  void callsToAnIpAddressOrOnAPooledConnectionResolveNothing() throws Exception {
    List<String> lookups = new java.util.concurrent.CopyOnWriteArrayList<>();
    OkHttpClient counting = new OkHttpClient.Builder().dns(host -> {
      lookups.add(host);
      return List.of(InetAddress.getLoopbackAddress());
    }).build();
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.ok("ok"));
        ApiClient client = ApiClient.builder().okHttpClient(counting).build()) {
      int port = Integer.parseInt(server.host().substring(server.host().indexOf(':') + 1));
      client.get("http://127.0.0.1:" + port + "/ip").execute(String.class);
      assertEquals(List.of(), lookups);
      client.get("http://named.test:" + port + "/a").execute(String.class);
      client.get("http://named.test:" + port + "/b").execute(String.class);
      assertEquals(List.of("named.test"), lookups);
      assertEquals(3, server.requests());
    } finally {
      counting.connectionPool().evictAll();
    }
  }

  /**
   * "Time after the answer arrived. Once an attempt's response is read, an attempt or call
   * interceptor that works on after proceed, and the decoder (Jackson), are not cut: a call that
   * has its answer returns it, even late."
   */
  @Test
  void workAfterTheAnswerArrivedIsNotCut() throws Exception {
    try (ReadmeServer server = new ReadmeServer((r, n) -> Reply.json("{\"v\":\"late\"}"))) {
      try (ApiClient attempt = ApiClient.builder().baseUrl(server.url())
          .deadline(Duration.ofMillis(500))
          .addAttemptInterceptor(chain -> {
            okhttp3.Response r = chain.proceed(chain.request());
            awaitExpired(chain.context().deadline());
            return r;
          }).build()) {
        assertEquals("{\"v\":\"late\"}", attempt.get("/a").execute(String.class));
      }
      try (ApiClient call = ApiClient.builder().baseUrl(server.url())
          .deadline(Duration.ofMillis(500))
          .addCallInterceptor(chain -> {
            okhttp3.Response r = chain.proceed(chain.request());
            awaitExpired(chain.context().deadline());
            return r;
          }).build()) {
        assertEquals("{\"v\":\"late\"}", call.get("/c").execute(String.class));
      }
      AtomicReference<Deadline> seen = new AtomicReference<>();
      ObjectMapper slowMapper = new ObjectMapper().registerModule(new SimpleModule()
          .addDeserializer(Slow.class, new JsonDeserializer<Slow>() {
            @Override
            public Slow deserialize(JsonParser p, DeserializationContext c) throws IOException {
              awaitExpired(seen.get());
              return new Slow(((com.fasterxml.jackson.databind.JsonNode) p.readValueAsTree()).get("v").asText());
            }
          }));
      try (ApiClient decoder = ApiClient.builder().baseUrl(server.url()).objectMapper(slowMapper)
          .deadline(Duration.ofMillis(500))
          .addAttemptInterceptor(chain -> {
            seen.set(chain.context().deadline());
            return chain.proceed(chain.request());
          }).build()) {
        assertEquals(new Slow("late"), decoder.get("/d").execute(Slow.class));
      }
      assertEquals(3, server.requests());
    }
  }

  record Slow(String v) {}

  private static void awaitExpired(Deadline d) {
    try {
      HoldingServer.await("the deadline passes", d::isExpired);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** "Deadline.fromHeader(name, value) ... (a malformed value is ignored, logged at DEBUG, never thrown)". */
  @Test
  void aMalformedInboundHeaderIsIgnoredAndLoggedAtDebug() {
    try (LogCapture log = new LogCapture()) {
      assertTrue(Deadline.fromHeader("grpc-timeout", "soon").isEmpty());
      assertTrue(log.lines().stream().anyMatch(
          l -> l.startsWith("DEBUG") && l.contains("grpc-timeout") && l.contains("soon")),
          log.all());
    }
  }

  /**
   * "Interruption: interrupting a virtual thread blocked in a call closes its socket; the call
   * ends with TransportException of kind CANCELLED and the thread's interrupt status is kept"
   * is ClientDeadlineTest's; here the platform-thread footnote: "(A platform thread blocked in a
   * socket read is not woken by an interrupt ... so its call ends at its deadline.)" The call
   * outlives the interrupt and ends only once its deadline has passed; it is then reported as
   * the Errors table says of an interrupted caller: CANCELLED, the interrupt status kept.
   */
  @Test
  void anInterruptedPlatformThreadsCallEndsAtItsDeadline() throws Exception {
    AtomicReference<Deadline> deadline = new AtomicReference<>();
    try (HoldingServer server = new HoldingServer();
        ApiClient client = ApiClient.builder().baseUrl(server.url()).retry(Retry.none())
            .deadline(Duration.ofSeconds(2))
            .addAttemptInterceptor(chain -> {
              deadline.set(chain.context().deadline());
              return chain.proceed(chain.request());
            }).build()) {
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicBoolean expiredAtEnd = new AtomicBoolean();
      AtomicBoolean interruptKept = new AtomicBoolean();
      Thread t = Thread.ofPlatform().start(() -> {
        try {
          client.get("/held").execute(String.class);
        } catch (Throwable e) {
          expiredAtEnd.set(deadline.get().isExpired());
          interruptKept.set(Thread.currentThread().isInterrupted());
          failure.set(e);
        }
      });
      HoldingServer.await("the request is held", () -> server.inFlight() == 1);
      // Blocked in the socket read itself (an interrupt that comes before, while OkHttp is
      // between reads, ends the call at once: Okio checks the interrupt status then).
      HoldingServer.await("the caller blocked in a socket read", () -> java.util.Arrays.stream(
          t.getStackTrace()).anyMatch(f -> f.getClassName().equals("sun.nio.ch.Net")
              && f.getMethodName().equals("poll")));
      t.interrupt();
      t.join(10_000);
      assertFalse(t.isAlive());
      assertTrue(expiredAtEnd.get(), "the call ended only at its deadline: " + failure.get());
      dev.outrigger.TransportException e =
          assertInstanceOf(dev.outrigger.TransportException.class, failure.get());
      assertEquals(dev.outrigger.TransportException.Kind.CANCELLED, e.kind(), e.getMessage());
      assertTrue(interruptKept.get());
    }
  }
}
