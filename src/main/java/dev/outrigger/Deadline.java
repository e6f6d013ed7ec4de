package dev.outrigger;

import dev.outrigger.internal.Durations;
import dev.outrigger.internal.deadline.DeadlineHeaders;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.slf4j.LoggerFactory;

/**
 * A point in time by which work must finish, on a monotonic clock (never wall time), like Go's
 * {@code context.WithTimeout} or a gRPC deadline. Immutable and thread-safe.
 *
 * <p>{@link #within(Duration, Body)} puts a deadline in scope for a block of code: every
 * Outrigger call made inside it, on this thread or in {@link FanOut} and {@link WaitGroup} tasks
 * started inside it, uses the tighter of its own deadline and the scope's. Nested scopes can only
 * tighten. After {@code within} returns or throws, the previous scope is back.
 *
 * <p>A timeout longer than about 146 years ({@code Long.MAX_VALUE / 2} nanoseconds, such as
 * {@code Duration.ofNanos(Long.MAX_VALUE)}, a common way to write "no limit") counts as that
 * long, so that any two deadlines compare correctly and arithmetic on them never overflows.
 *
 * {@snippet :
 * String s = Deadline.within(Duration.ofMillis(300), () -> client.get("/x").execute(String.class));
 * }
 *
 * <p>Implementation note: the scope is a plain {@link ThreadLocal} set and restored in a
 * {@code try/finally}, and Outrigger's own task starters ({@code FanOut}, {@code WaitGroup.go})
 * capture it explicitly and re-establish it in the new virtual thread. {@code ScopedValue} would
 * be the natural tool but is a preview API in Java 21; an {@code InheritableThreadLocal} would
 * leak the deadline into unrelated threads created inside the scope (pool workers, OkHttp's
 * threads), so it is not used.
 */
public final class Deadline implements Comparable<Deadline> {
  private static final ThreadLocal<Deadline> SCOPE = new ThreadLocal<>();
  /**
   * Whether any scope was ever opened in this JVM. Until one is, nothing looks the thread-local
   * up: a lookup on a thread that has no thread-locals yet creates their map, which every call
   * on a fresh virtual thread (a {@code FanOut} task) would otherwise pay for nothing. A scope is
   * set and read on one thread, so that thread sees its own write of this flag.
   */
  private static volatile boolean everScoped;

  private final long deadlineNanos;
  private final LongSupplier clock;

  private Deadline(long deadlineNanos, LongSupplier clock) {
    this.deadlineNanos = deadlineNanos;
    this.clock = clock;
  }

  /**
   * A deadline {@code timeout} from now on {@link System#nanoTime()}.
   *
   * @throws IllegalArgumentException if {@code timeout} is negative
   */
  public static Deadline after(Duration timeout) {
    return after(timeout, System::nanoTime);
  }

  /**
   * A deadline {@code timeout} from now on the given monotonic nanosecond clock (for tests).
   *
   * @throws IllegalArgumentException if {@code timeout} is negative
   */
  public static Deadline after(Duration timeout, LongSupplier nanoClock) {
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(nanoClock, "nanoClock");
    if (timeout.isNegative()) {
      throw new IllegalArgumentException(
          "deadline timeout must not be negative, but was " + timeout);
    }
    long now = nanoClock.getAsLong();
    return new Deadline(now + saturatedNanos(timeout), nanoClock);
  }

  /** A deadline {@code timeout} after {@code now}, read from {@code nanoClock} by the caller. */
  static Deadline after(Duration timeout, LongSupplier nanoClock, long now) {
    return new Deadline(now + saturatedNanos(timeout), nanoClock);
  }

  /** The deadline at {@code deadlineNanos}, an instant of {@code nanoClock}. */
  static Deadline at(long deadlineNanos, LongSupplier nanoClock) {
    return new Deadline(deadlineNanos, nanoClock);
  }

  /** The deadline in scope on this thread, or null. */
  static Deadline currentOrNull() {
    return everScoped ? SCOPE.get() : null;
  }

  /** Time left, never negative: {@link Duration#ZERO} once expired. */
  public Duration remaining() {
    return Duration.ofNanos(Math.max(0, remainingNanos()));
  }

  /** Nanoseconds left; zero or negative once expired. */
  public long remainingNanos() {
    return deadlineNanos - clock.getAsLong();
  }

  /** Whether the deadline has passed: no time is left. */
  public boolean isExpired() {
    return remainingNanos() <= 0;
  }

