package dev.outrigger;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Waits for a group of tasks to finish, like Go's {@code sync.WaitGroup}: {@link #add} counts
 * tasks up, {@link #done} counts one down, {@link #await} blocks until the count is zero.
 * {@link #go} does all three for a task: it counts it, runs it on a new virtual thread, and counts
 * it down when it ends (Go 1.25's {@code WaitGroup.Go}).
 *
 * {@snippet :
 * WaitGroup wg = new WaitGroup();
 * for (String id : ids) {
 *   wg.go(() -> cache.put(id, client.get("/posts/{id}", id).execute(Post.class)));
 * }
 * wg.await();
 * }
 *
 * <p>A task started with {@link #go} runs inside the {@link Deadline} scope that was current when
 * {@code go} was called, so its calls inherit the caller's deadline. An exception thrown by such a
 * task still counts it down, and then goes to the thread's uncaught exception handler (by default
 * printed to {@code System.err}); use {@link FanOut} to collect results and failures instead.
 *
 * <p>The group is reusable: once the count is back at zero, it can be counted up again; waiters
 * of the earlier round are released even if a new round starts before they wake. The count
 * starts at zero. Thread-safe and never pins a virtual thread (it holds no monitor).
 */
public final class WaitGroup {
  /*
   * The state is one long: the round ("generation") in the high 32 bits and the count in the low
   * 32 bits. Every time the count returns to zero the round increments, so a waiter that saw round
   * r waits only while the state still says (r, count > 0): a new round that starts before the
   * waiter wakes does not trap it.
   */
  private static final long COUNT_MASK = 0xFFFF_FFFFL;
  private static final long ONE_ROUND = 1L << 32;

  private final AtomicLong state = new AtomicLong();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition reachedZero = lock.newCondition();

  /** A group with a count of zero. */
  public WaitGroup() {}

  /**
   * Counts {@code n} more tasks; each must later call {@link #done()}. Call it before starting
   * the tasks (and before {@link #await}) so that a waiter cannot see a premature zero.
   *
   * @throws IllegalArgumentException if {@code n} is negative
   * @throws IllegalStateException if the count would exceed {@link Integer#MAX_VALUE}
   */
  public void add(int n) {
    if (n < 0) {
      throw new IllegalArgumentException(
          "add(n) takes a count of tasks to wait for, >= 0, but was " + n
              + "; call done() to count a task down");
    }
    while (true) {
      long s = state.get();
      long count = s & COUNT_MASK;
      if (count + n > Integer.MAX_VALUE) {
        throw new IllegalStateException(
            "WaitGroup count would exceed " + Integer.MAX_VALUE
                + " (is " + count + ", add " + n + ")");
      }
      if (state.compareAndSet(s, s + n)) {
        return;
      }
    }
  }

  /**
   * Counts one task as finished. When the count reaches zero, every waiter is released.
   *
   * @throws IllegalStateException if the count is already zero (more {@code done()} than
   *     {@code add}); the count stays zero
   */
  public void done() {
    while (true) {
      long s = state.get();
      long count = s & COUNT_MASK;
      if (count == 0) {
        throw new IllegalStateException(
            "WaitGroup.done() called more times than add(): the count would go below zero");
      }
      // The last done() of a round starts the next round, which is how waiters tell it ended.
      long next = count == 1 ? (s & ~COUNT_MASK) + ONE_ROUND : s - 1;
      if (state.compareAndSet(s, next)) {
        if (count == 1) {
          signalZero();
        }
        return;
      }
    }
  }

  /**
   * Counts a task and runs it on a new virtual thread, inside the {@link Deadline} scope current
   * on the calling thread; the task is counted down when it ends, however it ends.
   *
   * @throws NullPointerException if {@code task} is null
   */
  public void go(Runnable task) {
    Objects.requireNonNull(task, "task");
    Optional<Deadline> scope = Deadline.current();
    add(1);
    Runnable body = () -> {
      try {
        if (scope.isPresent()) {
          Deadline.within(scope.get(), () -> {
            task.run();
            return null;
          });
        } else {
          task.run();
        }
      } finally {
        done();
      }
    };
    try {
      Thread.ofVirtual().name("outrigger-waitgroup").start(body);
    } catch (Throwable e) {
      // The thread never started, so nobody else will count the task down.
      done();
      throw e;
    }
  }

  /**
   * Blocks until the count is zero (returns at once if it is). Interrupts are handled as
   * {@code CountDownLatch.await} handles them: an interrupt status already set on entry throws,
   * even when the count is zero. An interrupt that comes as the count reaches zero may lose that
   * race: the wait then returns normally, leaving the interrupt status set. An interrupt is never
   * lost: either this throws, or the status is still set when it returns.
   *
   * @throws InterruptedException if the thread's interrupt status is set on entry, or it is
   *     interrupted while waiting (before the count reached zero); the interrupt status is then
   *     cleared
   */
  public void await() throws InterruptedException {
    // Checked first, as CountDownLatch does: a thread told to stop learns it even at zero.
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    long s = state.get();
    if ((s & COUNT_MASK) == 0) {
      return;
    }
    long round = s >>> 32;
    lock.lockInterruptibly();
    try {
      while (inRound(round)) {
        reachedZero.await();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Blocks until the count is zero or {@code timeout} has passed. A zero or negative timeout
   * does not wait (as {@code CountDownLatch.await} takes it): it tells whether the count is zero.
   * Interrupts are handled as {@code CountDownLatch.await} handles them: an interrupt status
   * already set on entry throws, whatever the count and the timeout. An interrupt that comes as
   * the count reaches zero (or as the time runs out) may lose that race: the wait then returns
   * normally, leaving the interrupt status set. An interrupt is never lost: either this throws,
   * or the status is still set when it returns.
   *
   * @return true if the count reached zero, false if the time ran out first
   * @throws NullPointerException if {@code timeout} is null
   * @throws InterruptedException if the thread's interrupt status is set on entry, or it is
   *     interrupted while waiting (before the count reached zero and the time ran out); the
   *     interrupt status is then cleared
   */
  public boolean await(Duration timeout) throws InterruptedException {
    Objects.requireNonNull(timeout, "timeout");
    // Checked first, as CountDownLatch does: before the count, and before a timeout of zero.
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    long s = state.get();
    if ((s & COUNT_MASK) == 0) {
      return true;
    }
    long round = s >>> 32;
    long nanos = Deadline.saturatedNanos(timeout);
    lock.lockInterruptibly();
    try {
      while (inRound(round)) {
        if (nanos <= 0) {
          return false;
        }
        nanos = reachedZero.awaitNanos(nanos);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** The current count (for diagnostics; it may change at once). */
  public int count() {
    return (int) (state.get() & COUNT_MASK);
  }

  /** Whether the round that a waiter joined is still running (its count has not reached zero). */
  private boolean inRound(long round) {
    long s = state.get();
    return (s >>> 32) == round && (s & COUNT_MASK) != 0;
  }

  private void signalZero() {
    lock.lock();
    try {
      reachedZero.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public String toString() {
    return "WaitGroup[count=" + count() + "]";
  }
}
