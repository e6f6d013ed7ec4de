package dev.outrigger.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.FanOut;
import dev.outrigger.Result;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every task's thread inherits from the thread that submitted the task, as a thread started at
 * submit would: a task queued behind {@code maxConcurrency} sees the submitter's
 * {@link InheritableThreadLocal}s and context class loader, not those of the task whose end freed
 * its slot (and started its thread).
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FanOutInheritedContextTest {
  private static final InheritableThreadLocal<String> TENANT = new InheritableThreadLocal<>();

  @Test
  void aQueuedTaskSeesTheSubmittersInheritableThreadLocalNotThoseOfTheTaskBeforeIt()
      throws Exception {
    CountDownLatch secondSubmitted = new CountDownLatch(1);
    TENANT.set("submitter");
    try (FanOut<String> fan = FanOut.<String>builder().maxConcurrency(1).build()) {
      fan.submit(() -> {
        String seen = TENANT.get();
        TENANT.set("first task"); // its own thread's value: no other task's business
        assertTrue(secondSubmitted.await(10, TimeUnit.SECONDS));
        return seen;
      });
      fan.submit(TENANT::get); // queued: the first task holds the one slot
      secondSubmitted.countDown();
      List<Result<String>> rs = fan.join();
      assertEquals("submitter", rs.get(0).value());
      assertEquals("submitter", rs.get(1).value());
    } finally {
      TENANT.remove();
    }
  }

  @Test
  void aQueuedTaskRunsWithTheSubmittersContextClassLoader() throws Exception {
    CountDownLatch secondSubmitted = new CountDownLatch(1);
    ClassLoader mine = new ClassLoader(getClass().getClassLoader()) {};
    ClassLoader before = Thread.currentThread().getContextClassLoader();
    Thread.currentThread().setContextClassLoader(mine);
    try (FanOut<ClassLoader> fan = FanOut.<ClassLoader>builder().maxConcurrency(1).build()) {
      fan.submit(() -> {
        Thread.currentThread().setContextClassLoader(null);
        assertTrue(secondSubmitted.await(10, TimeUnit.SECONDS));
        return null;
      });
      fan.submit(() -> Thread.currentThread().getContextClassLoader());
      secondSubmitted.countDown();
      assertEquals(mine, fan.join().get(1).value());
    } finally {
      Thread.currentThread().setContextClassLoader(before);
    }
  }
}
