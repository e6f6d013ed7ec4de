package dev.outrigger;

import dev.outrigger.internal.fanout.Batch;
import java.time.Duration;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A batch of tasks, each on its own virtual thread, whose results come back in submission order:
 * Go's {@code errgroup} for Java 21, with no thread pool to size. Typical tasks are HTTP calls
 * through an {@link ApiClient}.
 *
 * {@snippet :
 * try (FanOut<Post> fan = FanOut.<Post>builder().maxConcurrency(64).failFast(false).build()) {
 *   for (int id : ids) {
 *     fan.submit(() -> client.get("/posts/{id}", id).execute(Post.class));
 *   }
 *   List<Result<Post>> results = fan.join();   // results.get(i) belongs to the i-th submit
 * }
 * }
 *
 * <p>For a collection, {@link #map} is the one-line form.
 *
 * <p><b>Concurrency.</b> By default every task starts at once. With
 * {@link Builder#maxConcurrency(int) maxConcurrency(n)} at most {@code n} tasks run at a time;
 * the others wait in a queue, in submission order: a task's virtual thread is made at
 * {@link #submit} but started only when a slot frees, so 100,000 queued tasks cost no parked
 * threads, only unstarted ones (no stack; some 400 bytes each). (An {@code ApiClient} also
 * bounds the calls in flight to each host on its own.) Every task, queued or not, inherits from
 * the thread that submitted it ({@link InheritableThreadLocal}s, context class loader), as of
 * the submit.
 *
 * <p><b>Failures.</b> A task's failure is collected as a {@link Result.Failure} holding exactly
 * what it threw. With {@link Builder#failFast(boolean) failFast(true)}, the first failure cancels
 * the rest: tasks not started yet never start, running ones are interrupted (an HTTP call blocked
 * on its socket is aborted and its connection closed), and {@link #join()} throws that failure.
 * The batch's own cancellations are not a task's failure (a task that fails once the batch is
 * cancelled, even in the same instant, is never the first failure): with fail-fast, when the
 * batch deadline passes before any task failed, {@code join()} throws a
 * {@link DeadlineExceededException}, and after {@link #close()} it returns the results, the
 * cancelled tasks' failures among them. A first failure that comes once the batch deadline has
 * passed (a call ending on it, or a failure racing it) is still what {@code join()} throws, but
 * the rest are cut as by the deadline: tasks not started fail with a
 * {@code DeadlineExceededException}, and running ones keep their grace (below).
 * Without fail-fast, {@code join()} returns every result, the tasks the deadline cut short
 * holding their failures.
 *
 * <p><b>Deadlines.</b> Each task runs inside the {@link Deadline} scope that was current when it
 * was submitted, tightened by the batch's own {@link Builder#deadline(Duration) deadline}, so every
 * Outrigger call in it inherits the tighter of the two. A batch built inside a scope takes that
 * scope as (or into) its batch deadline, as Go's {@code errgroup.WithContext} derives from its
 * parent context: a task submitted later, even outside the scope, is still bound by it. When
 * the batch deadline passes, a task that has not started never starts (it fails with a
 * {@link DeadlineExceededException} without a stack trace; so does a task whose own submit scope
 * ran out before it could start), Outrigger calls still running end on their own with a
 * {@code DeadlineExceededException}, and 100 ms later
 * {@link #join()} (or the {@link #completions()} stream) interrupts whatever still runs, such as
 * code that ignores deadlines.
 *
 * <p><b>Scope.</b> {@link #close()} cancels whatever still runs and returns only when every task
 * has ended: with try-with-resources, no task outlives the block. Closing does not wait for
 * results nobody asked for; call {@link #join()} first to wait for them.
 *
 * <p>Thread-safe: tasks may be submitted from several threads (a task may submit more). A
 * {@code FanOut} is one batch; build a new one for the next.
 *
 * @param <T> the tasks' result type
 */
public final class FanOut<T> implements AutoCloseable {
  private final Batch<T> batch;

  private FanOut(Builder<T> b) {
    Deadline scope = Deadline.current().orElse(null);
    Deadline own = b.deadline == null ? null : Deadline.after(b.deadline);
    Deadline d = own == null ? scope : own.min(scope);
    this.batch = new Batch<>(b.maxConcurrency, b.failFast, d, b.progress);
  }

  /** A builder with the defaults: no concurrency bound, collect every failure, no deadline. */
  public static <T> Builder<T> builder() {
    return new Builder<>();
  }

  /**
   * Runs {@code fn} on every item, each on its own virtual thread, and returns one result per item
   * in the collection's iteration order. Failures are collected, never thrown; every task runs in
   * the caller's {@link Deadline} scope.
   *
   * {@snippet :
   * List<Result<Post>> posts =
   *     FanOut.map(ids, id -> client.get("/posts/{id}", id).execute(Post.class));
   * }
   *
   * <p>If the calling thread is interrupted while it waits, the batch is cancelled (running tasks
   * are interrupted, the others never start), {@code map} waits for the tasks to end, restores the
   * interrupt status and returns: unfinished items then hold a failure (what the interrupted task
   * threw, or a {@link CancellationException} for a task that never started). Check
   * {@link Thread#isInterrupted()} if that matters to you. For a bound, see
   * {@link #map(Collection, int, Mapper)}; for fail-fast or a deadline, use {@link #builder()}.
   *
   * @throws NullPointerException if {@code items} or {@code fn} is null
   */
  public static <E, R> List<Result<R>> map(
      Collection<? extends E> items, Mapper<? super E, ? extends R> fn) {
    return map(items, FanOut.<R>builder(), fn);
  }

  /**
   * As {@link #map(Collection, Mapper)}, with at most {@code maxConcurrency} items running at once:
   * the rest wait, in the collection's order, without a thread (and outside their calls'
   * deadlines, which start when a call does). Bound a batch through a rate-limited client this
   * way, near the rate times one call's latency, so that no call spends its deadline in line
   * for a permit.
   *
   * {@snippet :
   * List<Result<Post>> posts =
   *     FanOut.map(ids, 20, id -> client.get("/posts/{id}", id).execute(Post.class));
   * }
   *
   * @throws IllegalArgumentException if {@code maxConcurrency} is less than 1
   * @throws NullPointerException if {@code items} or {@code fn} is null
   */
  public static <E, R> List<Result<R>> map(
      Collection<? extends E> items, int maxConcurrency, Mapper<? super E, ? extends R> fn) {
    return map(items, FanOut.<R>builder().maxConcurrency(maxConcurrency), fn);
  }

  private static <E, R> List<Result<R>> map(
      Collection<? extends E> items, Builder<R> builder, Mapper<? super E, ? extends R> fn) {
    Objects.requireNonNull(items, "items");
    Objects.requireNonNull(fn, "fn");
    FanOut<R> fan = builder.build();
    try {
      for (E item : items) {
        fan.submit(() -> fn.apply(item));
      }
      return fan.join();
    } catch (InterruptedException e) {
      fan.batch.cancel(Batch.Cancel.INTERRUPTED);
      fan.batch.awaitAllUninterruptibly();
      Thread.currentThread().interrupt();
      return fan.batch.results();
    } finally {
      fan.close();
    }
  }

  /**
   * Starts {@code task} on a new virtual thread, or queues it when
   * {@link Builder#maxConcurrency(int) maxConcurrency} tasks are running. Never blocks. If the
   * batch has been cancelled (fail-fast, deadline), the task is not run and its result is a
   * failure.
   *
   * @return the task's index: its position in the list {@link #join()} returns
   * @throws NullPointerException if {@code task} is null
   * @throws IllegalStateException if this {@code FanOut} is closed
   */
  public int submit(Callable<? extends T> task) {
    return batch.submit(task);
  }

  /**
   * Waits for every task submitted so far to end and returns their results in submission order.
   * When the batch deadline passes first, cancels (100 ms later) the tasks still running and
   * waits for them to end. May be called again (after more submits, for example).
   *
   * @return one result per task, in submission order; unmodifiable
   * @throws InterruptedException if the calling thread is interrupted while waiting; the tasks
   *     keep running until {@link #close()}. Once every task has ended (with no progress
   *     listener, once every task has returned or thrown) the results are returned even with an
   *     interrupt pending, which is left set
   * @throws IllegalStateException if called from one of this FanOut's own tasks or its progress
   *     listener, where it would wait for itself
   * @throws RuntimeException with fail-fast, the first failure if it is unchecked, thrown as is
   * @throws Error with fail-fast, the first failure if it is an {@code Error}, thrown as is
   * @throws CompletionException with fail-fast, when the first failure is a checked exception:
   *     its {@link Throwable#getCause() cause} is that exception
   */
  public List<Result<T>> join() throws InterruptedException {
    if (batch.calledFromInside()) {
      throw new IllegalStateException("join() called from one of this FanOut's own tasks (or its"
          + " progress listener) would wait for itself; join from the thread that submitted the"
          + " tasks, or close() the FanOut from inside to cancel the rest");
    }
    int n = batch.awaitAll();
    Throwable first = batch.firstFailure();
    if (first != null) {
      if (first instanceof RuntimeException re) {
        throw re;
      }
      if (first instanceof Error err) {
        throw err;
      }
      throw new CompletionException("a task failed (fail-fast): " + first, first);
    }
    return batch.results(n);
  }

  /**
   * The tasks as they complete, fastest first (the channel Go code reads from): each element
   * tells the task's index and result. The stream waits for each next completion and ends once
   * every task submitted so far has been returned and has ended, so submit first, then consume.
   * As with {@link #join()}, the end comes after the progress listener has been told of every
   * task (a completion itself may come before the listener is told of it), so a listener that
   * waits for what the consumer does after the end deadlocks ({@link ProgressListener}). A
   * completion is delivered once: consume from one stream at a time. {@link #join()} still
   * returns every result afterwards (with fail-fast and a failure, it throws that failure, as
   * always).
   *
   * {@snippet :
   * fan.completions().forEach(c -> render(c.index(), c.result()));
   * }
   *
   * <p>When the batch deadline passes while the stream waits, the tasks still running are
   * cancelled, and the stream goes on with their (failed) results. If the consuming thread is
   * interrupted while waiting, the stream throws {@link CancellationException} (its cause the
   * {@link InterruptedException}) with the interrupt status restored; the batch is not cancelled.
   * A completion already there is delivered without a wait, even with an interrupt pending, and
   * so is the end once every task has ended (with no progress listener, once every task has
   * returned or thrown), the interrupt left set.
   *
   * @throws IllegalStateException if called from one of this FanOut's own tasks or its progress
   *     listener, where it would wait for itself
   */
  public Stream<Completion<T>> completions() {
    if (batch.calledFromInside()) {
      throw new IllegalStateException("completions() called from one of this FanOut's own tasks"
          + " (or its progress listener) would wait for itself; consume it from the thread that"
          + " submitted the tasks");
    }
    Iterator<Completion<T>> it = new Iterator<>() {
      private Completion<T> next;
      private boolean done;

      @Override
      public boolean hasNext() {
        if (next != null) {
          return true;
        }
        if (done) {
          return false;
        }
        Batch.Task<T> t;
        try {
          t = batch.nextCompleted();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          CancellationException ce =
              new CancellationException("interrupted while waiting for the next completion");
          ce.initCause(e);
          throw ce;
        }
        if (t == null) {
          done = true;
          return false;
        }
        next = new Completion<>(t.index(), t.result());
        return true;
      }

      @Override
      public Completion<T> next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        Completion<T> c = next;
        next = null;
        return c;
      }
    };
    return StreamSupport.stream(
        Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL), false);
  }

  /**
   * Cancels the tasks still running (interrupts them; queued ones never start) and returns when
   * every task has ended. Idempotent; later {@link #submit} calls fail. If the calling thread is
   * interrupted meanwhile, it keeps waiting and its interrupt status is restored on return. A task
   * that ignores interrupts keeps {@code close()} waiting. Called from one of this FanOut's own
   * tasks or its progress listener (the first answer wins, say), it cancels the others (not the
   * calling task, which goes on uninterrupted until the owner's {@code close()}, or the batch
   * deadline as the owner's {@code join()} enforces it) and returns at once, without waiting:
   * the owner's {@link #join()} or {@code close()} waits.
   */
  @Override
  public void close() {
    batch.close();
    try {
      if (batch.completed() < batch.submitted()) {
        batch.cancel(Batch.Cancel.CLOSED);
      }
    } finally {
      // From one of its own tasks, or its progress listener, waiting would wait for this very
      // task: cancel only; the owner's join() or close() waits for the rest. Otherwise wait, even
      // when the progress listener threw an Error while the queued tasks were cancelled: the
      // Error is passed on, but no task outlives close().
      if (!batch.calledFromInside()) {
        batch.awaitAllUninterruptibly();
      }
    }
  }

  @Override
  public String toString() {
    return "FanOut[" + batch + "]";
  }

  /**
   * One finished task, as delivered by {@link #completions()}.
   *
   * @param index the task's position in submission order (what {@link #submit} returned)
   * @param result what the task returned or threw
   * @param <T> the result type
   */
  public record Completion<T>(int index, Result<T> result) {}

  /**
   * The function {@link #map} applies to each item; it may throw any exception, which becomes
   * that item's {@link Result.Failure}.
   *
   * @param <E> the item type
   * @param <R> the result type
   */
  @FunctionalInterface
  public interface Mapper<E, R> {
    /**
     * Maps one item.
     *
     * @param item one item of the collection
     * @return the item's result, which may be null
     * @throws Exception anything; it becomes the item's {@link Result.Failure}
     */
    R apply(E item) throws Exception;
  }

  /**
   * Told after each task ends, for a progress bar. Called on the task's own thread, or, for a
   * task that never got one, on the thread that gave up on it: the one that cancelled the
   * batch, that submitted the task after the cancellation, or that failed to start its thread;
   * possibly from several threads at once, so calls may arrive
   * slightly out of order: keep the largest {@code completed}. Must be fast and must not throw:
   * an exception is ignored, the first logged with its stack trace, later ones counted and
   * logged in one line (how many, and the last one's message) when a {@link FanOut#join()},
   * {@link FanOut#close()} or {@link FanOut#completions()} stream ends, so that a listener that
   * throws for every task cannot flood the log. An {@code Error} is not swallowed: it reaches the
   * caller of the method that called the listener ({@code submit}, {@code join}, {@code close}),
   * or on a task's thread that thread's uncaught exception handler (several in one call: one of
   * them, the others suppressed into it); the batch still completes and reports every queued
   * task a cancellation gives up on, and {@link FanOut#close()} still waits for every task
   * before it throws the Error.
   *
   * <p>It must not wait for what the caller of {@link FanOut#join()}, {@link FanOut#close()} or
   * a {@link FanOut#completions()} stream does once that returns or ends (a latch counted down
   * after the stream's last element, say): they return, and the stream ends, only after the
   * listener has returned for every task, so such a wait never ends. Hand slow work to another
   * thread instead.
   */
  @FunctionalInterface
  public interface ProgressListener {
    /**
     * One more task ended.
     *
     * @param completed tasks ended so far, failures included
     * @param failed how many of those failed
     * @param total tasks submitted so far
     */
    void progress(int completed, int failed, int total);
  }

  /**
   * Configures a {@link FanOut}. Not thread-safe; {@link #build()} may be called more than once,
   * each time starting a new batch.
   *
   * @param <T> the tasks' result type
   */
  public static final class Builder<T> {
    private int maxConcurrency = Integer.MAX_VALUE;
    private boolean failFast;
    private Duration deadline;
    private ProgressListener progress;

    private Builder() {}

    /**
     * At most {@code n} tasks run at once; the rest wait in submission order without a thread.
     * Default: no bound.
     *
     * @throws IllegalArgumentException if {@code n} is less than 1
     */
    public Builder<T> maxConcurrency(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxConcurrency must be at least 1, but was " + n);
      }
      this.maxConcurrency = n;
      return this;
    }

    /**
     * Whether the first failure cancels the other tasks and makes {@link FanOut#join()} throw
     * it. Default: false (every outcome is collected).
     */
    public Builder<T> failFast(boolean failFast) {
      this.failFast = failFast;
      return this;
    }

    /**
     * A deadline for the whole batch, counted from {@link #build()} and tightened by the
     * {@link Deadline} scope current then. Default: none (only the scope's, if any).
     *
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is zero or negative
     */
    public Builder<T> deadline(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("deadline must be positive, but was " + timeout);
      }
      this.deadline = timeout;
      return this;
    }

    /**
     * Told after each task ends (see {@link ProgressListener}). Default: none.
     *
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder<T> progress(ProgressListener listener) {
      this.progress = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** A new, empty batch with these settings; its deadline starts now. */
    public FanOut<T> build() {
      return new FanOut<>(this);
    }
  }
}
