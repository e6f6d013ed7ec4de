package dev.outrigger.internal.retry;

import static dev.outrigger.internal.Durations.saturatedNanos;

import dev.outrigger.ApiException;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimitedException;
import dev.outrigger.Retry;
import dev.outrigger.TransportException;
import dev.outrigger.internal.ExceptionAccess;
import dev.outrigger.internal.Closing;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.KeepsClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.RetryAfter;
import dev.outrigger.internal.deadline.DeadlineInterceptor;
import dev.outrigger.internal.http.BufferedBody;
import dev.outrigger.internal.http.Transport;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The retry policy: sends the rest of the chain again after a retryable failure, with backoff,
 * until it succeeds, the attempts run out, the deadline cannot fit the next wait, or the host's
 * retry budget is spent. See {@link Retry} for the rules.
 *
 * <p>Contract: calls {@link RealCallContext#beginAttempt()} before each {@code proceed()}; closes
 * every response it drops before the next attempt; returns a response it does not retry as is;
 * throws the last failure, with the attempt count, the earlier failures as suppressed exceptions
 * and a note saying why it stopped, when it gives up on a retryable one. Sleeps only on the
 * injected clock, never past the deadline. Thread-safe: one instance serves every call of a
 * client; the only shared state is the lock-free {@link RetryBudget}.
 */
public final class RetryInterceptor implements CallInterceptor, KeepsClock {
  private static final Logger log = LoggerFactory.getLogger(RetryInterceptor.class);
  /** The largest budget ratio given to the budget: as good as unlimited (see the constructor). */
  static final double MAX_BUDGET_RATIO = 1_000_000;

  private final Retry retry;
  private final NanoClock clock;
  private final LongSupplier wallMillis;
  private final Backoff backoff;
  private final RetryBudget budget;
  private final long maxRetryAfterNanos;

  public RetryInterceptor(Retry retry, NanoClock clock) {
    this(retry, clock, System::currentTimeMillis);
  }

  /**
   * @param wallMillis wall-clock epoch milliseconds, for {@code Retry-After} HTTP-dates (tests
   *     inject a fixed one)
   */
  public RetryInterceptor(Retry retry, NanoClock clock, LongSupplier wallMillis) {
    this.retry = retry;
    this.clock = clock;
    this.wallMillis = wallMillis;
    this.backoff = new Backoff(
        saturatedNanos(retry.initialDelay()), saturatedNanos(retry.maxDelay()),
        retry.multiplier(), retry.jitter());
    // The budget counts in fixed point: a far larger ratio (Double.MAX_VALUE, for "no limit")
    // would overflow its sums, and a million retries a call is no limit already.
    this.budget = retry.maxAttempts() > 1 && retry.budgetEnabled()
        ? new RetryBudget(Math.min(retry.budgetRatio(), MAX_BUDGET_RATIO),
            saturatedNanos(retry.budgetWindow()),
            retry.budgetMinRetriesPerSecond(), RetryBudget.DEFAULT_MAX_KEYS, clock::nanoTime)
        : null;
    this.maxRetryAfterNanos = saturatedNanos(retry.maxRetryAfter());
  }

  @Override
  public Response intercept(Chain chain) {
    RealCallContext ctx = (RealCallContext) chain.context();
    Request request = chain.request();
    if (retry.maxAttempts() == 1) {
      // Nothing to decide: the boundary turns a non-2xx response into HttpStatusException.
      ctx.beginAttempt();
      return chain.proceed(request);
    }
    if (budget != null && ctx.attempt() == 0) {
      // The budget counts calls in slots a tenth of its window wide: the time the call began
      // is as good as a fresh reading of the clock, and costs none. Once per call: a second
      // pass (an auth refresh, a call interceptor that proceeds again) is the same call.
      if (ctx.clock() == clock) {
        budget.deposit(ctx.host(), ctx.startNanos());
      } else {
        budget.deposit(ctx.host());
      }
    }
    // Made on the first retry: most calls succeed at once.
    List<ApiException> earlier = List.of();
    long previousDelay = 0;
    // The budget's slot of the retry about to run (RetryBudget.REFUSED: none was taken for it).
    long retryToken = RetryBudget.REFUSED;
    // The 2xx an attempt returned, when the user's predicate wanted it retried (a copy of it,
    // detached from the connection), while no attempt was sent after it: the call's answer if
    // its retry is refused. answeredAt: how many of the failures in earlier came before it.
    Response answered = null;
    int answeredAt = 0;
    for (int retries = 0; ; retries++) {
      int attempt = ctx.beginAttempt();
      int sentBefore = ctx.attemptsSent();
      Response response = null;
      ApiException failure = null;
      try {
        response = chain.proceed(request);
      } catch (ApiException e) {
        failure = e;
      } finally {
        if (retryToken != RetryBudget.REFUSED && ctx.attemptsSent() == sentBefore) {
          // The retry never reached the network: refused on the way (an open breaker, the
          // client-side throttle, a rate limit, no in-flight slot in time) or answered by an
          // attempt interceptor. The host saw no retry, so its budget gets this one back.
          budget.refund(ctx.host(), retryToken);
        }
      }

      if (response != null ? !retryable(response) : !retryable(failure, request)) {
        if (response != null) {
          return response;
        }
        if (answered != null && refusedOnItsWay(failure, sentBefore, ctx)) {
          // The retry of a 2xx never went (an open breaker, a rate limit, the deadline, an
          // interceptor refused it): the 2xx is still the answer, body and all.
          return answer(answered, answeredAt, earlier, ctx);
        }
        long left;
        if (failure instanceof RateLimitedException refused && refused.wouldWait() != null
            && !earlier.isEmpty()
            && saturatedNanos(refused.wouldWait()) >= (left = remainingNanos(ctx.deadline()))) {
          // A retry whose wait for a permit cannot fit in the deadline: as a backoff that
          // cannot fit, the call ends with the failure it was retrying (the server's), saying
          // why it stopped; the refusal goes with it. (A refusal of another kind, an
          // interceptor's own quota, say, is the call's failure as it is.)
          ApiException last = earlier.remove(earlier.size() - 1);
          last.addSuppressed(refused);
          throw finish(last, earlier, attempt, ctx, doesNotFit("the wait for a rate-limit permit",
              saturatedNanos(refused.wouldWait()), left));
        }
        throw finish(failure, earlier, attempt, ctx, null);
      }

      // The failure is retryable in kind; now whether this call may, and when.
      // A maxRetryAfter of zero ignores the server's hint (as RateLimit.maxPause does): the
      // backoff applies, not a hint cut to nothing.
      Duration hint =
          response != null && maxRetryAfterNanos > 0 ? retryAfterHint(response) : null;
      String stop = null;
      long delay = 0;
      long withdrawn = RetryBudget.REFUSED;
      // maxAttempts bounds this pass through the policy: a request sent again from outside it
      // (an auth refresh, a call interceptor) gets the retries any request gets, while attempts
      // keep their call-wide numbers.
      if (retries + 1 >= retry.maxAttempts()) {
        stop = "";
      } else if (isOneShot(request.body()) && (response != null || ctx.lastRequestWritten())) {
        // Once OkHttp began writing the request it read the body; an attempt that failed before
        // (a refused connection, a failed lookup, a refusal on the way) left it unread.
        stop = "not retried: the request body is one-shot and cannot be sent again";
      } else if (!ctx.idempotent() && (response != null || ctx.lastRequestWritten())) {
        // A write that may have reached the server is sent again only with the caller's consent.
        stop = "not retried: " + ctx.method() + " is not idempotent (no Idempotency-Key) and "
            + (response != null ? "the server may have acted on it"
                : "the request may have reached the server");
      } else if (failure instanceof CircuitOpenException open && open.retryAfter() != null
          && saturatedNanos(open.retryAfter()) == Long.MAX_VALUE) {
        // Forced open by hand (the one refusal that says Long.MAX_VALUE: an open breaker's wait
        // is capped far below it): no probe until someone resets it, not a wait that is long.
        stop = "stopped: circuit breaker " + open.breaker()
            + " is forced open, and admits nothing until it is reset";
      } else {
        RandomGenerator random =
            retry.random() != null ? retry.random() : ThreadLocalRandom.current();
        long backoffDelay = backoff.next(retries + 1, previousDelay, random);
        String wait = "the next wait";
        if (hint != null) {
          delay = Math.min(saturatedNanos(hint), maxRetryAfterNanos);
        } else if (failure instanceof CircuitOpenException open && open.retryAfter() != null) {
          delay = Math.max(backoffDelay, saturatedNanos(open.retryAfter()));
          if (delay > backoffDelay) {
            // The breaker's wait, not the backoff the caller configured, is what did not fit.
            wait = "the wait for circuit breaker " + open.breaker() + " to admit a probe";
          }
        } else {
          delay = backoffDelay;
        }
        long remaining = remainingNanos(ctx.deadline());
        if (delay >= remaining) {
          // Sleeping into a certain deadline failure only wastes the caller's time.
          stop = hint != null
              ? "stopped: the server asked to retry after " + format(saturatedNanos(hint))
                  + " (Retry-After: " + response.header("Retry-After") + ")"
                  + (delay < saturatedNanos(hint) ? ", capped to " + format(delay) : "")
                  + ", but only " + format(Math.max(0, remaining)) + " of the deadline remain"
              : doesNotFit(wait, delay, remaining);
        } else if (budget != null
            && (withdrawn = budget.withdraw(ctx.host())) == RetryBudget.REFUSED) {
          notify(ctx, l -> l.retryBudgetExhausted(ctx));
          stop = "stopped: the retry budget for " + ctx.host() + " is exhausted";
        }
      }

      if (stop != null && response != null && Failures.isSuccess(response.code())) {
        // A 2xx the user's predicate wanted retried, out of retries: it is still the answer.
        return response;
      }
      if (answered != null && response == null && refusedOnItsWay(failure, sentBefore, ctx)) {
        // The retry of a 2xx was refused before it was sent, a refusal the policy retries (an
        // open breaker, with retryWhenCircuitOpen): the 2xx stays the answer if no retry goes.
        if (stop != null) {
          return answer(answered, answeredAt, earlier, ctx);
        }
      } else {
        // A 2xx goes on as a failure of the policy's (the suppressed list, the deadline's
        // cause), and as a copy that is the answer if its retry is refused before it is sent.
        answered = response != null && Failures.isSuccess(response.code())
            ? detached(response, ctx) : null;
        answeredAt = earlier.size();
      }
      String reason = reason(response, failure, hint);
      ApiException last = failure != null ? failure : Failures.statusException(response, ctx);
      if (stop != null) {
        throw finish(last, earlier, attempt, ctx, stop);
      }
      if (earlier.isEmpty()) {
        earlier = new RealCallContext.RetriedFailures();
        ctx.retriedPast(earlier);
      }
      earlier.add(last);
      ctx.failed(last);
      Duration wait = Duration.ofNanos(delay);
      // The listeners' time is part of the wait (the retry goes when it was scheduled to), so a
      // slow one does not cancel a retry it was told of (only the deadline, close() or a policy
      // on its way still can).
      long began = clock.nanoTime();
      long wakeAt = began + delay;
      try {
        notify(ctx, l -> l.retryScheduled(ctx, wait, reason));
      } catch (Error e) {
        // The JVM's own trouble (out of memory), which Listeners passes on: the retry will
        // never be sent, so its budget goes back for the calls that remain.
        if (budget != null) {
          budget.refund(ctx.host(), withdrawn);
        }
        throw e;
      }
      if (log.isDebugEnabled()) {
        // On a second pass (after an auth refresh, say) the call-wide number runs ahead of
        // this pass's count, which is what maxAttempts bounds.
        String which = attempt == retries + 1 ? attempt + " of " + retry.maxAttempts()
            : attempt + " (" + (retries + 1) + " of " + retry.maxAttempts() + " in this pass)";
        log.debug("{}: attempt {} failed ({}); retrying in {}", ctx.describe(), which, reason,
            format(delay));
      }
      long rest = wakeAt - clock.nanoTime();
      long leftNow = remainingNanos(ctx.deadline());
      if (leftNow <= 0 || rest >= leftNow) {
        // A listener outlasted the deadline (or, on a clock of another pace, left too little for
        // the rest of the wait): no wait runs past the deadline, and no retry is sent.
        if (budget != null) {
          budget.refund(ctx.host(), withdrawn);
        }
        if (answered != null) {
          return answer(answered, answeredAt, earlier, ctx);
        }
        if (leftNow <= 0) {
          // The cause is last, the failure the retry was for; earlier ones are suppressed.
          throw finish(DeadlineInterceptor.exceeded(ctx, null, "before attempt " + (attempt + 1)),
              earlier, attempt, ctx, null);
        }
        earlier.remove(earlier.size() - 1);
        throw finish(last, earlier, attempt, ctx, doesNotFit("the next wait", rest, leftNow));
      }
      try {
        Closing.sleep(ctx, clock, Math.max(0, rest),
            "the backoff before attempt " + (attempt + 1));
      } catch (InterruptedException e) {
        // The retry will never be sent: its budget goes back for the calls that remain.
        if (budget != null) {
          budget.refund(ctx.host(), withdrawn);
        }
        throw finish(Failures.cancelled(ctx, e), earlier, attempt, ctx, null);
      }
      if (ctx.clock() == clock) {
        // The breaker takes the wait as the client's own, if the deadline cuts the retry after.
        ctx.backoffBegan(began);
      }
      previousDelay = delay;
      retryToken = withdrawn;
    }
  }

  /**
   * A copy of the 2xx {@code response} whose body is its bytes in memory, so it outlives the
   * response (closed before the next attempt) and the transport's buffer (which the next attempt
   * refills); null if its body cannot be read, which then ends as before, as a status.
   */
  private static Response detached(Response response, RealCallContext ctx) {
    ResponseBody body = response.body();
    byte[] bytes;
    if (body instanceof BufferedBody large) {
      bytes = large.array();
    } else if ((bytes = ctx.bufferedBytes(body)) == null) {
      okio.Buffer inPlace = ctx.bufferInPlace(body);
      try {
        // A body an interceptor put in the transport's place is in memory too: peeked whole.
        bytes = inPlace != null ? Transport.copyOf(inPlace, inPlace.size())
            : response.peekBody(Long.MAX_VALUE).bytes();
      } catch (IOException | IllegalStateException e) {
        return null;
      }
    }
    MediaType type = body.contentType();
    return response.newBuilder().body(new BufferedBody(bytes, type)).build();
  }

  /**
   * {@code answered}, the 2xx the call ends with after all: the policy went past it for a retry
   * that was refused before it was sent, so the failures it went past are the first
   * {@code answeredAt} of {@code earlier} (the rest, its own and the refusals, are dropped).
   */
  private static Response answer(Response answered, int answeredAt, List<ApiException> earlier,
      RealCallContext ctx) {
    if (earlier.size() > answeredAt) {
      earlier.subList(answeredAt, earlier.size()).clear();
    }
    ctx.failed(earlier.isEmpty() ? null : earlier.get(earlier.size() - 1));
    return answered;
  }

  /**
   * Whether {@code failure}, the end of an attempt that began with {@code sentBefore} attempts
   * sent, is a refusal on its way to the network (a breaker, a rate limit, the deadline, an
   * interceptor's failure): nothing was sent, and it is neither a status (an attempt
   * interceptor's answer) nor a cancellation, which ends the call whatever came before.
   */
  private static boolean refusedOnItsWay(
      ApiException failure, int sentBefore, RealCallContext ctx) {
    return ctx.attemptsSent() == sentBefore && !(failure instanceof HttpStatusException)
        && !Failures.isCancellation(failure);
  }

  private boolean retryable(Response response) {
    try {
      if (retry.retryOnResponse() != null) {
        return retry.retryOnResponse().test(response);
      }
      int code = response.code();
      if (retry.retryOnStatus() != null) {
        return retry.retryOnStatus().test(code);
      }
      return isDefaultRetryableStatus(code);
    } catch (RuntimeException | Error e) {
      // A user predicate that throws must not leak the response it was shown.
      response.close();
      throw e;
    }
  }

  private boolean retryable(ApiException e, Request request) {
    if (Failures.isCancellation(e)) {
      return false;
    }
    if (e instanceof CircuitOpenException && retry.retryWhenCircuitOpen()) {
      // Asked for by name: a rule for exceptions does not take it back.
      return true;
    }
    if (retry.retryOnException() != null) {
      return retry.retryOnException().test(e);
    }
    if (e instanceof TransportException t) {
      return switch (t.kind()) {
        case CONNECT, TIMEOUT, IO -> true;
        case TLS, CANCELLED, PROTOCOL -> false;
      };
    }
    if (e instanceof HttpStatusException h) {
      // An attempt interceptor may throw the status rather than return it: the rule for
      // responses decides it as it decides a returned one.
      if (retry.retryOnResponse() != null) {
        return retryableThrown(h, request);
      }
      return retry.retryOnStatus() != null
          ? retry.retryOnStatus().test(h.status())
          : isDefaultRetryableStatus(h.status());
    }
    if (e instanceof CircuitOpenException) {
      // Whether the breaker's wait fits in the deadline is checked with the other waits.
      return retry.retryWhenCircuitOpen();
    }
    // RateLimitedException, DeserializationException, DeadlineExceededException and the rest.
    return false;
  }

  /**
   * What {@link Retry#retryOnResponse} says of a status an attempt interceptor threw: it is
   * shown the response the exception keeps, its status and body snippet on {@code request},
   * without headers (the exception has none). Error path only.
   */
  private boolean retryableThrown(HttpStatusException h, Request request) {
    if (h.status() < 0) {
      // No response can carry it (OkHttp refuses a negative code): nothing to show the rule.
      return false;
    }
    try (Response shown = new Response.Builder()
        .request(request)
        .protocol(Protocol.HTTP_1_1)
        .code(h.status())
        .message("")
        .body(ResponseBody.create(h.bodySnippet(), null))
        .build()) {
      return retry.retryOnResponse().test(shown);
    }
  }

  /** 408, 429, 500, 502, 503, 504. */
  static boolean isDefaultRetryableStatus(int code) {
    return switch (code) {
      case 408, 429, 500, 502, 503, 504 -> true;
      default -> false;
    };
  }

  /**
   * The server's {@code Retry-After} on {@code response}, a response the policy retries: on 429
   * and 503, and on any status when the user's own rule chose it (GitHub answers its secondary
   * rate limits with a 403 and a {@code Retry-After}); null if none.
   */
  private Duration retryAfterHint(Response response) {
    int code = response.code();
    if (code != 429 && code != 503 && retry.retryOnStatus() == null
        && retry.retryOnResponse() == null) {
      // The default rules' other statuses (408, 500, 502, 504): the backoff applies.
      return null;
    }
    return RetryAfter.retryAfter(response, wallMillis);
  }

  private static boolean isOneShot(RequestBody body) {
    return body != null && body.isOneShot();
  }

  /**
   * {@code e}, the status a call ended with after the retry policy went past other failures (a
   * 404 after a retried 503, which the policy returns as an answer), noting the attempts made and
   * carrying those failures as a failure the policy gave up on does.
   */
  public static ApiException endedAfterRetries(ApiException e, RealCallContext ctx) {
    List<ApiException> earlier = ctx.retriedFailures();
    return earlier == null || earlier.isEmpty() ? e : finish(e, earlier, ctx.attempt(), ctx, null);
  }

  /**
   * Sets the attempt count on {@code e}, notes how many attempts were made and why the policy
   * stopped, and attaches the earlier failures.
   */
  private static ApiException finish(
      ApiException e, List<ApiException> earlier, int attempts, RealCallContext ctx, String why) {
    for (ApiException x : earlier) {
      if (x != e && x != e.getCause()) {
        e.addSuppressed(x);
      }
    }
    StringBuilder note = new StringBuilder();
    if (attempts > 1 && !(e instanceof DeadlineExceededException)) {
      // (A deadline's message already says how many attempts were sent.)
      note.append("after ").append(attempts).append(" attempts");
      if (ctx.attemptsSent() != attempts) {
        note.append(", ").append(ctx.attemptsSent()).append(" sent");
      }
    }
    if (why != null && !why.isEmpty()) {
      if (note.length() > 0) {
        note.append("; ");
      }
      note.append(why);
    }
    return ExceptionAccess.finish(
        e, ctx.attemptsSent(), note.length() == 0 ? null : note.toString());
  }

  private static String reason(Response response, ApiException failure, Duration hint) {
    if (response != null) {
      return "HTTP " + response.code()
          + (hint != null ? ", Retry-After " + format(saturatedNanos(hint)) : "");
    }
    if (failure instanceof TransportException t) {
      return t.kind().name().toLowerCase(Locale.ROOT) + " failure";
    }
    if (failure instanceof HttpStatusException h) {
      return "HTTP " + h.status();
    }
    if (failure instanceof CircuitOpenException c) {
      return "circuit open (" + c.breaker() + ")";
    }
    return failure.getClass().getSimpleName();
  }

  private static void notify(RealCallContext ctx, Consumer<CallListener> event) {
    try {
      event.accept(ctx.listener());
    } catch (RuntimeException e) {
      log.warn("CallListener threw; ignored", e);
    }
  }

  private static long remainingNanos(Deadline deadline) {
    return deadline == null ? Long.MAX_VALUE : deadline.remainingNanos();
  }

  /** Why a call stopped: {@code what} would take {@code waitNanos}, more than is left. */
  private static String doesNotFit(String what, long waitNanos, long leftNanos) {
    return "stopped: " + what + " (" + format(waitNanos) + ") does not fit in the "
        + format(Math.max(0, leftNanos)) + " left of the deadline";
  }

  /**
   * A short human duration: {@code 250ms}, {@code 1.5s}, {@code 120s}; under a twentieth of a
   * millisecond (which would read {@code 0.0ms}), {@code 40µs} or {@code 999ns}; from
   * {@link RetryAfter#LONGEST} on (where a server's {@code Retry-After} saturates),
   * {@code more than 4611686018s}.
   */
  static String format(long nanos) {
    if (nanos >= Long.MAX_VALUE / 2) {
      // Not "forever": a server's 99999999999 seconds is long, but not that.
      return "more than " + (Long.MAX_VALUE / 2 / 1_000_000_000L) + "s";
    }
    if (nanos > 0 && nanos < 50_000) {
      return nanos < 1000 ? nanos + "ns" : nanos / 1000 + "µs";
    }
    // From 999.95 ms, one decimal would read 1000.0ms: that is a second, written below.
    if (nanos < 999_950_000L) {
      long micros = nanos / 1000;
      return micros % 1000 == 0 ? micros / 1000 + "ms"
          : String.format(Locale.ROOT, "%.1fms", micros / 1000.0);
    }
    double s = nanos / 1e9;
    if (s == Math.rint(s)) {
      return (long) s + "s";
    }
    // Millisecond precision, trailing zeros dropped: 1.8s, 2.25s, 1.001s.
    return new java.math.BigDecimal(String.format(Locale.ROOT, "%.3f", s))
        .stripTrailingZeros().toPlainString() + "s";
  }

  /** The budget, or null when off (for tests). */
  RetryBudget budget() {
    return budget;
  }

  @Override
  public String toString() {
    return retry.toString();
  }
}
