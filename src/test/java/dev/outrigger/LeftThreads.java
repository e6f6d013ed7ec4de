package dev.outrigger;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The threads a test leaves behind: alive now and not before, other than OkHttp's and Okio's
 * threads shared by every OkHttp user in the JVM (which idle out on their own).
 */
public final class LeftThreads {
  private LeftThreads() {
  }

  /** The live platform threads (virtual threads are not listed). */
  public static Set<Thread> live() {
    return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
        .collect(Collectors.toSet());
  }

  /**
   * The threads alive now and not in {@code before}, other than OkHttp's shared TaskRunner
   * threads, Okio's watchdog, the JDK's virtual-thread scheduler and those {@code alsoNotOurs}
   * accepts, waiting up to {@code within} for each to end or to show itself shared. A
   * TaskRunner thread takes the name of the task it runs ("OkHttp ConnectionPool connection
   * closer") and keeps it while it waits for its next one (TaskRunner names it back only once
   * it has none to wait for: waiting for the pool's next clean-up, it keeps it for the
   * keep-alive, 5 minutes), so a thread waiting for a task is shared whatever its name, and the
   * threads are looked at again as the wait goes on; a thread that runs OkHttp work (a
   * dispatcher thread running a call, an HTTP/2 reader) is counted.
   */
  public static Set<Thread> since(Set<Thread> before, Predicate<Thread> alsoNotOurs,
      Duration within) {
    Set<Thread> left = live();
    left.removeAll(before);
    long end = System.nanoTime() + within.toNanos();
    for (;;) {
      left.removeIf(t -> !t.isAlive() || t.getName().equals("OkHttp TaskRunner")
          || waitsForAnOkHttpTask(t) || t.getName().equals("Okio Watchdog")
          || isJdkVirtualThreadMachinery(t) || alsoNotOurs.test(t));
      if (left.isEmpty() || System.nanoTime() - end > 0) {
        return left;
      }
      LockSupport.parkNanos(20_000_000L);
    }
  }

  /**
   * Whether {@code t} belongs to the JDK's virtual-thread scheduler (carriers, pollers, the
   * unblocker): started by the first virtual thread, again after idling out, and kept for the
   * JVM, whichever test that was.
   */
  private static boolean isJdkVirtualThreadMachinery(Thread t) {
    ThreadGroup g = t.getThreadGroup();
    String group = g == null ? "" : g.getName();
    return group.equals("CarrierThreads") || group.equals("InnocuousThreadGroup");
  }

  /** Whether {@code t} is one of OkHttp's TaskRunner threads, waiting for its next task. */
  private static boolean waitsForAnOkHttpTask(Thread t) {
    for (StackTraceElement f : t.getStackTrace()) {
      if (f.getClassName().equals("okhttp3.internal.concurrent.TaskRunner")
          && f.getMethodName().equals("awaitTaskToRun")) {
        return true;
      }
    }
    return false;
  }
}
