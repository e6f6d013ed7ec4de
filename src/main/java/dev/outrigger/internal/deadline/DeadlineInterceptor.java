package dev.outrigger.internal.deadline;

import dev.outrigger.ApiException;
import dev.outrigger.CallInterceptor;
import dev.outrigger.DeadlineExceededException;
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
        throw exceeded(ctx, e, null);
      }
      throw e;
    }
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
   * cancelled exchange threw, which says nothing of the server): the cause is the latest failed
   * attempt the retry policy went past, with {@code cut} suppressed; or {@code cut}, when no
   * attempt failed before.
   */
  public static DeadlineExceededException cut(RealCallContext ctx, Throwable cut) {
    ApiException earlier = ctx.lastFailure();
    return earlier == null ? build(ctx, cut, null, null) : build(ctx, earlier, cut, null);
  }

  private static DeadlineExceededException build(
      RealCallContext ctx, Throwable cause, Throwable suppressed, String when) {
    long elapsedMs = (ctx.clock().nanoTime() - ctx.startNanos()) / 1_000_000;
    int sent = ctx.attemptsSent();
    String msg = ctx.describe() + ": deadline exceeded "
        + (when != null ? when : "after " + elapsedMs + " ms")
        + " (" + sent + (sent == 1 ? " attempt" : " attempts") + " sent)";
    DeadlineExceededException e = new DeadlineExceededException(msg, cause, sent);
    if (suppressed != null) {
      e.addSuppressed(suppressed);
    }
    return ExceptionAccess.finish(e, sent, null);
  }

  @Override
  public String toString() {
    return "Deadline[default " + defaultDeadline + "]";
  }
}
