package dev.outrigger.bench;

import dev.outrigger.ApiClient;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.Retry;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Deadline precision: how late a call with a 100 ms deadline returns from a server that accepts,
 * reads the request and never answers. 1,000 calls, 16 at a time on virtual threads; prints
 * lateness (return time minus 100 ms) at p50, p99 and max. A call that ends any other way fails
 * the run (exit status 1), the first such ending printed. Arguments: {@code [calls]
 * [concurrency]}.
 */
public final class DeadlinePrecisionHarness {
  private DeadlinePrecisionHarness() {}

  public static void main(String[] rawArgs) throws Exception {
    List<String> args = List.of(rawArgs);
    int calls = args.size() > 0 ? Integer.parseInt(args.get(0)) : 1000;
    int concurrency = args.size() > 1 ? Integer.parseInt(args.get(1)) : 16;
    long deadlineNanos = 100_000_000L;
    int exit = 0;

    ConcurrentLinkedQueue<Socket> held = new ConcurrentLinkedQueue<>();
    try (ServerSocket server = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
        // No breaker: it would rightly open after 20 timeouts and refuse the rest at once.
        ApiClient client = ApiClient.builder().retry(Retry.none())
            .circuitBreaker(CircuitBreaker.none())
            .deadline(Duration.ofNanos(deadlineNanos)).build()) {
      Thread acceptor = Thread.ofVirtual().start(() -> {
        while (!server.isClosed()) {
          try {
            Socket s = server.accept();
            held.add(s);
            Thread.ofVirtual().start(() -> drain(s));
          } catch (IOException e) {
            return;
          }
        }
      });
      String url = "http://127.0.0.1:" + server.getLocalPort() + "/stall";
      long[] late = new long[calls];
      AtomicInteger next = new AtomicInteger();
      AtomicInteger wrong = new AtomicInteger();
      // The first call that did not end on its deadline, and how it ended.
      AtomicReference<String> firstWrong = new AtomicReference<>();
      Thread[] workers = new Thread[concurrency];
      for (int w = 0; w < concurrency; w++) {
        workers[w] = Thread.ofVirtual().start(() -> {
          int i;
          while ((i = next.getAndIncrement()) < calls) {
            long start = System.nanoTime();
            try {
              String body = client.get(url).execute(String.class);
              wrong.incrementAndGet();
              firstWrong.compareAndSet(null, "answered " + body);
            } catch (DeadlineExceededException e) {
              // expected
            } catch (RuntimeException | Error e) {
              // An Error too: a worker it ended would leave its call's lateness at 0.
              wrong.incrementAndGet();
              firstWrong.compareAndSet(null, e.toString());
            }
            late[i] = System.nanoTime() - start - deadlineNanos;
          }
        });
      }
      for (Thread t : workers) {
        t.join();
      }
      server.close();
      acceptor.join();
      Arrays.sort(late);
      System.out.printf(Locale.ROOT, "%d calls with a 100 ms deadline against a stalled server, "
          + "%d at a time: lateness p50 %.2f ms, p99 %.2f ms, max %.2f ms, min %.2f ms; "
          + "%d calls did not end in DeadlineExceededException%n", calls, concurrency,
          late[calls / 2] / 1e6, late[(int) Math.ceil(calls * 0.99) - 1] / 1e6,
          late[calls - 1] / 1e6, late[0] / 1e6, wrong.get());
      if (wrong.get() > 0) {
        // Their times are in the figures above: not a measurement of the deadline.
        System.out.println("FAILED: " + wrong.get() + " calls did not end on their deadline; "
            + "the first: " + firstWrong.get());
        exit = 1;
      }
    } finally {
      for (Socket s : held) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing
        }
      }
    }
    if (exit != 0) {
      System.exit(exit);
    }
  }

  private static void drain(Socket s) {
    try (InputStream in = s.getInputStream()) {
      byte[] buf = new byte[4096];
      while (in.read(buf) != -1) {
        // never answer
      }
    } catch (IOException ignored) {
      // the client closed the connection: expected
    }
  }
}
