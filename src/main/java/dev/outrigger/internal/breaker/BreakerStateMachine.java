package dev.outrigger.internal.breaker;

import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.CircuitBreaker.State;
import dev.outrigger.internal.Durations;
import dev.outrigger.internal.breaker.BreakerState.Closed;
import dev.outrigger.internal.breaker.BreakerState.Disabled;
import dev.outrigger.internal.breaker.BreakerState.Dropped;
import dev.outrigger.internal.breaker.BreakerState.ForcedOpen;
import dev.outrigger.internal.breaker.BreakerState.HalfOpen;
import dev.outrigger.internal.breaker.BreakerState.Open;
import dev.outrigger.internal.breaker.BreakerState.Refused;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Locale;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The breaker of one key: Resilience4j's state machine (CLOSED, OPEN, HALF_OPEN, FORCED_OPEN,
 * DISABLED) without locks.
 *
 * <p>The state is one immutable {@link BreakerState} in a volatile field. Every transition is
 * computed from the state a thread saw, installed by compare-and-set from exactly that state, and
 * only then acted upon (INFO log line, {@link CallListener#breakerTransition}), so a transition
 * happens once however many threads race for it, and no side effect can run twice. Time is
 * passed in by the caller (nanoseconds of one {@code NanoClock}); nothing here reads a clock or
 * starts a thread: OPEN becomes HALF_OPEN when a call asks for permission after the wait.
 *
 * <p>Transitions are published in the order they happened, one at a time. The thread that
 * installs a state links it to the state it replaced ({@link BreakerState#next}), then publishes
 * what is linked if no other thread is publishing (a flag, not a lock); a thread that finds the
 * flag taken leaves its transition to the publishing thread, which looks again before it lets go.
 * So no thread ever waits for another's listener, and a transition made moments after another, on
 * another thread, never reaches listeners first.
 *
 * <p>The hot path of a closed breaker, {@link #acquire} then {@link #onResult} with a fast
 * success, is one volatile read, one atomic add and one array read (and, when the success came
 * through {@link #outcome}, a read of the passes, written only while they are below their cap).
 *
 * <p>Thread-safe.
 */
public final class BreakerStateMachine {
  /** A fast success. */
  public static final int SUCCESS = 0;
  /** Outcome bit: the call failed. */
  public static final int FAILED = Window.FAILED;
  /** Outcome bit: the call was slower than the slow-call duration. */
  public static final int SLOW = Window.SLOW;
  /** Not counted at all (cancelled, never sent); a half-open probe gives its permit back. */
  public static final int IGNORED = -1;

  /** Duration reported by a forced-open breaker: no probe until a reset. */
  static final long FOREVER_NANOS = Long.MAX_VALUE;
  /** Last-use times are written at most this often, to keep the hot path free of writes. */
  private static final long TOUCH_NANOS = 1_000_000_000L;

  private static final Logger LOG = LoggerFactory.getLogger(CircuitBreaker.class);
  private static final VarHandle STATE;
  private static final VarHandle PUBLISHING;
  private static final VarHandle LAST_USED;
  private static final VarHandle CUT_SHORT_PASSES;
  /** How often an open or half-open breaker notes its uses (a closed one: {@link #TOUCH_NANOS}). */
  private static final long OPEN_TOUCH_NANOS = 1_000_000L;

  static {
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      STATE = lookup.findVarHandle(BreakerStateMachine.class, "state", BreakerState.class);
      PUBLISHING = lookup.findVarHandle(BreakerStateMachine.class, "publishing", boolean.class);
      LAST_USED = lookup.findVarHandle(BreakerStateMachine.class, "lastUsedNanos", long.class);
      CUT_SHORT_PASSES =
          lookup.findVarHandle(BreakerStateMachine.class, "cutShortPasses", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final String key;
  private final CircuitBreaker config;
  private final CallListener listener;
  private final int minimumCalls;
  private final double failureRateThreshold;
  private final double slowCallRateThreshold;
  private final long slowCallNanos;
  private final long waitNanos;
  private final long maxWaitNanos;
  private final double waitMultiplier;
  private final int permittedInHalfOpen;
  private final String halfOpenWhy;
  /** Run once the breaker has closed (probes or a reset): its {@link Breakers} may now drop it. */
  private final Runnable onClosed;
  private volatile BreakerState state;
  private volatile long lastUsedNanos;
  /**
   * Passes for attempts cut short by the client's own waits: such a cut is let off (not
   * counted) only by taking one, and only a success gives one, up to {@link #maxPasses}; so at
   * most one such cut is let off per success, a host that never answered hides none, and one
   * that stopped answering hides at most {@code maxPasses} behind a long local queue.
   */
  private volatile int cutShortPasses;
  /** The most passes kept: the window's minimum number of calls. */
  private final int maxPasses;
  /** Whether a thread is publishing transitions; it alone uses {@link #published}. */
  private volatile boolean publishing;
  /** The last state whose arrival was published. */
  private BreakerState published;
  /**
   * Test hook: run by the thread of the half-open probe that answered last, its outcome added,
   * before it installs the probes' verdict.
   */
  Runnable probesAnswered;

  public BreakerStateMachine(
      String key, CircuitBreaker config, CallListener listener, long nowNanos) {
    this(key, config, listener, nowNanos, null);
  }

  /** A breaker that runs {@code onClosed} (if not null) each time it closes. */
  BreakerStateMachine(String key, CircuitBreaker config, CallListener listener, long nowNanos,
      Runnable onClosed) {
    this.key = key;
    this.onClosed = onClosed;
    this.config = config;
    this.listener = listener;
    this.minimumCalls = config.minimumNumberOfCalls();
    this.maxPasses = minimumCalls;
    this.failureRateThreshold = config.failureRateThreshold();
    this.slowCallRateThreshold = config.slowCallRateThreshold();
    this.slowCallNanos = saturatedNanos(config.slowCallDuration());
    this.waitNanos = saturatedNanos(config.waitInOpenState());
    this.maxWaitNanos = saturatedNanos(config.maxWaitInOpenState());
    this.waitMultiplier = config.waitInOpenStateMultiplier();
    this.permittedInHalfOpen = config.permittedCallsInHalfOpen();
    this.halfOpenWhy = "open wait over; letting " + permittedInHalfOpen + " probe"
        + (permittedInHalfOpen == 1 ? "" : "s") + " through";
    this.state = new Closed(Window.create(config, nowNanos), null);
    this.published = state;
    this.lastUsedNanos = nowNanos;
  }

  public String key() {
    return key;
  }

  public State state() {
    return state.state();
  }

  /**
   * Asks to send one call at {@code nowNanos}.
   *
   * @return the token to give to {@link #onResult} when the call ends (exactly once), or null
   *     when the breaker refuses the call
   */
  public BreakerState acquire(long nowNanos) {
    BreakerState s = state;
    if (s instanceof Closed) {
      return s;
    }
    BreakerState token = acquireSlow(s, nowNanos);
    return token instanceof Refused ? null : token;
  }

  /** The state now: what {@link #acquire(BreakerState, long)} starts from. */
  BreakerState current() {
    return state;
  }

  /**
   * {@link #acquire(long)} from {@code seen}, a state just read with {@link #current()}, giving a
   * refused call a {@link Refused} that names the state that refused it. A token other than
   * {@code seen} means the state moved meanwhile (on this thread, perhaps with listeners run, or
   * on another).
   */
  BreakerState acquire(BreakerState seen, long nowNanos) {
    return seen instanceof Closed ? seen : acquireSlow(seen, nowNanos);
  }

  private BreakerState acquireSlow(BreakerState s, long now) {
    while (true) {
      if (s instanceof Closed || s instanceof Disabled || s instanceof Dropped) {
        return s;
      } else if (s instanceof HalfOpen h) {
        if (h.tryAcquire()) {
          return h;
        }
        int permits = h.permits.get();
        long packed = h.outcomes.get();
        if (permits < 0) {
          // Its permits claimed by its table, which is dropping it as unused: this call uses
          // it, so it stays, and the drop fails. Unless the drop came first: then it is out of
          // use, and admits the call, recording nothing.
          keep(h);
        } else if (HalfOpen.done(packed) == permittedInHalfOpen) {
          // Every probe answered, and the thread of the last has not yet installed their
          // verdict: installed here, so that no call is refused for probes no longer out.
          decide(h, packed, now);
        } else if (permits == 0) {
          // Each permit taken (then read, outcomes after): the probes out are those not done.
          return new Refused(h, permittedInHalfOpen - HalfOpen.done(packed));
        }
        // Otherwise a probe gave its permit back meanwhile (it said nothing): take it.
        s = state;
      } else if (s instanceof Open o) {
        if (now - o.untilNanos < 0) {
          return new Refused(o, 0);
        }
        transition(o, new HalfOpen(permittedInHalfOpen, o.openings, halfOpenWhy));
        s = state;
      } else {
        return new Refused(s, 0);
      }
    }
  }

  /**
   * The outcome of a call admitted with {@code token}. Give it exactly once per admitted call.
   *
   * @param outcome {@link #SUCCESS}, or {@link #FAILED} and/or {@link #SLOW} bits, or
   *     {@link #IGNORED}
   */
  public void onResult(BreakerState token, int outcome, long nowNanos) {
    if (token instanceof Closed c) {
      if (outcome >= 0 && c.window.record(outcome, nowNanos)) {
        evaluate(c, nowNanos);
      }
    } else if (token instanceof HalfOpen h) {
      onProbeResult(h, outcome, nowNanos);
    }
  }

  /**
   * Whether {@link #onResult}{@code (token, outcome, now)} may use {@code now}: not for an
   * outcome that is not counted, a token of a breaker disabled or forced open, nor a fast
   * success that a closed breaker's warm count window adds without deciding anything. A caller
   * may then skip reading the clock.
   */
  public boolean needsTime(BreakerState token, int outcome) {
    if (outcome < 0) {
      return false;
    }
    if (token instanceof Closed c) {
      return outcome != SUCCESS || !c.window.recordsSuccessWithoutTime();
    }
    // A probe's outcome may move the breaker; a disabled or forced breaker records nothing.
    return token instanceof HalfOpen;
  }

  /**
   * Whether an attempt can be slow that its deadline ends at most {@code lateNanos} after
   * {@code remainingNanos}, the time the deadline left it when it was sent.
   */
  public boolean canBeSlow(long remainingNanos, long lateNanos) {
    return remainingNanos > slowCallNanos - lateNanos;
  }

  /** {@link #onResult} for a call that did not fail and took {@code durationNanos}. */
  public void onSuccess(BreakerState token, long durationNanos, long nowNanos) {
    onResult(token, durationNanos > slowCallNanos ? SLOW : SUCCESS, nowNanos);
  }

  /**
   * The outcome bits of a counted call admitted with {@code token}. A fast success gives a pass
   * ({@link #letOffCutShort}) only where it counts ({@link #counts}): a success through a breaker
   * disabled by hand, as Resilience4j's DISABLED records nothing, earns none.
   */
  public int outcome(BreakerState token, boolean failed, long durationNanos) {
    int outcome = (failed ? FAILED : SUCCESS) | (durationNanos > slowCallNanos ? SLOW : SUCCESS);
    if (outcome == SUCCESS) {
      int passes = cutShortPasses;
      if (passes < maxPasses && counts(token)) {
        // Written only below the cap: a steady stream of successes reads it and writes nothing.
        // One try: a success that loses the race gives no pass, which errs towards counting.
        CUT_SHORT_PASSES.compareAndSet(this, passes, passes + 1);
      }
    }
    return outcome;
  }

  /**
   * Whether an outcome given with {@code token} can still move the breaker: a half-open probe's,
   * or a closed breaker's that is still in place (not one replaced since, forced open, disabled
   * or dropped). A disabled or dropped breaker's token is its state too, and may still be the
   * current one.
   */
  boolean counts(BreakerState token) {
    return token instanceof HalfOpen || token instanceof Closed && token == state;
  }

  /**
   * Takes a pass that lets one attempt cut short by the client's own waits go uncounted; false
   * when every pass the successes gave was taken (the cut is then counted as any other).
   */
  public boolean letOffCutShort() {
    for (int passes = cutShortPasses; passes > 0; passes = cutShortPasses) {
      if (CUT_SHORT_PASSES.compareAndSet(this, passes, passes - 1)) {
        return true;
      }
    }
    return false;
  }

  private void evaluate(Closed c, long now) {
    Window.Counts k = c.window.counts(now);
    if (k.calls() < minimumCalls || state != c) {
      return;
    }
    String why = exceeded(k);
    if (why != null) {
      trip(c, open(now, 1, k, why), now);
    }
  }

  /**
   * Opens the breaker from {@code seen} at {@code now}. The opening is a use, noted before the
   * state is installed: the call that opens it may have begun (and last noted a use) long
   * before, and a breaker that just opened must not look unused for its whole wait to the
   * table that evicts idle breakers ({@link Breakers}, which reads the state first).
   */
  private void trip(BreakerState seen, Open next, long now) {
    noteUse(now);
    transition(seen, next);
  }

  /**
   * Moves the last use forward to {@code nowNanos}, never back: a thread that read an old value
   * and was descheduled must not undo a later note (the opening's, say).
   */
  private void noteUse(long nowNanos) {
    for (long last = lastUsedNanos; nowNanos - last > 0; last = lastUsedNanos) {
      if (LAST_USED.compareAndSet(this, last, nowNanos)) {
        return;
      }
    }
  }

  private void onProbeResult(HalfOpen h, int outcome, long now) {
    if (outcome < 0) {
      // The probe said nothing about the server: let another call probe instead.
      h.permits.incrementAndGet();
      return;
    }
    long add = HalfOpen.ONE_DONE
        + ((outcome & FAILED) != 0 ? HalfOpen.ONE_FAILED : 0)
        + ((outcome & SLOW) != 0 ? HalfOpen.ONE_SLOW : 0);
    long packed = h.outcomes.addAndGet(add);
    if (HalfOpen.done(packed) != permittedInHalfOpen) {
      return;
    }
    Runnable hook = probesAnswered;
    if (hook != null) {
      hook.run();
    }
    decide(h, packed, now);
  }

  /**
   * Installs at {@code now} the verdict of {@code h}'s probes, all answered with {@code packed},
   * unless another thread did: the thread of the last probe to answer, or a call that found them
   * all answered before that thread moved the breaker ({@link #acquireSlow}). The verdict is the
   * same whichever installs it (the outcomes no longer change); one of them only does.
   */
  private void decide(HalfOpen h, long packed, long now) {
    Window.Counts k = HalfOpen.counts(packed);
    String why = exceeded(k);
    if (why != null) {
      trip(h, open(now, h.openings + 1, k, "probes: " + why), now);
    } else {
      transition(h, new Closed(Window.create(config, now), String.format(Locale.ROOT,
          "probes: failure rate %s, slow-call rate %s over %d probes",
          percent(k.failureRate()), percent(k.slowCallRate()), k.calls())));
    }
  }

  /** Why the rates open the breaker, or null when they do not. */
  private String exceeded(Window.Counts k) {
    if (k.failureRate() >= failureRateThreshold) {
      return String.format(Locale.ROOT, "failure rate %s >= %s over %d calls",
          percent(k.failureRate()), percent(failureRateThreshold), k.calls());
    }
    if (k.slowCallRate() >= slowCallRateThreshold) {
      return String.format(Locale.ROOT, "slow-call rate %s >= %s over %d calls (slower than %s)",
          percent(k.slowCallRate()), percent(slowCallRateThreshold), k.calls(),
          human(slowCallNanos));
    }
    return null;
  }

  /**
   * The OPEN state for the {@code openings}-th opening since the breaker was last closed, opened
   * because of {@code why}.
   */
  private Open open(long now, int openings, Window.Counts counts, String why) {
    long wait = waitNanos(openings);
    return new Open(now + wait, openings, counts, why + "; next probe in " + human(wait));
  }

  /** The wait in OPEN of the {@code openings}-th opening since the breaker was last closed. */
  private long waitNanos(int openings) {
    if (waitMultiplier == 1.0 || openings <= 1) {
      return waitNanos;
    }
    double grown = waitNanos * Math.pow(waitMultiplier, openings - 1);
    return grown >= maxWaitNanos ? maxWaitNanos : (long) grown;
  }

  /**
   * The wait in OPEN of the opening {@code s} comes from when it is OPEN or HALF_OPEN (the
   * half-open probes follow that wait), else -1: how long its table keeps it unused.
   */
  long openWaitNanos(BreakerState s) {
    return s instanceof Open o ? waitNanos(o.openings)
        : s instanceof HalfOpen h ? waitNanos(h.openings) : -1;
  }

  /**
   * Whether {@code s} is HALF_OPEN with a probe let through that has not ended: the breaker is
   * in use however long ago that probe began, and dropped, would lose its verdict. (Two reads:
   * a probe that begins or ends between them may be missed, at that instant only.)
   */
  boolean probing(BreakerState s) {
    return s instanceof HalfOpen h && probesOut(h.permits.get(), h.outcomes.get()) > 0;
  }

  /**
   * The probes let through and not ended of a half-open state whose permits read
   * {@code permits} before its outcomes read {@code packed} (probes end after they were let
   * through).
   */
  private int probesOut(int permits, long packed) {
    return permittedInHalfOpen - permits - HalfOpen.done(packed);
  }

  /**
   * What {@code s} has recorded so far, for {@link #dropped(BreakerState, long, IntConsumer)} to
   * tell whether a probe answered since: the packed outcomes of a half-open state, else 0.
   */
  static long recorded(BreakerState s) {
    return s instanceof HalfOpen h ? h.outcomes.get() : 0;
  }

  /**
   * Installs {@code next} if the state is still {@code seen}, and then (only then) publishes the
   * transition; a thread that loses the race does nothing.
   */
  private void transition(BreakerState seen, BreakerState next) {
    if (STATE.compareAndSet(this, seen, next)) {
      installed(seen, next);
    }
  }

  /** Refuses every call until {@link #reset}. */
  public void forceOpen() {
    set(new ForcedOpen("forced open by hand"));
  }

  /** Admits every call and records nothing until {@link #reset}. */
  public void disable() {
    set(new Disabled("disabled by hand"));
  }

  /**
   * Back to CLOSED with an empty window; a breaker out of use ({@link #dropped}) is left as it
   * is: a reset racing its table's drop must not give it back a window that could open it.
   */
  public void reset(long nowNanos) {
    Closed next = new Closed(Window.create(config, nowNanos), "reset by hand");
    for (BreakerState s = state; !(s instanceof Dropped); s = state) {
      if (STATE.compareAndSet(this, s, next)) {
        installed(s, next);
        return;
      }
    }
  }

  /**
   * Takes a breaker out of use as its table drops it, only from {@code seen}, the state the
   * table listed it in (one that tripped, moved on to half-open or was set by hand since is in
   * use, and stays). From then on it admits a call that still finds it and records nothing, so
   * it can no longer open, and the outcomes of calls it admitted before go nowhere (a call
   * records into the state that admitted it, and that state is over; the key's next breaker
   * starts with an empty window). An open or half-open one (unused for its whole wait) is
   * reported to listeners as a transition to CLOSED, the state its key starts over in; a closed
   * one reports nothing. The report is made on this thread before this returns, so before the
   * breaker leaves its table and the key's next breaker reports anything: a breaker whose
   * transitions another thread is publishing (a slow listener, say) is not dropped, as that
   * thread would report the drop at any time after.
   *
   * <p>A half-open one is not dropped with a probe out, nor with a probe's answer recorded
   * since the table listed it (its state is the same: taking a probe does not replace it), nor
   * with every probe answered (its verdict about to be installed). Its probe permits are claimed
   * first, so that no probe goes out between the look and the drop; a call that finds them
   * claimed keeps the breaker (it is in use), as a state that moved since the listing does, by
   * putting a copy of the half-open state in its place (see {@link #acquireSlow}).
   *
   * @param recorded what {@code seen} had recorded when the table listed it ({@link #recorded})
   * @param steps a test hook (if not null) told each step of a half-open breaker's claim:
   *     {@link #PERMITS_READ}, {@link #LOOKED}, {@link #CLAIMED}
   * @return the state it was in (OPEN or HALF_OPEN when its closing was reported), or null,
   *     not dropped, when the state has moved since {@code seen}, a half-open one is in use, or
   *     another thread is publishing its transitions
   */
  State dropped(BreakerState seen, long recorded, IntConsumer steps) {
    if (seen instanceof Dropped || seen instanceof ForcedOpen || seen instanceof Disabled) {
      return seen.state(); // out of use already, or set by hand: left as it is
    }
    if (seen instanceof HalfOpen h) {
      // Taking a probe does not replace the state: the permits are claimed first, so that no
      // probe can go out between the look and the drop (none is out at the claim, so none can
      // give its permit back after it).
      // Nor one whose probes are all done, its verdict about to be installed. The probes out
      // are counted from the permits the claim expects, p: a probe taken after p was read
      // fails the claim, even once another probe gave its permit back (the same count, with a
      // probe out, which a second read of the permits would take for none out). A probe that
      // went out and answered since the listing changed the outcomes: its answer would go with
      // the breaker. With the outcomes as listed, none out when p was read and the permits
      // still p at the claim, no probe went out in between that is still out or answered.
      int p = h.permits.get();
      step(steps, PERMITS_READ);
      long packed = h.outcomes.get();
      if (packed != recorded || HalfOpen.done(packed) >= permittedInHalfOpen
          || probesOut(p, packed) > 0) {
        return null;
      }
      step(steps, LOOKED);
      if (!h.permits.compareAndSet(p, CLAIMED_PERMITS)) {
        return null;
      }
      try {
        step(steps, CLAIMED);
        return drop(seen);
      } finally {
        if (state == seen) {
          // Not taken out of use: another thread is publishing its transitions, or an Error
          // came first (out of memory, say). Kept, as a call that finds its permits claimed
          // keeps it (and will, if this too fails).
          keep(h);
        }
      }
    }
    return drop(seen);
  }

  /**
   * Keeps a half-open breaker whose permits its table claimed to drop it: puts in the place of
   * {@code h}, if it is still the state, a copy with the same outcomes and its permits free
   * again; the drop, from {@code h}, then fails. No probe of {@code h} was out at the claim and
   * none can go out after it, so its outcomes are final, and its free permits were the probes
   * not done. Replacing the state, not giving the permits back, leaves no instant when a probe
   * of {@code h} could go out (its answer lost) as the drop or another call replaces it.
   */
  private void keep(HalfOpen h) {
    long packed = h.outcomes.get();
    transition(h, new HalfOpen(permittedInHalfOpen - HalfOpen.done(packed), h.openings, packed,
        halfOpenWhy));
  }

  /** The permits of a half-open breaker whose table claimed them to drop it. */
  private static final int CLAIMED_PERMITS = Integer.MIN_VALUE / 2;

  /**
   * The end of a drop: out of use if still {@code seen}, and reported on this thread, with every
   * transition before it, before it returns; so before the breaker leaves its table, and before
   * the key's next breaker can report anything. It holds the publishing flag throughout: a
   * breaker whose flag another thread holds (a slow listener), or whose last transition is not
   * yet linked, is not dropped, since that thread would report the drop at any time after.
   */
  private State drop(BreakerState seen) {
    if (!PUBLISHING.compareAndSet(this, false, true)) {
      return null;
    }
    State left = null;
    try {
      if (publishHeld() == seen) {
        BreakerState next = new Dropped(seen instanceof Closed c ? c.window : null,
            "dropped after going unused for its whole open wait; the key starts over closed");
        if (STATE.compareAndSet(this, seen, next)) {
          seen.next = next;
          left = seen.state();
          publishHeld();
        }
      }
    } finally {
      publishing = false;
    }
    // A transition linked while the flag was held (a hand's since the drop) is published here.
    publishLinked();
    return left;
  }

  /**
   * A step of {@link #dropped(BreakerState, long, IntConsumer)}: a half-open breaker's permits
   * read.
   */
  static final int PERMITS_READ = 1;
  /** A step of a drop: no probe out, answered since the listing, nor verdict coming. */
  static final int LOOKED = 2;
  /** A step of a drop: the half-open breaker's permits claimed, the breaker not yet dropped. */
  static final int CLAIMED = 3;

  private static void step(IntConsumer steps, int step) {
    if (steps != null) {
      steps.accept(step);
    }
  }

  /**
   * Takes a breaker no table keeps out of use, as {@link #dropped(BreakerState, long,
   * IntConsumer)} does from any state, an open or half-open one reporting {@code why}. One set by
   * hand is left as it is.
   */
  State dropped(String why) {
    return outOfUse(why, false);
  }

  /**
   * Takes the breaker out of use as its client closes: as {@link #dropped(String)}, and one set by
   * hand too, reported as a transition to CLOSED. Nothing will call through it again, and a
   * state gauge shared with other clients (a derived client's parent) must not keep showing it.
   */
  void clientClosed() {
    outOfUse("its client was closed", true);
  }

  /**
   * Takes the breaker out of use as another breaker of its key takes its place in its table (a
   * breaker set by hand, put back after an eviction had dropped it): as {@link #clientClosed()},
   * one set by hand too. No table keeps it any more, so a call it admitted must not open it, and
   * a state it was set to must not stay in a gauge.
   */
  void replaced() {
    outOfUse("replaced in its table by the key's breaker set by hand", true);
  }

  private State outOfUse(String why, boolean byHandToo) {
    while (true) {
      BreakerState s = state;
      if (s instanceof Dropped
          || !byHandToo && (s instanceof ForcedOpen || s instanceof Disabled)) {
        return s.state();
      }
      BreakerState next = new Dropped(s instanceof Closed c ? c.window : null, why);
      // From exactly the state seen: a hand that forces it open meanwhile is not undone.
      if (STATE.compareAndSet(this, s, next)) {
        installed(s, next);
        return s.state();
      }
    }
  }

  private void set(BreakerState next) {
    installed((BreakerState) STATE.getAndSet(this, next), next);
  }

  /** What follows the installation of {@code next} in place of {@code previous}. */
  private void installed(BreakerState previous, BreakerState next) {
    previous.next = next;
    if (onClosed != null && next instanceof Closed) {
      onClosed.run();
    }
    publishLinked();
  }

  /** How long until a breaker in state {@code s} may admit a probe, as seen at {@code nowNanos}. */
  static long retryAfterNanos(BreakerState s, long nowNanos) {
    if (s instanceof Open o) {
      return Math.max(0, o.untilNanos - nowNanos);
    }
    return s instanceof ForcedOpen ? FOREVER_NANOS : 0;
  }

  /** The state and counts at {@code nowNanos}. */
  public CircuitBreaker.Snapshot snapshot(long nowNanos) {
    BreakerState s = state;
    Window.Counts k;
    if (s instanceof Closed c) {
      k = c.window.counts(nowNanos);
    } else if (s instanceof Dropped d && d.window != null) {
      k = d.window.counts(nowNanos);
    } else if (s instanceof HalfOpen h) {
      k = HalfOpen.counts(h.outcomes.get());
    } else if (s instanceof Open o) {
      k = o.counts;
    } else {
      k = Window.Counts.EMPTY;
    }
    return new CircuitBreaker.Snapshot(key, s.state(), k.failureRate(), k.slowCallRate(),
        k.calls(), k.failed(), k.slow(), Duration.ofNanos(retryAfterNanos(s, nowNanos)));
  }

  /**
   * Notes a use at {@code nowNanos}, for evicting idle breakers. A closed breaker writes at most
   * once a second, keeping its hot path free of writes; an open or half-open one at most once a
   * millisecond, since how long it sat unused decides whether its table may drop it (and forget
   * that its key is failing).
   */
  public void touch(long nowNanos) {
    touch(nowNanos, state);
  }

  /** {@link #touch(long)} with the state the caller has just read ({@link #current()}). */
  void touch(long nowNanos, BreakerState seen) {
    long since = nowNanos - lastUsedNanos;
    if (since > TOUCH_NANOS
        || since > OPEN_TOUCH_NANOS && (seen instanceof Open || seen instanceof HalfOpen)) {
      noteUse(nowNanos);
    }
  }

  long lastUsedNanos() {
    return lastUsedNanos;
  }

  /**
   * Publishes every transition linked after {@link #published}, oldest first, unless another
   * thread is at it: that thread then publishes ours too, since it looks for a link once more
   * after letting go of the flag (a link made while it held the flag is seen by that look).
   * Transitions linked out of order wait for the ones before them, whose threads publish them.
   */
  private void publishLinked() {
    while (PUBLISHING.compareAndSet(this, false, true)) {
      BreakerState last;
      try {
        last = publishHeld();
      } finally {
        publishing = false;
      }
      if (last.next == null) {
        return;
      }
    }
  }

  /**
   * Publishes, by the thread that holds the publishing flag, every transition linked after
   * {@link #published}, oldest first; returns the last published.
   */
  private BreakerState publishHeld() {
    BreakerState last = published;
    for (BreakerState n = last.next; n != null; n = last.next) {
      // Moved past before the listener runs, so one that throws an Error does not see it
      // twice; unlinked, so a token a long call keeps holds no chain of later states.
      last.next = null;
      published = n;
      publish(last.state(), n);
      last = n;
    }
    return last;
  }

  private void publish(State from, BreakerState to) {
    if (to instanceof Dropped && from == State.CLOSED) {
      // A closed breaker taken out of use: nothing a listener or a reader of the log sees moved.
      return;
    }
    if (to instanceof HalfOpen && from == State.HALF_OPEN) {
      // A call kept the breaker its table was dropping, putting a copy of its half-open state
      // in its place (see acquireSlow): nothing a listener or a reader of the log sees moved.
      return;
    }
    if (from == to.state()) {
      // Set by hand to the state it was in: logged, but no transition.
      LOG.info("circuit breaker {}: {}, {}", key, to.state(), to.why);
      return;
    }
    LOG.info("circuit breaker {}: {} -> {} ({})", key, from, to.state(), to.why);
    try {
      listener.breakerTransition(key, from, to.state());
    } catch (RuntimeException e) {
      LOG.warn("CallListener.breakerTransition threw; ignored", e);
    }
  }

  @Override
  public String toString() {
    return "Breaker[" + key + ", " + state.state() + "]";
  }

  static String human(long nanos) {
    if (nanos >= FOREVER_NANOS / 2) {
      return "never (until reset)";
    }
    if (nanos < 1_000_000_000L) {
      return String.format(Locale.ROOT, "%.1f ms", nanos / 1e6);
    }
    return String.format(Locale.ROOT, "%.3f s", nanos / 1e9);
  }

  private static String percent(double rate) {
    return String.format(Locale.ROOT, "%.1f%%", rate * 100);
  }

  /** Nanoseconds, capped at about 36 years so that adding them to a clock reading cannot wrap. */
  static long saturatedNanos(Duration d) {
    return Math.min(Long.MAX_VALUE / 8, Durations.saturatedNanos(d));
  }
}
