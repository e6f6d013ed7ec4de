package dev.outrigger.internal.breaker;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitOpenException;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.FirstFailure;
import dev.outrigger.internal.KeepsClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The circuit-breaker step of the chain (after retry, before the rate limiter), run once per
 * attempt: asks the breaker of the call's key for permission, refuses at once with
 * {@link CircuitOpenException} when it is open (nothing is sent, no rate-limit permit is taken),
 * and otherwise records the attempt's outcome and duration.
 *
 * <p>Outcomes: an attempt that did not reach the network ({@link CallContext#attemptsSent()}
 * unchanged, for example refused by the rate limiter, or ended by its deadline while it waited
 * for a permit or a slot), was cancelled by its caller, or was cut by its deadline after the
 * client's own waits took more of its time than they left it for the network (with a pass a
 * success gave: {@link BreakerStateMachine#letOffCutShort}), is not counted, and a half-open
 * probe gives its permit back; otherwise the configuration's predicates decide
 * failure or success. Slowness is decided by the attempt's time from when its request
 * first went to the network (an attempt interceptor may send more than once) to when the rest
 * of the chain returned: a wait for a rate permit or an in-flight slot does not count.
 *
 * <p>Thread-safe; one instance per client.
 */
public final class BreakerInterceptor implements CallInterceptor, KeepsClock {
  private static final Logger LOG = LoggerFactory.getLogger(CircuitBreaker.class);

  private final CircuitBreaker config;
  private final NanoClock clock;
  private final CallListener listener;
  private final Breakers breakers;
  /**
   * Set by {@link #clientClosed()}: an attempt finishing after it records no failure, which
   * could open a breaker for good (one the call made after the breakers were taken out of use).
   * Read only for a failed or slow outcome, and by a handle's setting by hand when circuit
   * breaking is off.
   */
  private volatile boolean clientClosed;
  private final Function<? super CallContext, String> keyFunction;
  /** Whether the key function is the user's, which may take any time (see KeepsClock). */
  private final boolean userKeyFunction;
  /**
   * Whether a status an attempt interceptor throws is judged by its status: unless the user set
   * a failureException rule, which then decides it (as a set retryOnException does for retries).
   */
  private final boolean statusJudgesThrown;

  /** Test hook: given the breaker that refused a call, before the refusal is built. */
  Consumer<BreakerStateMachine> beforeRefusal;

  public BreakerInterceptor(CircuitBreaker config, NanoClock clock, CallListener listener) {
    this.config = Objects.requireNonNull(config, "config");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.listener = listener == null ? CallListener.NONE : listener;
    this.breakers = config.enabled() ? new Breakers(config, this.listener) : null;
    this.keyFunction = config.keyFunction();
    this.userKeyFunction = keyFunction != CircuitBreaker.defaults().keyFunction();
    this.statusJudgesThrown =
        config.failureException() == CircuitBreaker.defaults().failureException();
  }

  @Override
  public Response intercept(Chain chain) {
    if (breakers == null) {
      return chain.proceed(chain.request());
    }
    CallContext ctx = chain.context();
    String key = keyFunction.apply(ctx);
    if (userKeyFunction) {
      RealCallContext.staleClock(ctx);
    }
    if (key == null) {
      return chain.proceed(chain.request());
    }
    long start = RealCallContext.recentNanos(ctx, clock);
    int reports = breakers.reports();
    BreakerStateMachine breaker = breakers.untouched(key, start);
    BreakerState seen = breaker.current();
    breaker.touch(start, seen);
    BreakerState token = breaker.acquire(seen, start);
    if (token instanceof BreakerState.Refused refused) {
      throw refuse(ctx, breaker, refused, start);
    }
    if (token != seen || breakers.reports() != reports) {
      // Listeners may have run on this thread, for any time: the step to HALF_OPEN while this
      // call asked, or a dropped breaker reported as this call's made room. The policies
      // further in read the clock afresh. (A closed breaker's token is the state read.)
      RealCallContext.staleClock(ctx);
    }
    int sentBefore = ctx.attemptsSent();
    Response response = null;
    Throwable failure = null;
    try {
      response = chain.proceed(chain.request());
      return response;
    } catch (Throwable t) {
      failure = t;
      throw t;
    } finally {
      // Whatever is thrown below (a user's predicate or clock throwing an Error), the token
      // goes back: a half-open breaker's probe permit must not leak with it.
      int outcome = BreakerStateMachine.IGNORED;
      long end = start;
      try {
        try {
          // The attempt is timed from when it went to the network: a wait for a rate permit or
          // an in-flight slot is the client's own, not the server's slowness.
          long sent = RealCallContext.sentNanos(ctx, clock, sentBefore, start);
          if (RealCallContext.deadlineBoundsAttempt(ctx, clock)
              && !breaker.canBeSlow(RealCallContext.remainingNanos(ctx, clock, sent),
                  DEADLINE_LATE)) {
            // Nothing of the user's ran around the attempt, and the deadline ended it (or would
            // have) before it could be slow: its length does not matter, and a fast success
            // need not read the clock at all (see needsTime).
            outcome =
                outcome(breaker, token, ctx, sentBefore, response, failure, start, sent, 0);
            end = breaker.needsTime(token, outcome)
                ? RealCallContext.recentNanos(ctx, clock) : sent;
          } else {
            // The transport's reading at the attempt's end, when nothing slow ran after it.
            end = RealCallContext.recentNanos(ctx, clock);
            outcome = outcome(breaker, token, ctx, sentBefore, response, failure, start, sent,
                end - sent);
          }
        } finally {
          if (outcome > BreakerStateMachine.SUCCESS && clientClosed) {
            // An attempt that finishes after its client's close(): it may not open a breaker
            // that nothing would ever close again.
            outcome = BreakerStateMachine.IGNORED;
          }
          breaker.onResult(token, outcome, end);
        }
      } catch (Throwable t) {
        // A user's clock threw, or a transition's listener threw what Listeners passes on (out
        // of memory): the answer goes nowhere, so its body is closed here.
        if (response != null) {
          response.close();
        }
        throw t;
      }
    }
  }

  /**
   * How late the deadline may end an attempt (the watchdog's lateness and then some): an attempt
   * counts as never slow only when its deadline falls this much before the slow-call duration.
   */
  static final long DEADLINE_LATE = 1_000_000_000L;

  /**
   * The outcome of an attempt admitted at {@code start} and sent at {@code sent} (both readings
   * of the clock; {@code sent} is {@code start} when none is known).
   */
  private int outcome(BreakerStateMachine breaker, BreakerState token, CallContext ctx,
      int sentBefore, Response response, Throwable failure, long start, long sent,
      long durationNanos) {
    if (ctx.attemptsSent() == sentBefore) {
      // Nothing reached the server (refused by an inner policy, answered by an interceptor).
      return BreakerStateMachine.IGNORED;
    }
    if (failure instanceof DeadlineExceededException
        && cutShortByWaits(ctx, failure, start, sent) && canCount(breaker, token)
        && breaker.letOffCutShort()) {
      // The client's own waits used up the deadline, not the host, and a success of the
      // host's gave a pass for it: no verdict on the host.
      return BreakerStateMachine.IGNORED;
    }
    try {
      boolean failed;
      if (response != null) {
        failed = config.failureStatus().test(response.code());
      } else if (statusJudgesThrown
          && Failures.hostStatus(failure, ctx) instanceof HttpStatusException h) {
        // A status of this host an attempt interceptor threw rather than returned: judged as a
        // status, as the throttle and the in-flight limit judge it. (Another host's is not.)
        failed = config.failureStatus().test(h.status());
      } else if (failure instanceof Exception && !Failures.isCancellation(failure)) {
        failed = config.failureException().test(failure);
      } else {
        // A cancellation, or an Error of this JVM: says nothing about the server.
        return BreakerStateMachine.IGNORED;
      }
      return breaker.outcome(token, failed, durationNanos);
    } catch (RuntimeException e) {
      LOG.warn("circuit breaker failure predicate threw; outcome not counted", e);
      return BreakerStateMachine.IGNORED;
    }
  }

  /**
   * Whether {@code cut}, a deadline's failure of a sent attempt, is the deadline's own cut of an
   * attempt that spent more of the time it had when the breaker admitted it waiting inside the
   * client (the throttle, a rate-limit permit, an in-flight slot, an attempt interceptor; for a
   * retry, the retry policy's backoff before it too, the time it had then counted from when the
   * backoff began) than on the network: such a cut says the wait was long, not that the host is
   * failing (it is let off only with the breaker's pass,
   * {@link BreakerStateMachine#letOffCutShort}, one per success). Not when the cut came upon a
   * failure of the attempt's own (a refused connect, its cause), which is the host's; an
   * interrupt that ended the attempt after its deadline (the cause a cancellation) is taken as
   * the deadline's own cut. Read on this failure path only.
   */
  private boolean cutShortByWaits(CallContext ctx, Throwable cut, long start, long sent) {
    if (cut.getCause() != RealCallContext.lastFailure(ctx)
        && !Failures.isCancellation(cut.getCause())) {
      // Its cause is this attempt's own failure, not the last one a retry went past.
      return false;
    }
    // A retry's waits began with the retry policy's backoff before it, outside this step.
    long waited = sent - RealCallContext.waitsBegan(ctx, clock, start);
    return waited > 0 && RealCallContext.remainingNanos(ctx, clock, sent) < waited;
  }

  /**
   * Whether an outcome given with {@code token} can still move the breaker
   * ({@link BreakerStateMachine#counts}), not after the client's close(): no pass is spent where
   * nothing would count.
   */
  private boolean canCount(BreakerStateMachine breaker, BreakerState token) {
    return !clientClosed && breaker.counts(token);
  }

  /** "its probe", "all 3 probes" or "1 of its 3 probes": the {@code out} probes not answered. */
  private String probesOut(int out) {
    int permitted = config.permittedCallsInHalfOpen();
    if (permitted == 1) {
      return "its probe";
    }
    return out < permitted
        ? out + " of its " + permitted + " probes"
        : "all " + permitted + " probes";
  }

  /**
   * The refusal of a call {@code refused} at {@code now}: it describes the state that refused
   * the call, not the breaker's state now, which another thread may have moved meanwhile (a call
   * the OPEN state refused is not told of probes in flight that a later call let through).
   */
  private CircuitOpenException refuse(CallContext ctx, BreakerStateMachine breaker,
      BreakerState.Refused refused, long now) {
    Consumer<BreakerStateMachine> hook = beforeRefusal;
    if (hook != null) {
      hook.accept(breaker);
    }
    long retryNanos = BreakerStateMachine.retryAfterNanos(refused.by, now);
    String what = ctx instanceof RealCallContext rc
        ? rc.describe()
        : ctx.method() + " to " + ctx.host();
    String why = switch (refused.state()) {
      case OPEN -> "is OPEN: " + what + " was not sent; next probe in "
          + BreakerStateMachine.human(retryNanos);
      case FORCED_OPEN -> "is FORCED_OPEN: " + what + " was not sent; it stays open until reset";
      // HALF_OPEN, the only other state that refuses.
      default -> "is HALF_OPEN with " + probesOut(refused.probesOut)
          + " in flight: " + what + " was not sent; the probes decide when they complete";
    };
    CallListener l = ctx instanceof RealCallContext rc ? rc.listener() : listener;
    try {
      l.breakerRejected(ctx, breaker.key());
    } catch (RuntimeException e) {
      LOG.warn("CallListener.breakerRejected threw; ignored", e);
    }
    return new CircuitOpenException("circuit breaker " + breaker.key() + " " + why,
        breaker.key(), Duration.ofNanos(retryNanos), ctx.attemptsSent());
  }

  /**
   * The breaker of {@code key} (by default {@code host:port}, as in {@link CallContext#host()}),
   * to look at or to take over by hand. Never null; works even if no call used the key yet.
   */
  public CircuitBreaker.Handle breaker(String key) {
    Objects.requireNonNull(key, "key");
    return new BreakerHandle(this, breakers, key, clock);
  }

  /**
   * The client closes: each breaker it keeps is taken out of use, as one its table drops. One
   * open, half-open, forced open or disabled is closed, and listeners hear of it as a transition
   * to CLOSED, so that a gauge shared with other clients (a derived client's) does not show this
   * client's breaker for good in a state no call meets; a closed one counts no more outcomes, so
   * an attempt that read {@link #clientClosed} just before it was set cannot open it afterwards.
   */
  public void clientClosed() {
    // Set with breaking off too: a handle of the closed client refuses to act by hand.
    clientClosed = true;
    if (breakers == null) {
      return;
    }
    FirstFailure failed = new FirstFailure();
    for (BreakerStateMachine b : breakers.close()) {
      try {
        b.clientClosed();
      } catch (RuntimeException | Error t) {
        // A listener's Error (out of memory, say) keeps no other breaker open: thrown after.
        failed.add(t);
      }
    }
    failed.rethrow();
  }

  /** Whether {@link #clientClosed()} was called. */
  boolean isClientClosed() {
    return clientClosed;
  }

  /** Snapshots of every breaker this client keeps, sorted by key. */
  public List<CircuitBreaker.Snapshot> snapshots() {
    if (breakers == null) {
      return List.of();
    }
    long now = clock.nanoTime();
    List<CircuitBreaker.Snapshot> out = new ArrayList<>();
    for (BreakerStateMachine b : breakers.all()) {
      out.add(b.snapshot(now));
    }
    out.sort(Comparator.comparing(CircuitBreaker.Snapshot::key));
    return List.copyOf(out);
  }

  @Override
  public String toString() {
    return config.toString();
  }
}
