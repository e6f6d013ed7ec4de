package dev.outrigger.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.outrigger.CircuitBreaker.State;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A host among the first {@code maxHosts} is tagged as itself, never {@code other}, even when
 * its first events come on several threads at once as the last slot goes: they take one slot.
 */
class BoundedValuesRaceTest {
  private static final int THREADS = 8;

  @Test
  void threadsAdmittingTheSameNewValueAtOnceAllGetIt() throws Exception {
    for (int round = 0; round < 500; round++) {
      BoundedValues hosts = new BoundedValues(1);
      List<String> got = race(() -> hosts.bound("api:443"));
      assertEquals(List.of("api:443"), got.stream().distinct().toList(), "round " + round);
      assertEquals("other", hosts.bound("b:443"), "the bound still holds");
    }
  }

  @Test
  void breakersOfOneKeyOpeningAtOnceAreAllCountedUnderTheirKey() throws Exception {
    // Eight clients sharing the instance, each with its breaker of the key, open at once.
    for (int round = 0; round < 500; round++) {
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      OutriggerMetrics metrics = OutriggerMetrics.builder(registry).maxHosts(1).build();
      race(() -> {
        metrics.breakerTransition("api:443", State.CLOSED, State.OPEN);
        return "";
      });
      assertEquals(THREADS, registry.find("outrigger.breaker.transitions")
          .tag("breaker", "api:443").counter().count(), "round " + round);
      assertNull(registry.find("outrigger.breaker.transitions").tag("breaker", "other")
          .counter(), "round " + round);
    }
  }

  private static List<String> race(java.util.concurrent.Callable<String> task)
      throws Exception {
    CyclicBarrier start = new CyclicBarrier(THREADS);
    ConcurrentLinkedQueue<String> got = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Throwable> failed = new ConcurrentLinkedQueue<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < THREADS; i++) {
      threads.add(Thread.ofPlatform().start(() -> {
        try {
          start.await(10, TimeUnit.SECONDS);
          got.add(task.call());
        } catch (Throwable t) {
          failed.add(t);
        }
      }));
    }
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(30));
    }
    assertEquals(List.of(), List.copyOf(failed));
    assertEquals(THREADS, got.size());
    return List.copyOf(got);
  }
}
