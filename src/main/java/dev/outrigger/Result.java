package dev.outrigger;

import java.util.Objects;

/**
 * The outcome of one task: the value it returned or the exception it threw. {@link FanOut}
 * returns one per task, in submission order. Immutable and thread-safe (as far as the value and
 * the exception are).
 *
 * <p>A {@code Result} is either a {@link Success} or a {@link Failure}, so a {@code switch} over
 * it is exhaustive:
 *
 * {@snippet :
 * for (Result<Post> r : FanOut.map(ids, id -> client.get("/posts/{id}", id).execute(Post.class))) {
 *   switch (r) {
 *     case Result.Success<Post> s -> show(s.value());
 *     case Result.Failure<Post> f -> log.warn("failed", f.error());
 *   }
 * }
 * }
 *
 * @param <T> the type of the value
 */
public sealed interface Result<T> permits Result.Success, Result.Failure {

  /** A successful result holding {@code value} (which may be null). */
  static <T> Result<T> success(T value) {
    return new Success<>(value);
  }

  /**
   * A failed result holding {@code error}.
   *
   * @throws NullPointerException if {@code error} is null
   */
  static <T> Result<T> failure(Throwable error) {
    return new Failure<>(error);
  }

  /** Whether the task returned normally. */
  boolean isSuccess();

  /**
   * The value the task returned (possibly null).
   *
   * @throws IllegalStateException if the task failed; its cause is {@link #error()}
   */
  T value();

  /**
   * Exactly what the task threw (never wrapped), or null when the task succeeded. A task that
   * was never started, because the batch was cancelled first, fails with a
   * {@link java.util.concurrent.CancellationException}, or a {@link DeadlineExceededException}
   * when the batch's deadline ran out first.
   */
  Throwable error();

  /**
   * The task returned {@code value}.
   *
   * @param value what the task returned, possibly null
   * @param <T> the type of the value
   */
  record Success<T>(T value) implements Result<T> {
    @Override
    public boolean isSuccess() {
      return true;
    }

    @Override
    public Throwable error() {
      return null;
    }
  }

  /**
   * The task threw {@code error}.
   *
   * @param error what the task threw, never null
   * @param <T> the type the task would have returned
   */
  record Failure<T>(Throwable error) implements Result<T> {
    /**
     * The result of a task that threw {@code error}.
     *
     * @param error what the task threw
     * @throws NullPointerException if {@code error} is null
     */
    public Failure {
      Objects.requireNonNull(error, "error");
    }

    @Override
    public boolean isSuccess() {
      return false;
    }

    @Override
    public T value() {
      throw new IllegalStateException("the task failed: " + error, error);
    }
  }
}
