package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.FanOut;
import dev.outrigger.HoldingServer;
import dev.outrigger.Result;
import dev.outrigger.WaitGroup;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.Test;

/** README "Fan-out on virtual threads" and "WaitGroup". */
class ReadmeFanOutTest {

  /**
   * "If the consuming thread is interrupted, the stream throws CancellationException and
   * restores the interrupt status."
   */
  @Test
  void anInterruptedConsumerOfCompletionsGetsCancellationAndKeepsItsStatus() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (FanOut<String> fan = FanOut.<String>builder().build()) {
      fan.submit(() -> "fast");
      fan.submit(() -> {
        release.await();
        return "slow";
      });
      CompletableFuture<Object[]> ended = new CompletableFuture<>();
      java.util.concurrent.atomic.AtomicInteger delivered =
          new java.util.concurrent.atomic.AtomicInteger();
      Thread consumer = Thread.ofVirtual().start(() -> {
        int seen = 0;
        try {
          for (var it = fan.completions().iterator(); it.hasNext(); it.next()) {
            seen++;
            delivered.set(seen);
          }
          ended.complete(new Object[] {null, seen, Thread.currentThread().isInterrupted()});
        } catch (Throwable e) {
          ended.complete(new Object[] {e, seen, Thread.currentThread().isInterrupted()});
        }
      });
      // Once the fast task was delivered (before, the consumer may wait for it instead).
      HoldingServer.await("the consumer waits for the slow task",
          () -> delivered.get() == 1 && (consumer.getState() == Thread.State.WAITING
              || consumer.getState() == Thread.State.TIMED_WAITING));
      consumer.interrupt();
      Object[] end = ended.get(20, TimeUnit.SECONDS);
      assertInstanceOf(CancellationException.class, end[0]);
      assertEquals(1, end[1], "the fast task was delivered first");
      assertEquals(Boolean.TRUE, end[2], "the interrupt status is restored");
      release.countDown();
      List<Result<String>> all = fan.join();
      assertEquals(List.of("fast", "slow"), all.stream().map(Result::value).toList(),
          "join() still returns all results afterwards");
      assertEquals(all, fan.join(), "join() may be called more than once");
    }
  }

  /**
   * "close() ... returns only when every task has ended ... If the closing thread is
   * interrupted, close() keeps waiting and then restores the interrupt status."
   */
  @Test
  void closeByAnInterruptedThreadStillWaitsForTheTasksThenRestoresTheStatus() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean taskEnded = new AtomicBoolean();
    FanOut<String> fan = FanOut.<String>builder().build();
    fan.submit(() -> {
      // A task that ignores interrupts: close() must wait for it anyway.
      while (true) {
        try {
          release.await();
          break;
        } catch (InterruptedException ignored) {
          // keeps waiting
        }
      }
      taskEnded.set(true);
      return "done";
    });
    CompletableFuture<boolean[]> closed = new CompletableFuture<>();
    Thread owner = Thread.ofVirtual().start(() -> {
      Thread.currentThread().interrupt();
      fan.close();
      closed.complete(new boolean[] {taskEnded.get(), Thread.currentThread().isInterrupted()});
    });
    HoldingServer.await("close() waits", () -> owner.getState() == Thread.State.WAITING
        || owner.getState() == Thread.State.TIMED_WAITING);
    assertFalse(closed.isDone());
    release.countDown();
    boolean[] end = closed.get(20, TimeUnit.SECONDS);
    assertTrue(end[0], "close() returned only once the task had ended");
    assertTrue(end[1], "the interrupt status is restored");
  }

  /** WaitGroup: "It never uses synchronized, so no virtual thread is pinned on JDK 21." */
  @Test
  void waitGroupHasNoSynchronizedMethodOrBlock() throws Exception {
    for (Method m : WaitGroup.class.getDeclaredMethods()) {
      assertFalse(Modifier.isSynchronized(m.getModifiers()), m.toString());
    }
    String code = disassemble(WaitGroup.class);
    assertTrue(code.contains("Code:") && code.contains("WaitGroup"), code);
    assertFalse(code.contains("monitorenter"), "a synchronized block in WaitGroup");
    for (Class<?> inner : WaitGroup.class.getDeclaredClasses()) {
      assertFalse(disassemble(inner).contains("monitorenter"), inner.getName());
    }
  }

  private static String disassemble(Class<?> c) throws URISyntaxException {
    Path classes = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    ToolProvider javap = ToolProvider.findFirst("javap").orElseThrow();
    StringWriter out = new StringWriter();
    int rc = javap.run(new PrintWriter(out), new PrintWriter(out), "-c", "-p", "-cp",
        classes.toString(), c.getName());
    assertEquals(0, rc, out.toString());
    return out.toString();
  }
}
