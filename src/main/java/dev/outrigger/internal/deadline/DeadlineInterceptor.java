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
   * the last failure: {@code cause} when it is one ({@link ApiException}: an answer or error
   * that came too late); else the latest failed attempt the retry policy went past, with
   * {@code cause} (the deadline's own cut of the attempt in flight, or null) suppressed; else
   * {@code cause}.
   */
  public static DeadlineExceededException exceeded(
      RealCallContext ctx, Throwable cause, String when) {
    long elapsedMs = (ctx.clock().nanoTime() - ctx.startNanos()) / 1_000_000;
    int sent = ctx.attemptsSent();
    String msg = ctx.describe() + ": deadline exceeded "
        + (when != null ? when : "after " + elapsedMs + " ms")
        + " (" + sent + (sent == 1 ? " attempt" : " attempts") + " sent)";
    Throwable primary = cause;
    Throwable cut = null;
    ApiException earlier = ctx.lastFailure();
    if (!(cause instanceof ApiException) && earlier != null) {
      primary = earlier;
      cut = cause;
    }
    DeadlineExceededException e = new DeadlineExceededException(msg, primary, sent);
    if (cut != null) {
      e.addSuppressed(cut);
    }
    return ExceptionAccess.finish(e, sent, null);
  }

  @Override
  public String toString() {
    return "Deadline[default " + defaultDeadline + "]";
  }
}
