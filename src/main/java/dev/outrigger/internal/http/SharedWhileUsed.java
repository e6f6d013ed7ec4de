package dev.outrigger.internal.http;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One instance of a process-wide helper (a thread, a timer) shared by every open client: the
 * first {@link #acquire()} starts it, the last {@link #release()} stops it. Thread-safe; the
 * start and stop run under no caller's lock but this one's (stop runs after it is released,
 * since it may wait).
 */
final class SharedWhileUsed<T> {
  private final ReentrantLock lock = new ReentrantLock();
  private final Supplier<T> start;
  private final Consumer<T> stop;
  private int users;
  /** Volatile: {@link #current()} is read without the lock, on any thread. */
  private volatile T current;

  SharedWhileUsed(Supplier<T> start, Consumer<T> stop) {
    this.start = start;
    this.stop = stop;
  }

  /**
   * Registers a user; the first one starts the instance. A start that throws registers no one:
   * the next {@code acquire()} tries again (a user that was never counted never releases).
   */
  void acquire() {
    lock.lock();
    try {
      if (users == 0) {
        current = start.get();
      }
      users++;
    } finally {
      lock.unlock();
    }
  }

  /** Unregisters a user; the last one stops the instance (outside the lock). */
  void release() {
    T stopping = null;
    lock.lock();
    try {
      if (users > 0 && --users == 0) {
        stopping = current;
        current = null;
      }
    } finally {
      lock.unlock();
    }
    if (stopping != null) {
      stop.accept(stopping);
    }
  }

  /** The running instance, or null when no user holds it. */
  T current() {
    return current;
  }
}