  /**
   * The tighter (earlier) of this deadline and {@code other}; {@code other} may be null. Two
   * deadlines on different clocks ({@link #after(Duration, LongSupplier)}) are compared by the
   * time each has left on its own clock.
   */
  public Deadline min(Deadline other) {
    if (other == null) {
      return this;
    }
    return compareTo(other) > 0 ? other : this;
  }

  /**
   * Earlier first. On one clock, by the instant; on different clocks, by the time each has left
   * now on its own (their instants are not comparable numbers).
   */
  @Override
  public int compareTo(Deadline o) {
    if (clock == o.clock) {
      return Long.compare(deadlineNanos - o.deadlineNanos, 0);
    }
    return Long.compare(remainingNanos(), o.remainingNanos());
  }

  @Override
  public String toString() {
    long left = remainingNanos();
    return left <= 0 ? "Deadline[expired]" : "Deadline[" + Duration.ofNanos(left) + " left]";
  }

  /** The deadline in scope on this thread, if any. */
  public static Optional<Deadline> current() {
    return Optional.ofNullable(currentOrNull());
  }

  /**
   * Runs {@code body} with a deadline {@code timeout} from now in scope (tightened by any
   * enclosing scope) and returns its result. The body's own exception type propagates.
   *
   * @throws IllegalArgumentException if {@code timeout} is negative
   * @throws X what {@code body} throws
   */
  public static <T, X extends Throwable> T within(Duration timeout, Body<T, X> body) throws X {
    return within(after(timeout), body);
  }

  /**
   * Runs {@code body} with {@code deadline} in scope (tightened by any enclosing scope), for
   * example a deadline received from an upstream caller, and returns its result.
   *
   * @throws X what {@code body} throws
   */
  public static <T, X extends Throwable> T within(Deadline deadline, Body<T, X> body) throws X {
    Objects.requireNonNull(deadline, "deadline");
    Objects.requireNonNull(body, "body");
    if (!everScoped) {
      everScoped = true;
    }
    Deadline previous = SCOPE.get();
    SCOPE.set(deadline.min(previous));
    try {
      return body.call();
    } finally {
      if (previous == null) {
        SCOPE.remove();
      } else {
        SCOPE.set(previous);
      }
    }
  }

  /**
   * Reads a deadline received from an upstream caller: a {@code grpc-timeout} value
   * ({@code 250m}, {@code 3S}) when {@code headerName} is {@code grpc-timeout}, otherwise whole
   * milliseconds. A missing or malformed value gives an empty result (logged at DEBUG), never an
   * exception: a bad header from a caller must not fail the request it came with. A budget past
   * about 146 years (such as {@code 99999999H}, or a millisecond value that long, however many
   * digits) is capped there, as {@link #after} caps a long timeout: effectively no deadline. A
   * {@code grpc-timeout} of more than 8 digits is malformed, as gRPC's format allows at most 8.
   *
   * {@snippet :
   * // In an HttpHandler: the caller's budget, or this server's own 30 s when it sent none.
   * Deadline d = Deadline.fromHeader("X-Deadline-Ms",
   *         exchange.getRequestHeaders().getFirst("X-Deadline-Ms"))
   *     .orElse(Deadline.after(Duration.ofSeconds(30)));
   * Deadline.within(d, () -> {
   *   serve(exchange);           // your void method that may throw IOException: within rethrows it
   *   return null;
   * });
   * }
   */
  public static Optional<Deadline> fromHeader(String headerName, String value) {
    Objects.requireNonNull(headerName, "headerName");
    long nanos = DeadlineHeaders.parse(headerName, value);
    if (nanos < 0) {
      if (value != null) {
        LoggerFactory.getLogger(Deadline.class).debug(
            "ignoring malformed {} header value '{}'", headerName, value);
      }
      return Optional.empty();
    }
    return Optional.of(after(Duration.ofNanos(nanos)));
  }

  static long saturatedNanos(Duration d) {
    return Math.max(Long.MIN_VALUE / 2, Math.min(Long.MAX_VALUE / 2, Durations.saturatedNanos(d)));
  }

  /**
   * A block of code run by {@link #within}; its checked exception type propagates.
   *
   * @param <T> the result type
   * @param <X> the exception type the body may throw
   */
  @FunctionalInterface
  public interface Body<T, X extends Throwable> {
    /**
     * Runs the block.
     *
     * @return the block's result, which {@code within} returns
     * @throws X whatever the block throws, which {@code within} rethrows
     */
    T call() throws X;
  }
}
