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
   * threads, Okio's watchdog and those {@code alsoNotOurs} accepts, waiting up to
   * {@code within} for each to end or to show itself shared. A TaskRunner thread takes the name
   * of the queue whose task it runs ("OkHttp ConnectionPool connection closer") and its own
   * again when the task ends, so the names are read again as the wait goes on; a client's own
   * threads that run OkHttp work under such names (a dispatcher thread running a call, an
   * HTTP/2 reader) keep them, and stay counted.
   */
  public static Set<Thread> since(Set<Thread> before, Predicate<Thread> alsoNotOurs,
      Duration within) {
    Set<Thread> left = live();
    left.removeAll(before);
    long end = System.nanoTime() + within.toNanos();
    for (;;) {
      left.removeIf(t -> !t.isAlive() || t.getName().equals("OkHttp TaskRunner")
          || t.getName().equals("Okio Watchdog") || alsoNotOurs.test(t));
      if (left.isEmpty() || System.nanoTime() - end > 0) {
        return left;
      }
      LockSupport.parkNanos(20_000_000L);
    }
  }
}
