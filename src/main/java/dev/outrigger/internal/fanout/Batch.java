package dev.outrigger.internal.fanout;

import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.FanOut;
import dev.outrigger.Result;
import dev.outrigger.internal.FirstFailure;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The machinery behind {@link FanOut}: tasks, their virtual threads, the concurrency bound,
 * cancellation and waiting. Thread-safe.
 *
 * <p>How it works:
 *
 * <ul>
 *   <li><b>Bound without parked threads.</b> {@code submit} makes the task's virtual thread
 *       (there, so that it inherits from the submitter) and starts it at once if a slot is free
 *       and no task is queued; otherwise it appends the task to a FIFO {@code pending} queue and
 *       calls {@link #drain()}, which starts queued tasks' threads while
 *       {@code running < maxConcurrency}. A task's thread, when it ends, gives its slot back and
 *       drains again; so does the starter of a thread that fails to start (out of memory), whose
 *       task fails with the reason. Both sides write first (queue / counter) and check the other
 *       second, so one of them always sees the other: no task is stranded in the queue, and a
 *       queued task costs a small object and an unstarted thread (no stack), not a parked thread.
 *   <li><b>Completion.</b> Each task completes exactly once (CAS on its result), either on its
 *       own thread or, when it never started, on the thread that cancelled the batch. Completing
 *       publishes the result, appends the task to the completion-order queue, calls the progress
 *       listener, and only then counts the task as ended, so that {@code join()},
 *       {@code close()} and the end of the completion stream happen after every side effect of
 *       every task.
 *   <li><b>Cancellation</b> (first failure with fail-fast, {@code close()}, the batch deadline, an
 *       interrupted {@code map}): the first reason wins; running threads are interrupted (which
 *       closes the socket of a blocked HTTP call), pending tasks complete as "not started". A
 *       thread registers itself as active before it checks for cancellation, and the canceller
 *       sets the reason before it walks the active set, so a starting task either sees the
 *       reason or gets interrupted.
 *   <li><b>Deadline.</b> Each task runs inside {@code Deadline.within(d)} where {@code d} is the
 *       tighter of the batch deadline and the scope current at {@code submit}. A waiter
 *       ({@code join}, the completion stream) cancels the batch when the batch deadline passes;
 *       there is no timer thread. A queued task that finds the deadline passed as it starts
 *       cancels the queue for it, but leaves the running tasks their grace, for the waiter.
 * </ul>
 *
 * @param <T> the tasks' result type
 */
public final class Batch<T> {
  private static final Logger LOG = LoggerFactory.getLogger(FanOut.class);
  private static final long ONE_COMPLETED = 1L << 32;

  /**
   * How long after the batch deadline a waiter lets running tasks end by themselves before it
   * interrupts them. Outrigger calls in those tasks carry the same deadline and end on it with a
   * {@link DeadlineExceededException}; interrupting at the same instant would race with that and
   * turn the clear "deadline exceeded" into a "cancelled". Tasks that ignore the deadline are cut
   * this much later.
   */
  public static final long DEADLINE_GRACE_NANOS = 100_000_000L;

  private final int maxConcurrency;
  private final boolean failFast;
  private final Deadline deadline;
  private final FanOut.ProgressListener progress;

  /* Guards tasks, closed, and the allEnded condition. Never held while running user code. */
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition allEnded = lock.newCondition();
  private final ArrayList<Task<T>> tasks = new ArrayList<>();
  /**
   * Written under {@link #lock}; volatile so that a failure completing can tell, without it,
   * that close() has begun ({@link #complete}).
   */
  private volatile boolean closed;
  private volatile int submitted;

  private final ConcurrentLinkedQueue<Task<T>> pending = new ConcurrentLinkedQueue<>();
  /**
   * How many tasks {@link #pending} holds, counted up before each add and down after each poll
   * (so never below the truth for long, and never negative): the queue's own size() walks it.
   */
  private final AtomicInteger queuedCount = new AtomicInteger();
  private final AtomicInteger running = new AtomicInteger();
  private final Set<Task<T>> active = ConcurrentHashMap.newKeySet();
  private final AtomicReference<Cancel> cancel = new AtomicReference<>();
  /** Set once a cancellation from outside has interrupted every task running (none spared). */
  private volatile boolean noneSpared;
  private final AtomicReference<Throwable> firstFailure = new AtomicReference<>();

  /* completed in the high 32 bits, failed in the low 32: one consistent snapshot for progress. */
  private final AtomicLong counts = new AtomicLong();
  private final AtomicInteger ended = new AtomicInteger();
  /**
   * Waiters in {@link #awaitLastSteps}, which {@link #ended()} wakes at every end, not only at
   * the last. Read by each task's end but the last; written only by an interrupted wait.
   */
  private final AtomicInteger lastStepsWaiters = new AtomicInteger();
  private final LinkedBlockingQueue<Task<T>> completionOrder = new LinkedBlockingQueue<>();
  private final AtomicInteger delivered = new AtomicInteger();

  /*
   * A listener that throws for every task must not flood the log (10,000 tasks: 10,000 stack
   * traces): the first is logged with its trace, the others are counted and told in one line,
   * with the last one's message, when a wait for the batch ends. Touched only when it throws.
   */
  private final AtomicInteger listenerFailures = new AtomicInteger();
  private final AtomicInteger listenerFailuresTold = new AtomicInteger(1);
  private volatile RuntimeException lastListenerFailure;

  /** Tests only: run by {@link #cancel} once it has published its reason, before anything else. */
  Runnable afterCancelPublished;
  /** Starts a task's thread; tests replace it, to throw as Thread.start does out of memory. */
  Consumer<Thread> starter = Thread::start;

  /**
   * @param maxConcurrency tasks running at once, at least 1 ({@link Integer#MAX_VALUE}: no bound)
   * @param failFast whether the first failure cancels the rest
   * @param deadline the batch's deadline, or null for none
   * @param progress called after each task ends, or null
   */
  public Batch(
      int maxConcurrency, boolean failFast, Deadline deadline, FanOut.ProgressListener progress) {
    this.maxConcurrency = maxConcurrency;
    this.failFast = failFast;
    this.deadline = deadline;
    this.progress = progress;
  }

  /** Adds a task; returns its index. */
  public int submit(Callable<? extends T> body) {
    Objects.requireNonNull(body, "task");
    Optional<Deadline> scope = Deadline.current();
    Deadline d = deadline == null ? scope.orElse(null) : deadline.min(scope.orElse(null));
    Task<T> task;
    lock.lock();
    try {
      if (closed) {
        throw new IllegalStateException("this FanOut is closed; submit tasks before close()");
      }
      task = new Task<>(tasks.size(), body, d);
      tasks.add(task);
      submitted = tasks.size();
    } finally {
      lock.unlock();
    }
    Cancel c = cancel.get();
    if (c != null) {
      complete(task, Result.failure(c.notStarted(task.index)));
      return task.index;
    }
    try {
      // Made here, on the submitting thread, even for a task that waits for a slot: a thread
      // inherits as it is made, so the task sees the submitter's inheritable thread-locals and
      // context class loader, not those of whichever thread starts it (the task whose end freed
      // the slot, or another submitter). Named as it starts: a queued task holds no name.
      task.thread = Thread.ofVirtual().unstarted(() -> run(task));
    } catch (Throwable e) {
      // No thread (out of memory): the task fails with the reason.
      complete(task, Result.failure(e));
      return task.index;
    }
    if (pending.isEmpty() && takeSlot()) {
      // A free slot and nobody queued ahead: start it here, past the queue.
      Throwable notStarted = start(task);
      if (notStarted != null) {
        // Its slot is free again, and a task queued meanwhile found none: drain for it, even if
        // the progress listener throws an Error for this one (thrown first, the drain's
        // suppressed into it).
        FirstFailure listenerErrors = new FirstFailure();
        try {
          complete(task, Result.failure(notStarted));
        } catch (Error e) {
          listenerErrors.add(e);
        }
        try {
          drain();
        } catch (Error e) {
          listenerErrors.add(e);
        }
        listenerErrors.rethrow();
      }
    } else {
      queuedCount.incrementAndGet();
      pending.add(task);
      drain();
    }
    return task.index;
  }

  /** Takes a running slot if one is free. */
  private boolean takeSlot() {
    while (true) {
      int r = running.get();
      if (r >= maxConcurrency) {
        return false;
      }
      if (running.compareAndSet(r, r + 1)) {
        return true;
      }
    }
  }

  /**
   * Starts pending tasks while slots are free. A task whose thread fails to start fails with the
   * reason and the loop goes on, even if the progress listener throws an Error for it (thrown once
   * the loop is done): left in the queue, the rest would wait for a slot nobody hands on.
   */
  private void drain() {
    FirstFailure listenerErrors = null; // made only if the listener throws
    while (!pending.isEmpty() && takeSlot()) {
      Task<T> task = pending.poll();
      if (task == null) {
        // Someone else took the last one; give the slot back and look again.
        running.decrementAndGet();
        continue;
      }
      queuedCount.decrementAndGet();
      Throwable notStarted = start(task);
      if (notStarted != null) {
        try {
          complete(task, Result.failure(notStarted));
        } catch (Error e) {
          if (listenerErrors == null) {
            listenerErrors = new FirstFailure();
          }
          listenerErrors.add(e);
        }
      }
    }
    if (listenerErrors != null) {
      listenerErrors.rethrow();
    }
  }

  /**
   * Starts the thread made for {@code task} at submit, in a slot taken for it. When the thread
   * cannot start (out of memory, VM shutting down), gives the slot back and returns the reason,
   * for the caller to fail the task with and to drain the queue for the slot; otherwise null.
   */
  private Throwable start(Task<T> task) {
    Thread t = task.thread;
    try {
      t.setName("outrigger-fanout-" + task.index);
      starter.accept(t);
      return null;
    } catch (Throwable e) {
      task.thread = null;
      running.decrementAndGet();
      return e;
    }
  }

  private void run(Task<T> task) {
    INSIDE.set(this);
    active.add(task);
    task.state.set(Task.RUNNING);
    // An Error the progress listener threw while this task's cancel finished the queue: thrown
    // once this task is complete, or its end would never be counted and join() would wait
    // for good.
    Error listenerError = null;
    // The Error this task's thread passes on, if any: an Error the drain below throws (the
    // listener's, for a queued task whose thread failed to start) is suppressed into it.
    Error thrown = null;
    try {
      Cancel c = cancel.get();
      Result<T> result;
      if (c != null) {
        result = Result.failure(c.notStarted(task.index));
      } else if (task.deadline != null && task.deadline.isExpired()) {
        // The task's deadline is the tighter of the batch's and its submit scope's: say which.
        Cancel why = deadline != null && deadline.isExpired() ? Cancel.DEADLINE : Cancel.SCOPE;
        if (why == Cancel.DEADLINE) {
          // The batch's deadline, found before a waiter's: cancel for it, so that the queue
          // fails as the deadline's and this task is no failure of its own (with fail-fast it
          // cancelled the rest as "an earlier task failed" and interrupted the running tasks
          // before their grace). Running tasks are left to the waiter, as if it had cancelled.
          try {
            cancel(Cancel.DEADLINE);
          } catch (Error e) {
            listenerError = e;
          }
        }
        result = Result.failure(why.notStarted(task.index));
      } else {
        result = call(task);
      }
      task.finishRunning();
      try {
        complete(task, result, false);
      } catch (Error e) {
        if (listenerError != null && listenerError != e) {
          e.addSuppressed(listenerError);
        }
        throw e;
      }
      if (listenerError != null) {
        throw listenerError;
      }
    } catch (Error e) {
      thrown = e;
      throw e;
    } finally {
      task.finishRunning();
      INSIDE.remove();
      active.remove(task);
      running.decrementAndGet();
      try {
        drain();
      } catch (Error e) {
        if (thrown == null) {
          throw e;
        }
        if (thrown != e) {
          thrown.addSuppressed(e);
        }
      } finally {
        // Finished: nothing interrupts it any more, and a batch of 100,000 tasks must not keep
        // 100,000 dead threads reachable. Cleared here, just before the end is counted, for an
        // interrupted wait to tell this task's end from another's (awaitLastSteps).
        task.thread = null;
        // Counted last, so join() and close() return once this thread has done its part (its
        // slot given back, the next task started), not while it still runs the batch's code.
        if (task.endsUncounted) {
          ended();
        }
      }
    }
  }

  private static <T> Result<T> call(Task<T> task) {
    Callable<? extends T> body = task.body;
    try {
      T value = task.deadline == null ? body.call() : Deadline.within(task.deadline, body::call);
      return Result.success(value);
    } catch (Throwable e) {
      return Result.failure(e);
    }
  }

  private void complete(Task<T> task, Result<T> result) {
    complete(task, result, true);
  }

  /**
   * Completes {@code task} with {@code result} unless it has completed already, and calls the
   * progress listener. With {@code countEnded} false the task's own thread counts it as ended
   * later, if this set {@link Task#endsUncounted} (even if the listener then threw).
   */
  private void complete(Task<T> task, Result<T> result, boolean countEnded) {
    if (!task.complete(result)) {
      return;
    }
    task.endsUncounted = !countEnded;
    boolean failure = !result.isSuccess();
    // Read before the task counts as completed: a close() that begins after the count may find
    // every task completed and cancel nothing, and this failure, which close() did not cause,
    // must then still be the first (below).
    boolean closing = failure && failFast && closed;
    long c = counts.addAndGet(failure ? ONE_COMPLETED + 1 : ONE_COMPLETED);
    completionOrder.add(task);
    // The listener may run on a thread of the caller's (the one that cancelled or submitted):
    // while it runs, that thread too counts as inside this batch.
    Batch<?> outer = progress == null ? null : INSIDE.get();
    // An Error the listener threw for a queued task this failure's cancellation gave up on:
    // passed on once the listener has been told of this task too.
    Error cancelError = null;
    try {
      // In the try: the cancellation may pass on a listener's Error, and the task still counts.
      // A failure completing once a cancellation is published is that cancellation's doing (the
      // task found the batch cancelled, or was interrupted): never the first failure, even in
      // the instant before the canceller takes the slot for itself (as StructuredTaskScope
      // ignores what completes after its shutdown). Nor once close() has begun: it marks the
      // batch closed before it publishes its cancellation, and a failure in between is its doing
      // too (a task's submit it refused, a call its caller's close() cut), not one to throw from
      // join() after close(). Read on the failure path only.
      if (failure && failFast && cancel.get() == null && !closing
          && firstFailure.compareAndSet(null, result.error())) {
        // Once the batch deadline has passed, the deadline cuts the rest, not this failure (a
        // call ending on that deadline, or a failure racing it): the queue fails as the
        // deadline's, and the tasks running keep their grace to end on it by themselves. This
        // failure stays join()'s. A clock reading on the first failure only.
        try {
          cancel(deadline != null && deadline.isExpired()
              ? Cancel.DEADLINE : Cancel.failed(result.error()));
        } catch (Error e) {
          cancelError = e;
        }
      }
      if (progress != null) {
        INSIDE.set(this);
        progress.progress((int) (c >>> 32), (int) c, submitted);
      }
    } catch (RuntimeException e) {
      listenerThrew(e);
    } catch (Error e) {
      if (cancelError != null && cancelError != e) {
        e.addSuppressed(cancelError);
      }
      throw e;
    } finally {
      if (progress != null) {
        if (outer == null) {
          INSIDE.remove();
        } else {
          INSIDE.set(outer);
        }
      }
      // Counted even if the listener threw an Error, or join() and close() would wait forever.
      if (countEnded) {
        ended();
      }
    }
    if (cancelError != null) {
      throw cancelError;
    }
  }

  private void listenerThrew(RuntimeException e) {
    if (listenerFailures.incrementAndGet() == 1) {
      LOG.warn("FanOut progress listener threw; ignored (if it throws again, the times are"
          + " counted and logged in one line when the batch is joined or closed)", e);
    } else {
      lastListenerFailure = e;
    }
  }

  /** Logs, in one line, how many listener failures went unlogged since the last such line. */
  private void tellListenerFailures() {
    int told = listenerFailuresTold.get();
    int n = listenerFailures.get();
    if (n > told && listenerFailuresTold.compareAndSet(told, n)) {
      LOG.warn("FanOut progress listener threw {} more times, ignored and not logged one by one"
          + " (the first is logged above with its stack trace); the last: {}", n - told,
          String.valueOf(lastListenerFailure));
    }
  }

  /**
   * Counts one task as ended, waking join() and close() at the last, and every end while a
   * waiter waits for the last steps of fewer tasks than were submitted. The waiter counts itself
   * in before it reads {@link #ended} and the tasks' threads, and this reads the waiters after
   * counting the end (a task's own thread clears its {@link Task#thread} before): one of the two
   * sees the other, so no wake-up is lost.
   */
  private void ended() {
    if (ended.incrementAndGet() == submitted || lastStepsWaiters.get() > 0) {
      lock.lock();
      try {
        allEnded.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  private long leftWithGrace() {
    long r = deadline.remainingNanos();
    return r > Long.MAX_VALUE - DEADLINE_GRACE_NANOS ? Long.MAX_VALUE : r + DEADLINE_GRACE_NANOS;
  }

  /**
   * Whether the calling thread is running one of this batch's tasks or its progress listener:
   * a wait there for every task to end would wait for itself.
   */
  public boolean calledFromInside() {
    return INSIDE.get() == this;
  }

  /** {@link #firstFailure}'s place taken by a cancellation that is no task's failure. */
  private static final Throwable NO_FAILURE = new Throwable("no failure", null, false, false) {};
  /** The batch whose task or listener the current thread runs, if any. */
  private static final ThreadLocal<Batch<?>> INSIDE = new ThreadLocal<>();

  /** Cancels the batch for {@code reason} unless it is already cancelled. */
  public void cancel(Cancel reason) {
    if (!cancel.compareAndSet(null, reason)) {
      // Cancelled already. A task that cancelled the batch itself (close() from inside) was
      // spared then; a later cancellation (the owner's close(), the batch deadline) ends it too.
      if (!calledFromInside()) {
        for (Task<T> t : active) {
          t.interrupt(); // once at most per task: a no-op for those interrupted already
        }
        noneSpared = true;
      }
      return;
    }
    Runnable hook = afterCancelPublished;
    if (hook != null) {
      hook.run();
    }
    if (failFast && reason.cause() == null) {
      // Not a task's failure: what the cancellation makes tasks throw is not "the first failure".
      firstFailure.compareAndSet(null, reason.deadline()
          ? new DeadlineExceededException("the batch deadline ran out", null, 0)
          : NO_FAILURE);
    }
    boolean inside = calledFromInside();
    // The batch deadline found by a task about to start: the tasks running keep their grace
    // (DEADLINE_GRACE_NANOS), after which a waiter's cancellation interrupts them.
    if (!(reason.deadline() && inside)) {
      Thread self = Thread.currentThread();
      for (Task<T> t : active) {
        if (t.thread != self) {
          t.interrupt();
        }
      }
    }
    if (!inside) {
      noneSpared = true;
    }
    // Every queued task completes, even if the progress listener throws an Error for one: left
    // in the queue, the rest would wait for a thread, and close() would not wait for them.
    FirstFailure listenerErrors = new FirstFailure();
    for (Task<T> t; (t = pending.poll()) != null; ) {
      queuedCount.decrementAndGet();
      t.thread = null; // never to start: let the unstarted thread go
      try {
        complete(t, Result.failure(reason.notStarted(t.index)));
      } catch (Error e) {
        listenerErrors.add(e);
      }
    }
    listenerErrors.rethrow();
  }

  /**
   * Waits until every submitted task has ended; when the batch deadline (and its grace) passes
   * first with a task not yet completed, cancels the batch and keeps waiting for the interrupted
   * tasks to end.
   *
   * <p>An interrupt (pending, or while waiting) throws, unless there is no progress listener and
   * every task has completed: what their threads have left then is the batch's own last steps
   * (a slot given back), no wait for the caller's code, so the wait goes on for those tasks
   * (not for one another thread submits meanwhile) and the interrupt status is restored on
   * return, as when every task has ended.
   *
   * @return how many tasks had been submitted (and had all ended) when the wait ended: what
   *     {@link #results(int)} may return, whatever is submitted meanwhile
   */
  public int awaitAll() throws InterruptedException {
    try {
      return awaitEnded();
    } catch (InterruptedException e) {
      // Read completed before submitted: a task counted there was submitted.
      int n;
      if (progress != null || completed() < (n = submitted)) {
        throw e;
      }
      awaitLastSteps(n);
      Thread.currentThread().interrupt();
      return n;
    }
  }

  /**
   * Waits, ignoring interrupts, until the first {@code n} tasks, all completed, have ended: their
   * threads' last steps, never a task submitted since (by another thread), whose code may run for
   * long. Not only until {@code n} ends are counted: a task submitted since may end first, so it
   * also waits for each of those tasks' own threads to clear {@link Task#thread}, just before
   * they count their ends. While it waits, {@link #ended()} signals at every end, not only once
   * every task submitted has ended. The caller restores the interrupt status.
   */
  private void awaitLastSteps(int n) {
    lastStepsWaiters.incrementAndGet();
    lock.lock();
    try {
      for (int i = 0; i < n; i++) {
        Task<T> t = tasks.get(i);
        while (t.thread != null) {
          allEnded.awaitUninterruptibly();
        }
      }
      while (ended.get() < n) {
        allEnded.awaitUninterruptibly();
      }
    } finally {
      lock.unlock();
      lastStepsWaiters.decrementAndGet();
    }
  }

  private int awaitEnded() throws InterruptedException {
    while (true) {
      boolean expired = false;
      int n;
      // Nothing to wait for: return what is there, even with an interrupt pending (as
      // Future.get() on a done future does); lockInterruptibly() would throw it and lose them.
      // Read ended before submitted, as the loop below does: a task counted there was submitted.
      int e = ended.get();
      if (e >= (n = submitted)) {
        if (progress != null) {
          tellListenerFailures();
        }
        return n;
      }
      lock.lockInterruptibly();
      try {
        while (ended.get() < (n = submitted)) {
          long left;
          if (deadline == null || noneSpared) {
            allEnded.await();
          } else if ((left = leftWithGrace()) > 0) {
            allEnded.awaitNanos(left);
          } else if (completed() < submitted) {
            // Read completed before submitted: a task counted there was submitted.
            expired = true;
            break;
          } else {
            // Every task has completed, and one submitted from now on finds the deadline passed
            // and never runs: what is left is their threads' last steps (the progress listener's
            // call among them), which the cut has nothing to interrupt in. Cancelling would only
            // make a fail-fast join() throw the deadline for a batch whose every task beat it.
            allEnded.await();
          }
        }
      } finally {
        lock.unlock();
      }
      if (!expired) {
        if (progress != null) {
          tellListenerFailures();
        }
        return n;
      }
      // Outside the lock: cancelling completes pending tasks, which calls the progress listener.
      cancel(Cancel.DEADLINE);
    }
  }

  /** Like {@link #awaitAll()} but ignores interrupts, restoring the interrupt status after. */
  public void awaitAllUninterruptibly() {
    boolean interrupted = false;
    while (true) {
      try {
        awaitAll();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** Marks the batch closed: later submits fail. */
  public void close() {
    lock.lock();
    try {
      closed = true;
    } finally {
      lock.unlock();
    }
  }

  /** The first failure when fail-fast, or null. */
  public Throwable firstFailure() {
    Throwable f = failFast ? firstFailure.get() : null;
    return f == NO_FAILURE ? null : f;
  }

  /** Every task's result in submission order; call after {@link #awaitAll()}. */
  public List<Result<T>> results() {
    return results(Integer.MAX_VALUE);
  }

  /**
   * The results of the first {@code n} tasks submitted, in submission order: those
   * {@link #awaitAll()} saw end (a task submitted after it returned may not have ended yet).
   */
  public List<Result<T>> results(int n) {
    List<Task<T>> snapshot;
    lock.lock();
    try {
      snapshot = new ArrayList<>(tasks.subList(0, Math.min(n, tasks.size())));
    } finally {
      lock.unlock();
    }
    List<Result<T>> out = new ArrayList<>(snapshot.size());
    for (Task<T> t : snapshot) {
      Result<T> r = t.result();
      if (r == null) {
        throw new IllegalStateException("task " + t.index + " has not ended");
      }
      out.add(r);
    }
    return Collections.unmodifiableList(out);
  }

  /**
   * The next task in completion order, waiting for it if needed; null once every task submitted
   * so far has been returned and has ended (as {@link #awaitAll()} waits), so that the end comes
   * after every progress listener call. When the batch deadline passes while waiting, cancels
   * the batch.
   */
  public Task<T> nextCompleted() throws InterruptedException {
    while (true) {
      int d = delivered.get();
      if (d >= submitted) {
        // A task is handed over before the listener is told of it: end only once every task
        // has ended, after its listener call, or a caller that reads what the listener recorded
        // once the stream ends could miss the last report. awaitAll() tells listener failures.
        if (d >= awaitAll()) {
          return null;
        }
        // Tasks submitted meanwhile (by a task): deliver them too.
      } else if (delivered.compareAndSet(d, d + 1)) {
        break;
      }
    }
    try {
      // A completion already there is delivered even with an interrupt pending: take() and
      // poll(timeout) would throw it before looking.
      Task<T> ready = completionOrder.poll();
      if (ready != null) {
        return ready;
      }
      while (true) {
        Task<T> t;
        if (deadline == null || noneSpared) {
          t = completionOrder.take();
        } else {
          long left = leftWithGrace();
          t = left <= 0 ? completionOrder.poll() : completionOrder.poll(left, TimeUnit.NANOSECONDS);
          if (t == null && leftWithGrace() <= 0) {
            cancel(Cancel.DEADLINE);
          }
        }
        if (t != null) {
          return t;
        }
      }
    } catch (InterruptedException | RuntimeException | Error e) {
      // Not delivered after all (an interrupt, or the progress listener's Error passed on by the
      // deadline's cancellation): give the reservation back, or the stream would end one early.
      delivered.decrementAndGet();
      throw e;
    }
  }

  public int submitted() {
    return submitted;
  }

  public int completed() {
    return (int) (counts.get() >>> 32);
  }

  public int failed() {
    return (int) counts.get();
  }

  public int running() {
    return active.size();
  }

  public int queued() {
    return queuedCount.get();
  }

  public boolean cancelled() {
    return cancel.get() != null;
  }

  @Override
  public String toString() {
    long c = counts.get();
    return "submitted=" + submitted + ", running=" + active.size()
        + ", queued=" + queuedCount.get() + ", completed=" + (c >>> 32) + ", failed=" + (int) c
        + ", maxConcurrency=" + (maxConcurrency == Integer.MAX_VALUE ? "unbounded" : maxConcurrency)
        + ", failFast=" + failFast + (deadline == null ? "" : ", " + deadline)
        + (cancel.get() == null ? "" : ", cancelled");
  }

  /**
   * One submitted task. Its {@code state} makes interrupts safe, as in {@code FutureTask}: the
   * canceller interrupts only a task still RUNNING (CAS to INTERRUPTING), and a task whose code
   * has ended (CAS to FINISHED) waits out an interrupt in progress and clears it, so no interrupt
   * escapes the task's own code into the progress listener.
   */
  public static final class Task<T> {
    static final int NEW = 0;
    static final int RUNNING = 1;
    static final int INTERRUPTING = 2;
    static final int INTERRUPTED = 3;
    static final int FINISHED = 4;

    final int index;
    final Deadline deadline;
    volatile Callable<? extends T> body;
    volatile Thread thread;
    /**
     * Completed by its own thread, which counts it as ended only after its bookkeeping: read
     * and written by that thread alone.
     */
    boolean endsUncounted;
    final AtomicInteger state = new AtomicInteger(NEW);
    private final AtomicReference<Result<T>> result = new AtomicReference<>();

    Task(int index, Callable<? extends T> body, Deadline deadline) {
      this.index = index;
      this.body = body;
      this.deadline = deadline;
    }

    void interrupt() {
      if (state.compareAndSet(RUNNING, INTERRUPTING)) {
        Thread t = thread;
        if (t != null) {
          t.interrupt();
        }
        state.set(INTERRUPTED);
      }
    }

    /** Called on the task's thread once its code has ended; idempotent. */
    void finishRunning() {
      int s = state.get();
      if (s == FINISHED || state.compareAndSet(RUNNING, FINISHED)) {
        return;
      }
      while (state.get() == INTERRUPTING) {
        // The canceller is inside Thread.interrupt (which may block on I/O): yield, which lets
        // a virtual thread give its carrier back, rather than spin on it.
        Thread.yield();
      }
      Thread.interrupted();
      state.set(FINISHED);
    }

    boolean complete(Result<T> r) {
      if (!result.compareAndSet(null, r)) {
        return false;
      }
      body = null; // let the closure (and what it captured) go
      return true;
    }

    public int index() {
      return index;
    }

    /** The task's result, or null while it has not completed. */
    public Result<T> result() {
      return result.get();
    }
  }

  /** Why a batch was cancelled; says so in the failure of every task that never started. */
  public record Cancel(String why, Throwable cause, boolean deadline) {
    public static final Cancel CLOSED = new Cancel("the FanOut was closed", null, false);
    public static final Cancel DEADLINE = new Cancel("the batch deadline ran out", null, true);
    /** Never cancels a batch: why a task whose own submit scope ran out was not started. */
    static final Cancel SCOPE =
        new Cancel("the deadline of the scope it was submitted in ran out", null, true);
    public static final Cancel INTERRUPTED =
        new Cancel("the thread waiting for the batch was interrupted", null, false);

    static Cancel failed(Throwable first) {
      return new Cancel("an earlier task failed (fail-fast)", first, false);
    }

    Throwable notStarted(int index) {
      String message = "task " + index + " was not started: " + why;
      if (deadline) {
        return new NotStartedInTime(message);
      }
      CancellationException e = new NotStarted(message);
      if (cause != null) {
        e.initCause(cause);
      }
      return e;
    }
  }

  /**
   * A task that never started: without a stack trace, which would be the canceller's and say
   * nothing of the task, and would cost a trace per task (100,000 for a cancelled batch of
   * 100,000 queued tasks, each kept in its result).
   */
  static final class NotStarted extends CancellationException {
    private static final long serialVersionUID = 1L;

    NotStarted(String message) {
      super(message);
    }

    @Override
    public Throwable fillInStackTrace() {
      return this;
    }
  }

  /**
   * A task the deadline kept from starting: a {@link DeadlineExceededException} without a stack
   * trace, for the reasons {@link NotStarted} has none (a batch deadline passing over 100,000
   * queued tasks made 100,000 traces of the waiter that cancelled them, over 100 MB).
   */
  static final class NotStartedInTime extends DeadlineExceededException {
    private static final long serialVersionUID = 1L;

    NotStartedInTime(String message) {
      super(message, null, 0);
    }

    @Override
    public Throwable fillInStackTrace() {
      return this;
    }
  }
}
