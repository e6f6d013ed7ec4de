package dev.outrigger.internal.deadline;

import dev.outrigger.ApiException;
import dev.outrigger.Deadline;
import dev.outrigger.CallInterceptor;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.RateLimitedException;
import dev.outrigger.internal.Durations;
import dev.outrigger.internal.ExceptionAccess;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.KeepsClock;
import dev.outrigger.internal.RealCallContext;
import java.time.Duration;
import okhttp3.Response;

/**
 * The outermost policy: a call whose deadline has passed fails with
 * {@link DeadlineExceededException}, whatever it was doing when time ran out (attempting,
 * backing off, waiting for a permit); the last failure becomes the cause. The deadline itself is
 * enforced where the time is spent: each attempt (the transport's deadline watchdog cancels its
 * OkHttp call), and every wait.
 */
public final class DeadlineInterceptor implements CallInterceptor, KeepsClock {
  private final Duration defaultDeadline;

  public DeadlineInterceptor(Duration defaultDeadline) {
    this.defaultDeadline = defaultDeadline;
  }

  @Override
  public Response intercept(Chain chain) {
    RealCallContext ctx = (RealCallContext) chain.context();
    // The client read the clock when the call began: no need to read it again so soon.
    if (ctx.remainingNanos(ctx.startNanos()) <= 0) {
      throw exceeded(ctx, null, "before the call started");
    }
    try {
      return chain.proceed(chain.request());
    } catch (DeadlineExceededException e) {
      throw e;
    } catch (ApiException e) {
      // A failure that surfaces after the deadline passed is reported as the deadline: the
      // caller asked for an answer by then, and whatever broke is the cause.
      if (ctx.deadline().isExpired() && !Failures.isCancellation(e)) {
        // A refused permit is the cause, but "deadline exceeded after 4 ms of its 1 ms" alone
        // does not say the call was waiting for one.
        throw exceeded(ctx, e, e instanceof RateLimitedException r ? refusedPermit(r) : null);
      }
      throw e;
    }
  }

  /** Where a call was when a rate limit refused it, its deadline running out meanwhile. */
  private static String refusedPermit(RateLimitedException refused) {
    return refused.wouldWait() != null
        ? "while waiting for a rate-limit permit, whose wait could not fit (RateLimitedException, "
            + "the cause)"
        : "as a rate limit refused the attempt (RateLimitedException, the cause)";
  }

  /**
   * The exception for a call whose deadline ran out, with the attempts made so far. Its cause is
   * the last failure: {@code cause} (an answer or error that came too late) when given, else
   * the latest failed attempt the retry policy went past, if any.
   */
  public static DeadlineExceededException exceeded(
      RealCallContext ctx, Throwable cause, String when) {
    return build(ctx, cause != null ? cause : ctx.lastFailure(), null, when);
  }

  /**
   * {@link #exceeded} for an attempt the deadline itself cut ({@code cut}: the exception the
   * cancelled exchange threw, which says nothing of the server and would read as if someone
   * else had cancelled the call): the cause is the latest failed attempt the retry policy went
   * past, or none when no attempt failed before; {@code cut} is suppressed, and {@code when}
   * ("while attempt 1 read the response body") says where the attempt was cut.
   */
  public static DeadlineExceededException cut(RealCallContext ctx, Throwable cut, String when) {
    return build(ctx, ctx.lastFailure(), cut, when);
  }

  /** {@link #cut(RealCallContext, Throwable, String)}, not saying where the attempt was. */
  public static DeadlineExceededException cut(RealCallContext ctx, Throwable cut) {
    return cut(ctx, cut, null);
  }

  private static DeadlineExceededException build(
      RealCallContext ctx, Throwable cause, Throwable suppressed, String when) {
    long elapsed = ctx.clock().nanoTime() - ctx.startNanos();
    long budget = ctx.remainingNanos(ctx.startNanos());
    int sent = ctx.attemptsSent();
    String msg = ctx.describe() + ": deadline exceeded "
        + (when == null ? "" : when + (budget > 0 ? ", " : ": "))
        + (budget > 0 ? "after " + Durations.text(elapsed) + " of " : "") + which(ctx, budget)
        + " (" + sent + (sent == 1 ? " attempt" : " attempts") + " sent)";
    DeadlineExceededException e = new DeadlineExceededException(msg, cause, sent);
    if (suppressed != null) {
      e.addSuppressed(suppressed);
    }
    return ExceptionAccess.finish(e, sent, null);
  }

  /**
   * Which deadline ran out and what it gave the call ({@code budget}, the time left when the
   * call began): the call's own (the client's default or the request's), or that of a
   * {@code Deadline.within} scope, which may be far shorter than any the client was given and
   * would otherwise go unnamed. Looked up only on failure; the scope is the calling thread's,
   * where the chain runs.
   */
  private static String which(RealCallContext ctx, long budget) {
    boolean scope = ctx.deadline() != null && Deadline.current().orElse(null) == ctx.deadline();
    if (budget <= 0) {
      return (scope ? "its Deadline scope" : "its deadline") + " had run out "
          + (-budget >= 1_000_000 ? Durations.text(-budget) + " earlier" : "already");
    }
    return scope ? "the " + Durations.text(budget) + " its Deadline scope left it"
        : "its " + Durations.text(budget) + " deadline";
  }

  @Override
  public String toString() {
    return "Deadline[default " + defaultDeadline + "]";
  }
}
