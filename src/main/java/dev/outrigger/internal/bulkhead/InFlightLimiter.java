package dev.outrigger.internal.bulkhead;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.TransportException;
import dev.outrigger.internal.Closing;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.KeepsClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import java.io.InterruptedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bulkhead: at most {@code maxPerHost} attempts in flight to each {@link CallContext#host()} at
 * once. OkHttp's dispatcher limits (64 in total, 5 per host) apply only to asynchronous
 * {@code enqueue}, never to the synchronous {@code execute()} that virtual threads use, so without
 * this nothing stops ten thousand virtual threads from opening ten thousand connections to one
 * service.
 *
 * <p>It runs once per attempt (inside the retry policy), so a backoff never holds a slot. An
 * attempt that finds every slot taken waits its turn, first come first served, for as long as its
 * call's deadline allows:
 *
 * <ul>
 *   <li>it gets a slot: the wait is reported to {@link CallListener#inFlightWaited} and the
 *       attempt goes on;
 *   <li>the deadline runs out first: the attempt fails with {@link DeadlineExceededException}
 *       ("no in-flight slot ..."; {@code attempts()} = attempts sent so far), nothing was sent for
 *       it, and the wait is still reported to {@code inFlightWaited};
 *   <li>the thread is interrupted: {@link TransportException} of kind {@code CANCELLED}, the
 *       interrupt status kept.
 * </ul>
 *
 * <p>A slot is released when the attempt's response has arrived (its body is buffered by then)
 * or the attempt failed. The default used by {@code ApiClient} is {@link #DEFAULT_MAX_PER_HOST}
 * (1024): high enough not to throttle normal use of one service, low enough that a runaway
 * fan-out cannot open unbounded connections.
 *
 * <p>Per-host state exists only while the host has attempts in flight or waiting, plus idle
 * hosts kept to avoid churn, so the number of keys is bounded by the hosts in use. Adaptive: up
 * to {@link #IDLE_HOSTS_KEPT} idle hosts, beyond which the one idle the longest goes. Static:
 * when a new host's first call finds the gates grown by 64 since the last look for idle ones
 * (or by half the gates that look kept, if more), it drops those idle and unused since that
 * look (see {@link #sweepGatesIfMany}). Thread-safe; waiting parks on a fair
 * {@link Semaphore}, which never pins a virtual thread.
 *
 * <p>With an {@link AdaptiveLimit} each host's limit is learnt by a {@link VegasLimit} from every
 * attempt's latency (from its send, not from its slot: an {@code Auth} hook or an attempt
 * interceptor is not the host) and outcome: a response with {@code 503} or {@code 429}, a
 * {@link TransportException} of kind {@code TIMEOUT} or a {@link DeadlineExceededException}
 * during an attempt that had twice the no-load latency to run is a drop, if the attempt went to
 * the network (one an attempt interceptor failed before sending moves nothing); any other
 * response the host sent is a latency sample (one an attempt interceptor made itself is not),
 * except a 4xx other than 429, the caller's own error, which teaches nothing; only a 2xx's
 * latency may stand for the host's no-load latency (a server error or a 304 may come fast
 * because the host did not do the work); other failures (connect errors, cancellation) teach
 * nothing. The semaphore is resized as the limit moves (shrinking lets the attempts in flight
 * finish; new ones wait until the count is below the new limit). Each change goes to
 * {@link CallListener#adaptiveLimitChanged}, on the thread whose attempt caused it, once that
 * attempt has given its slot back (a slow listener holds up its own caller, not the host's other
 * calls), unless another thread is reporting that host's limit: that thread then reports it
 * right after its own, so each host's reports come one at a time and in order, the last
 * carrying the limit in place (changes made during one report may arrive together as one). A
 * thread makes at most {@value #MAX_REPORTS_IN_A_ROW} reports in a row; a change it leaves is
 * reported at the end of the host's next attempt. A change of 10% or more
 * since the last logged value is logged at DEBUG by the thread that reports it, so the lines
 * follow the same order. Beyond {@link #IDLE_HOSTS_KEPT} idle hosts,
 * the one idle the longest loses its state and starts over from the initial limit when it is
 * used again; unless its limit was the initial one already, that return goes to
 * {@code adaptiveLimitChanged} too (on the thread whose call dropped it, or on the one already
 * reporting the host's limit, in order with the host's other reports), so a gauge of the limit
 * follows.
 */
public final class InFlightLimiter implements CallInterceptor, KeepsClock {
  /** The per-host limit of a client built with defaults. */
  public static final int DEFAULT_MAX_PER_HOST = 1024;

  /**
   * Under an adaptive limit, how many idle hosts keep their state before the one idle the
   * longest is dropped; under the static limit, the fewest gates beyond those the last look kept
   * that bring on the next look.
   */
  public static final int IDLE_HOSTS_KEPT = 64;

  /**
   * Reports a thread makes in a row, its own and those left to it, before it goes on with its
   * call (see {@link #publish}); a retired state's report is not capped.
   */
  static final int MAX_REPORTS_IN_A_ROW = 4;

  private static final Logger LOG = LoggerFactory.getLogger(InFlightLimiter.class);

  private final int maxPerHost;
  private final AdaptiveLimit adaptive;
  private final NanoClock clock;
  /** Per-host state under an adaptive limit. */
  private final ConcurrentHashMap<String, Host> hosts = new ConcurrentHashMap<>();
  /**
   * Hosts in {@link #hosts} with no user (an estimate, moved as users come and go): a call's
   * end looks for a host to drop only while there are more than {@link #IDLE_HOSTS_KEPT}, not
   * whenever more hosts than that are tracked (busy ones cannot go, and the scan is O(hosts)).
   */
  private final AtomicInteger idleHosts = new AtomicInteger();
  /**
   * Run by a reporting thread each time it has let the flag go, before it looks for a change
   * left to it (for tests: they hold a thread there). Null in use.
   */
  volatile Runnable afterReportReleased;
  /** Scans for a host to drop (for tests). */
  private final AtomicInteger scans = new AtomicInteger();
  /** Per-host state under the static limit. */
  private final ConcurrentHashMap<String, Gate> gates = new ConcurrentHashMap<>();
  /** How many gates a new host's first call finds before it looks for idle ones to drop. */
  private final AtomicInteger sweepGatesAt = new AtomicInteger(IDLE_HOSTS_KEPT);

  /**
   * @param maxPerHost attempts allowed in flight to one host at once
   * @param clock measures the time spent waiting for a slot
   * @throws IllegalArgumentException if {@code maxPerHost} is less than 1
   */
  public InFlightLimiter(int maxPerHost, NanoClock clock) {
    if (maxPerHost < 1) {
      throw new IllegalArgumentException(
          "in-flight limit per host must be at least 1, but was " + maxPerHost);
    }
    if (clock == null) {
      throw new NullPointerException("clock");
    }
    this.maxPerHost = maxPerHost;
    this.adaptive = null;
    this.clock = clock;
  }

  /**
   * An adaptive limit per host.
   *
   * @param limit how each host's limit is learnt
   * @param clock measures waits and each attempt's latency
   * @throws IllegalArgumentException if the limit's settings contradict each other
   */
  public InFlightLimiter(AdaptiveLimit limit, NanoClock clock) {
    if (clock == null) {
      throw new NullPointerException("clock");
    }
    this.adaptive = limit.checked();
    this.maxPerHost = limit.max();
    this.clock = clock;
  }

  public int maxPerHost() {
    return maxPerHost;
  }

  /**
   * Runs one attempt under the host's limit. Under an adaptive limit the attempt's sample moves
   * the limit while the attempt still holds its slot, but the change is reported only once the
   * slot is given back ({@link #ended}): a slow listener holds up its own caller, not the host's
   * other calls.
   */
  @Override
  public Response intercept(Chain chain) {
    CallContext ctx = chain.context();
    String key = ctx.host();
    if (adaptive == null) {
      return throughGate(chain, ctx, key);
    }
    Host host = join(key);
    try {
      acquire(host, ctx);
    } catch (RuntimeException | Error e) {
      leave(key, host, clock.nanoTime(), ctx);
      throw e;
    }
    int inFlight = host.inFlight.incrementAndGet();
    Response response;
    try {
      response = attempt(chain, host, ctx, inFlight);
    } catch (Throwable t) {
      ended(key, host, ctx, null, t);
      throw t;
    }
    ended(key, host, ctx, response, null);
    return response;
  }

  /**
   * The attempt itself, holding a slot of {@code host}: sends it and feeds its outcome to the
   * host's estimator, which may move the limit (reported later, by {@link #ended}).
   */
  private Response attempt(Chain chain, Host host, CallContext ctx, int inFlight) {
    long start = RealCallContext.recentNanos(ctx, clock);
    int sentBefore = ctx.attemptsSent();
    try {
      Response response = chain.proceed(chain.request());
      // Only an answer from the host says anything of it: not one an attempt interceptor made
      // itself (a cache, a stub), whose latency would pass for the host's no-load latency.
      if (ctx.attemptsSent() > sentBefore) {
        try {
          answered(host, ctx, sentAt(ctx, sentBefore, start), inFlight, response.code());
        } catch (Throwable t) {
          // The estimator failed (nothing of a listener's runs here any more): the answer goes
          // nowhere, so its body is closed here.
          response.close();
          throw t;
        }
      }
      return response;
    } catch (DeadlineExceededException e) {
      // Only an attempt that went out was cut; one refused before sending says nothing. Nor
      // does one whose budget, when it was sent, was too short for even an unloaded answer (a
      // caller's own tight deadline, or time spent waiting here or in an Auth hook): counting
      // it would let one hurried caller, or the queue itself, cut the limit for every caller.
      if (ctx.attemptsSent() > sentBefore) {
        long sent = sentAt(ctx, sentBefore, start);
        if (hadTime(host, ctx, sent)) {
          sample(host, ctx, sent, inFlight, true, false);
        }
      }
      throw e;
    } catch (HttpStatusException e) {
      // A status an attempt interceptor threw rather than returned; one of another host's (a
      // user interceptor calling another API) says nothing of this one.
      if (ctx.attemptsSent() > sentBefore && Failures.hostStatus(e, ctx) != null) {
        answered(host, ctx, sentAt(ctx, sentBefore, start), inFlight, e.status());
      }
      throw e;
    } catch (TransportException e) {
      // A timeout an attempt interceptor threw before sending is its own: the host never saw
      // the attempt.
      if (e.kind() == TransportException.Kind.TIMEOUT && ctx.attemptsSent() > sentBefore) {
        sample(host, ctx, sentAt(ctx, sentBefore, start), inFlight, true, false);
      }
      throw e;
    }
  }

  /**
   * The end of an attempt on {@code host}, however it ended ({@code response} its answer, or
   * {@code failure} what it threw): gives its slot back, then reports the host's limit if it
   * differs from the last one reported ({@link #unreported}: the attempt's own change, one
   * another attempt made meanwhile, or one a reporter left at its cap), then unregisters the
   * caller ({@link #leave}, which may drop another idle host and report that). The report comes
   * after the slot is released, so a slow listener keeps no slot from the host's other calls,
   * and before {@code leave}, so the caller is still a user of {@code host} and it cannot be
   * retired while the caller reports it.
   *
   * <p>A listener's exceptions are logged and ignored ({@link #reportChange}); what gets through
   * (an {@link Error} that {@code Listeners} passes on, say out of memory) goes to the caller,
   * the slot already given back and the caller unregistered all the same, and {@code response},
   * which then goes nowhere, closed; the attempt's own {@code failure}, if any, is kept as
   * suppressed.
   */
  private void ended(
      String key, Host host, CallContext ctx, Response response, Throwable failure) {
    host.inFlight.decrementAndGet();
    host.slots.release();
    // Dated at its end, not its start: a host whose long attempt ended a moment ago was not
    // idle all that time, and must not be dropped as the one idle the longest. The reading
    // the transport (or a sample) made at the attempt's end, when there is one, taken before
    // any listener runs.
    long endedAt = RealCallContext.recentNanos(ctx, clock);
    try {
      try {
        if (unreported(host)) {
          publish(host, ctx, key);
        }
      } finally {
        leave(key, host, endedAt, ctx);
      }
    } catch (Throwable t) {
      if (response != null) {
        response.close();
      }
      if (failure != null && failure != t) {
        t.addSuppressed(failure);
      }
      throw t;
    }
  }

  /**
   * When the attempt went to the network ({@code slotNanos}, when it got its slot, if the
   * transport did not say): its latency runs from there. What ran in between (an
   * {@code Auth} hook fetching a token, an attempt interceptor of the user's) is not the host's
   * latency; taken for it, it read as queueing and cut the limit, and it made a deadline that
   * hook had spent look like the host's fault.
   */
  private long sentAt(CallContext ctx, int sentBefore, long slotNanos) {
    return RealCallContext.sentNanos(ctx, clock, sentBefore, slotNanos);
  }

  /**
   * Feeds an answer with {@code code} to the host's estimator: 503 and 429 are drops; any other
   * 4xx is the caller's own error (a 404, a 401) and says nothing of the host's load; only a
   * 2xx may set the no-load latency: a server error, or a 304 to a conditional GET, is timed
   * but may be fast because the host did not do the work. A fast 404 taken as the no-load
   * latency made every answer after it look queued, and held the limit at its minimum for up to
   * two {@code rttWindow}s.
   */
  private void answered(Host host, CallContext ctx, long start, int inFlight, int code) {
    if (code == 503 || code == 429) {
      sample(host, ctx, start, inFlight, true, false);
    } else if (Failures.isSuccess(code)) {
      sample(host, ctx, start, inFlight, false, true);
    } else if (code < 400 || code >= 500) {
      sample(host, ctx, start, inFlight, false, false);
    }
  }

  /**
   * Whether an attempt sent at {@code start} had at least twice the host's no-load latency
   * left of its deadline: enough that a cut says the host was slow. Before the host
   * has answered once, its no-load latency is unknown and a cut says nothing either; nor after
   * two {@code rttWindow}s without a sample, as the next sample forgets it: a latency from an
   * hour ago says nothing of what the host needs now.
   */
  private boolean hadTime(Host host, CallContext ctx, long start) {
    if (!(ctx instanceof RealCallContext real)) {
      return true;
    }
    long noLoad = host.vegas.noLoadRttNanos(RealCallContext.recentNanos(ctx, clock));
    return noLoad > 0 && real.remainingNanos(start) >= 2 * noLoad;
  }

  /**
   * Feeds one attempt to the host's estimator and resizes its slots; {@code noLoad}: whether its
   * latency may be taken as the host's no-load latency. A change is not reported here, while the
   * attempt holds its slot, but at the attempt's end ({@link #ended}); what made it is kept for
   * the DEBUG line of whoever reports it.
   */
  private void sample(
      Host host, CallContext ctx, long start, int inFlight, boolean dropped, boolean noLoad) {
    // The end of the attempt as the transport read it (or a reading now): one clock reading
    // serves this sample and the host's date of last use.
    host.vegas.onSample(RealCallContext.recentNanos(ctx, clock), start, inFlight, dropped, noLoad);
    if (!host.apply()) {
      return;
    }
    // Only after a change: the reason the DEBUG line gives (written by whoever reports it).
    host.reports.cause = dropped ? "drop" : "latency";
  }

  /**
   * Whether {@code host}'s limit differs from the last one reported for its key: a change not
   * reported yet. The check every attempt makes at its end, so two volatile reads and a
   * compare, nothing more. {@code host} is a state in use (the caller is one of its users), so
   * its limit is the one its reports carry.
   */
  private static boolean unreported(Host host) {
    return host.limitNow() != host.reports.reported;
  }

  /**
   * Reports {@code h}'s key's limit to {@code ctx}'s listener if it moved since the last report,
   * unless another thread is reporting it: that thread then reports this change too, as it looks
   * once more after letting go. So one key's reports come one at a time and in order, each
   * starting from the last one's limit, and the last carries the limit in place: reports made
   * straight from each thread's own change could cross, and a gauge would keep the older limit.
   * Called at the end of an attempt, after its slot is released ({@link #ended}), or for a state
   * just dropped ({@link #leave}): its limit is the initial one again, as {@link #limit} now says
   * and as it starts over when used again (without that report, a gauge fed by
   * {@link CallListener#adaptiveLimitChanged} would show the dropped state's limit for ever).
   * Nothing is reported when the limit last reported was the initial one already: compared with
   * that, not with the state's limit, as a change a reporter left at its cap may still be
   * unreported when the host goes idle.
   *
   * <p>A dropped state leaves the map when the thread holding the flag has read it retired under
   * the flag, reported it, and finds nothing left to report once it lets go: the thread that
   * dropped it, or the one already reporting the key (a slow listener still busy with an earlier
   * drop), which then reports this one too. Removed any sooner, it would let a state made
   * afresh, with reports of its own, report its changes before that thread's. A thread that reads
   * the state retired only after letting go looks again, under the flag, or leaves it to the
   * thread that took the flag: no state is left retired in the map, and none leaves it while
   * its report runs.
   *
   * <p>While the key's state is in use, a thread makes at most {@link #MAX_REPORTS_IN_A_ROW}
   * passes, then goes on with its call: without that, changes other calls made while it
   * reported could keep it reporting for as long as they kept coming, its own call held
   * meanwhile. What it leaves is a change with the flag free, which the end of the host's next
   * attempt finds ({@link #unreported}) and reports (a change no attempt follows is reported by
   * none, unless the state is dropped: see {@link #leave}). The report of a retired state, its
   * return to the initial limit, is not capped: no attempt of that state will come to report
   * it.
   */
  private void publish(Host h, CallContext ctx, String key) {
    Reports r = h.reports;
    for (int pass = 1; r.reporting.compareAndSet(false, true); pass++) {
      // The state reported for, and whether it was retired, as read under the flag.
      Host seen = r.live;
      boolean retired = seen.retired();
      int now = retired ? adaptive.initial() : seen.limitNow();
      try {
        int last = r.reported;
        if (now != last) {
          // Moved on before the listener runs: one that throws an Error is not told twice.
          r.reported = now;
          if (LOG.isDebugEnabled()) {
            // Logged here, under the flag, so the log follows the reports' order.
            log(r, key, seen, retired, now);
          } else {
            // Kept up while DEBUG is off, so that a line after it is turned on starts from here.
            r.logged = now;
          }
          reportChange(ctx, key, last, now);
        }
      } catch (Throwable t) {
        // A listener's Error (out of memory, say): this thread reports no more.
        r.reporting.set(false);
        removeRetiredAfterError(r, key);
        throw t;
      }
      r.reporting.set(false);
      Runnable hook = afterReportReleased;
      if (hook != null) {
        hook.run();
      }
      // A change made while this thread held the flag was left to it: a new limit, a successor
      // in the state's place, or the state retired.
      Host live = r.live;
      if (live == seen && live.retired() == retired && (retired || live.limitNow() == now)) {
        if (retired) {
          // Reported, with nothing left to report: it leaves the map (see leave).
          hosts.remove(key, seen);
        }
        return;
      }
      if (pass >= MAX_REPORTS_IN_A_ROW && !live.retired()) {
        return; // enough: the change left now is the next attempt's, as above
      }
    }
  }

  /**
   * After a listener's Error stopped this thread's reports of {@code r}: a state retired while it
   * held the flag was left to it, and would otherwise stay in the map for ever (a retired state is
   * never idle, so no scan takes it). Under the flag, so that no other thread is reporting the key
   * meanwhile, the state in place leaves the map if it is retired; its return to the initial limit
   * goes unreported, the listener having failed. A change of a state in use is left to the end of
   * that state's next attempt ({@link #unreported}). If another thread has taken the flag, it
   * looks after what is left once it lets go, as always.
   */
  private void removeRetiredAfterError(Reports r, String key) {
    if (!r.reporting.compareAndSet(false, true)) {
      return;
    }
    try {
      Host live = r.live;
      if (live.retired()) {
        hosts.remove(key, live);
      }
    } finally {
      r.reporting.set(false);
    }
  }

  /**
   * Logs at DEBUG that {@code key}'s limit is {@code now}, if it moved 10% or more since the last
   * line (or back to the initial limit, its state dropped). Called only by the thread reporting
   * {@code r}, so the lines come in the order of the reports, each from the last one's limit.
   */
  private static void log(Reports r, String key, Host live, boolean retired, int now) {
    int logged = r.logged;
    if (retired) {
      if (now != logged) {
        r.logged = now;
        LOG.debug("adaptive in-flight limit for {}: {} -> {} (idle, state dropped)", key, logged,
            now);
      }
      return;
    }
    if (Math.abs(now - logged) * 10 < logged) {
      return;
    }
    r.logged = now;
    // Before the host's first timed 2xx (drops only, so far) there is none: not "0 us".
    long noLoadNanos = live.vegas.noLoadRttNanos();
    LOG.debug("adaptive in-flight limit for {}: {} -> {} ({}; no-load latency {})", key, logged,
        now, r.cause, noLoadNanos < 0 ? "unknown" : noLoadNanos / 1000 + " us");
  }

  /** Tells {@code ctx}'s listener that {@code host}'s limit moved; a listener's throw is logged. */
  private static void reportChange(CallContext ctx, String host, int from, int to) {
    if (ctx instanceof RealCallContext real) {
      try {
        real.listener().adaptiveLimitChanged(host, from, to);
      } catch (RuntimeException e) {
        LOG.warn("CallListener.adaptiveLimitChanged threw; ignored", e);
      }
    }
  }

  private void acquire(Host host, CallContext ctx) {
    try {
      // tryAcquire(0, unit), unlike tryAcquire(), honours the queue: no barging past waiters.
      if (host.slots.tryAcquire(0, TimeUnit.NANOSECONDS)) {
        return;
      }
      Deadline deadline = ctx.deadline();
      long start = clock.nanoTime();
      boolean acquired;
      Closing.Waiter waiter = Closing.enter(ctx, "an in-flight slot to " + ctx.host());
      InterruptedException cut = null;
      try {
        if (deadline == null) {
          host.slots.acquire();
          acquired = true;
        } else {
          long remaining = deadline.remainingNanos();
          acquired = remaining > 0 && host.slots.tryAcquire(remaining, TimeUnit.NANOSECONDS);
        }
      } catch (InterruptedException e) {
        // A wait cut short (the caller's interrupt, or close()): reported as any wait, below.
        cut = waiter.interrupted(e);
        acquired = false;
      } finally {
        waiter.leave();
      }
      Duration waited = Duration.ofNanos(Math.max(0, clock.nanoTime() - start));
      RealCallContext.staleClock(ctx);
      try {
        reportWait(ctx, waited);
      } catch (Error e) {
        // A listener's Error (its exceptions are caught there): the slot must not leak with it.
        if (acquired) {
          host.slots.release();
        }
        throw e;
      }
      if (cut != null) {
        throw cancelled(ctx, cut);
      }
      if (!acquired) {
        throw new DeadlineExceededException(
            describe(ctx) + ": no in-flight slot to " + ctx.host() + " within the deadline (waited "
                + waited.toMillis() + " ms; " + host.limitNow() + " attempts in flight to it at "
                + "most, adaptive)",
            RealCallContext.lastFailure(ctx),
            ctx.attemptsSent());
      }
    } catch (InterruptedException e) {
      throw cancelled(ctx, e);
    }
  }

  /**
   * An attempt under the static limit: one compare-and-set to take a free slot and one atomic
   * decrement to give it back ({@link Gate}); a wait only when every slot is taken.
   */
  private Response throughGate(Chain chain, CallContext ctx, String key) {
    if (Thread.interrupted()) {
      // As a wait would: an interrupted caller sends nothing.
      throw cancelled(ctx, new InterruptedException());
    }
    Gate gate;
    int before;
    while (true) {
      gate = gates.get(key);
      boolean made = false;
      if (gate == null) {
        Gate created = new Gate(maxPerHost);
        gate = gates.putIfAbsent(key, created);
        if (gate == null) {
          gate = created;
          made = true;
        }
      }
      before = gate.join();
      if (before >= 0) {
        if (made) {
          // A new host's first call (joined first, so the look cannot take its gate).
          sweepGatesIfMany();
        }
        break;
      }
      // Swept while idle: drop it (if still mapped) and use a fresh one.
      gates.remove(key, gate);
    }
    if (before >= maxPerHost) {
      awaitSlot(gate, ctx);
    }
    try {
      return chain.proceed(chain.request());
    } finally {
      countOut(gate, true);
    }
  }

  /**
   * Drops the gates idle and unused since the last look, once the gates outnumber those the
   * last look kept ({@code k}) by {@code max(64, k / 2)}. Runs only at a new host's first call,
   * so a known host's calls never pay for it, and a host used between two looks keeps its gate:
   * dropping each gate as it went idle once more than 64 were tracked, busy ones included, made
   * a fresh gate at nearly every call of every host whenever a client used more than 64. A look
   * is a pass over the gates, once per {@code max(64, k / 2)} new hosts, so its cost per new
   * host stays constant. A busy gate is never dropped, and an idle one holds nothing, so a fresh
   * gate made in its place rightly starts with every slot free.
   */
  private void sweepGatesIfMany() {
    int at = sweepGatesAt.get();
    // One look at a time: the others go on.
    if (gates.size() <= at || !sweepGatesAt.compareAndSet(at, Integer.MAX_VALUE)) {
      return;
    }
    int kept = 0;
    try {
      for (Map.Entry<String, Gate> e : gates.entrySet()) {
        if (e.getValue().sweep()) {
          gates.remove(e.getKey(), e.getValue());
        } else {
          kept++;
        }
      }
    } finally {
      sweepGatesAt.set(kept + Math.max(IDLE_HOSTS_KEPT, kept / 2));
    }
  }

  /**
   * Waits for a slot handed over by a leaving attempt, as long as the deadline allows. On any
   * way out but with a slot, the attempt is counted out of {@code gate} first.
   */
  private void awaitSlot(Gate gate, CallContext ctx) {
    boolean acquired = false;
    boolean counted = true;
    try {
      Deadline deadline = ctx.deadline();
      long start = clock.nanoTime();
      Closing.Waiter waiter = Closing.enter(ctx, "an in-flight slot to " + ctx.host());
      InterruptedException cut = null;
      try {
        acquired = gate.await(deadline == null ? Long.MAX_VALUE : deadline.remainingNanos());
      } catch (InterruptedException e) {
        // A wait cut short (the caller's interrupt, or close()): reported as any wait, below.
        cut = waiter.interrupted(e);
      } finally {
        waiter.leave();
      }
      Duration waited = Duration.ofNanos(Math.max(0, clock.nanoTime() - start));
      if (!acquired) {
        counted = false;
        countOut(gate, false);
      }
      RealCallContext.staleClock(ctx);
      reportWait(ctx, waited);
      if (cut != null) {
        throw cancelled(ctx, cut);
      }
      if (!acquired) {
        throw new DeadlineExceededException(
            describe(ctx) + ": no in-flight slot to " + ctx.host() + " within the deadline (waited "
                + waited.toMillis() + " ms; " + maxPerHost + " attempts in flight to it at most)",
            RealCallContext.lastFailure(ctx),
            ctx.attemptsSent());
      }
    } catch (RuntimeException | Error e) {
      // A listener's Error (its exceptions are caught there), or anything else unforeseen:
      // neither a slot nor a place in the count may leak with it.
      if (counted) {
        countOut(gate, acquired);
      }
      throw e;
    }
  }

  /** Counts the caller out of {@code gate}: a holder leaves, a waiter gives up. */
  private static void countOut(Gate gate, boolean holding) {
    if (holding) {
      gate.leave();
    } else {
      gate.giveUp();
    }
  }

  /** Registers the caller as a user of {@code key}'s state, creating it if needed. */
  private Host join(String key) {
    Host h = hosts.get(key);
    while (true) {
      if (h == null) {
        Host created = new Host(
            adaptive.initial(), new VegasLimit(adaptive, clock::nanoTime), (Reports) null);
        h = hosts.putIfAbsent(key, created);
        if (h == null) {
          h = created;
          idleHosts.incrementAndGet(); // in the map with no user yet
        }
      }
      int before = h.enter();
      if (before >= 0) {
        if (before == 0) {
          idleHosts.decrementAndGet();
        }
        return h;
      }
      // h was retired after its last user left, and a thread (the one that retired it, or one
      // already reporting the key) may still be reporting its return to the initial limit: a
      // fresh state takes its place and its reports, so that its own changes are reported
      // after that return, never before it.
      h = succeed(key, h);
    }
  }

  /**
   * Puts a fresh state in the place of {@code retired}, reporting through its {@link Reports};
   * returns the state now mapped to {@code key} (null if none). Only the first successor claims
   * the reports, and it does before it is mapped: once mapped, its changes are read by any
   * report, its own or one in progress.
   */
  private Host succeed(String key, Host retired) {
    Reports r = retired.reports;
    if (r.live == retired) {
      // Made only while nobody has claimed the reports yet: a caller that finds them claimed
      // waits for that successor without building one of its own on every pass.
      Host next = new Host(adaptive.initial(), new VegasLimit(adaptive, clock::nanoTime), r);
      if (r.claim(retired, next) && hosts.replace(key, retired, next)) {
        idleHosts.incrementAndGet(); // in the map with no user yet
        return next;
      }
    }
    // Another successor is taking its place, or the thread that reported its drop removed it
    // first (that report was over by then: it is removed only after it, see publish).
    Host now = hosts.get(key);
    if (now == retired) {
      // The successor that claimed the reports is about to be mapped: give the carrier up
      // rather than spin on it (a virtual thread's carrier may be the one it needs).
      Thread.yield();
    }
    return now;
  }

  /**
   * Unregisters the caller, whose use of {@code h} is dated {@code usedNanos}. When it was the
   * last user and more than {@link #IDLE_HOSTS_KEPT} hosts are idle, the host idle the longest
   * loses its state: not this one, which was in use a moment ago and would otherwise
   * start over from its initial limit at every call. The dropped host's return to its initial
   * limit goes to {@code ctx}'s listener.
   */
  private void leave(String key, Host h, long usedNanos, CallContext ctx) {
    // Dated before it can look idle, so a scan never takes it for the oldest on a stale date.
    h.lastUsedNanos = usedNanos;
    if (!h.leave()) {
      return;
    }
    if (idleHosts.incrementAndGet() <= IDLE_HOSTS_KEPT) {
      return;
    }
    scans.incrementAndGet();
    String oldestKey = null;
    Host oldest = null;
    for (Map.Entry<String, Host> e : hosts.entrySet()) {
      Host other = e.getValue();
      if (other != h && other.idle()
          && (oldest == null || other.lastUsedNanos - oldest.lastUsedNanos < 0)) {
        oldest = other;
        oldestKey = e.getKey();
      }
    }
    // With every other host in use, nothing goes: the state is bounded by the hosts in use
    // plus those kept idle, and the idle ones beyond the bound go one per call as hosts leave.
    if (oldest != null && oldest.retire()) {
      idleHosts.decrementAndGet();
      // Reported before it leaves the map, and removed by whoever reports it (this thread, or
      // one already reporting the key: see publish): a caller that finds it retired in the
      // meantime puts a fresh state in its place that reports through the same Reports, after
      // this report. Once it is removed, the key's reports are over, and a fresh state made then
      // reports after them.
      publish(oldest, ctx, oldestKey);
    }
  }

  private static void reportWait(CallContext ctx, Duration waited) {
    if (!(ctx instanceof RealCallContext real)) {
      return;
    }
    try {
      real.listener().inFlightWaited(ctx, waited);
    } catch (RuntimeException e) {
      LOG.warn("CallListener.inFlightWaited threw; ignored", e);
    }
  }

  private static TransportException cancelled(CallContext ctx, InterruptedException e) {
    if (ctx instanceof RealCallContext real) {
      return Failures.cancelled(real, e);
    }
    Thread.currentThread().interrupt();
    InterruptedIOException cause = new InterruptedIOException("interrupted");
    cause.initCause(e);
    return new TransportException(
        describe(ctx) + " was interrupted", cause, ctx.attemptsSent(),
        TransportException.Kind.CANCELLED);
  }

  private static String describe(CallContext ctx) {
    return ctx instanceof RealCallContext real ? real.describe() : ctx.method() + " " + ctx.host();
  }

  /** {@code host}'s gate under the static limit, null if it has none (for tests). */
  Gate gate(String host) {
    return gates.get(host);
  }

  /** Attempts in flight to {@code host} now (for diagnostics and tests). */
  public int inFlight(String host) {
    if (adaptive == null) {
      Gate g = gates.get(host);
      return g == null ? 0 : g.holding();
    }
    Host h = hosts.get(host);
    if (h == null) {
      return 0;
    }
    return h.inFlight.get();
  }

  /** The current limit for {@code host}: the static one, or the adaptive one learnt so far. */
  public int limit(String host) {
    if (adaptive == null) {
      return maxPerHost;
    }
    Host h = hosts.get(host);
    if (h == null || h.retired()) {
      return adaptive.initial();
    }
    return h.limitNow();
  }

  /**
   * The latency taken as {@code host}'s without queueing, in nanoseconds: -1 under the static
   * limit, or before the host's first answer since its state was made (for tests).
   */
  long noLoadRttNanos(String host) {
    Host h = adaptive == null ? null : hosts.get(host);
    return h == null ? -1 : h.vegas.noLoadRttNanos();
  }

  /** Attempts waiting for a slot to {@code host} now (an estimate, for diagnostics and tests). */
  public int waiting(String host) {
    if (adaptive == null) {
      Gate g = gates.get(host);
      return g == null ? 0 : g.waiting();
    }
    Host h = hosts.get(host);
    return h == null ? 0 : h.slots.getQueueLength();
  }

  /** How many times a call's end looked for an idle host to drop (for tests). */
  int scans() {
    return scans.get();
  }

  /**
   * How many hosts have state now. Adaptive: those in use plus at most {@link #IDLE_HOSTS_KEPT}
   * idle, plus dropped ones whose report a slow listener still holds up (see {@link #publish}).
   * Static: at most {@code k + max(IDLE_HOSTS_KEPT, k / 2) + 1} (plus new hosts whose first calls
   * race a look), {@code k} being the hosts the last look kept: those in use or used
   * since the look before.
   */
  public int hostsTracked() {
    return adaptive == null ? gates.size() : hosts.size();
  }

  @Override
  public String toString() {
    if (adaptive != null) {
      return "InFlightLimit[adaptive per host: " + adaptive + "]";
    }
    return "InFlightLimit[" + maxPerHost + " per host]";
  }

  /**
   * One host's state under an adaptive limit: its slots and how many threads use them (holding
   * or waiting), its attempts in flight and its estimator. {@code users} is -1
   * once retired: a retired state is never used again, so the one that replaces it in the map
   * starts with every slot free, which is true because nobody used the old one.
   */
  static final class Host {
    final Slots slots;
    final AtomicInteger users = new AtomicInteger();
    final AtomicInteger inFlight = new AtomicInteger(); // attempts in flight
    final VegasLimit vegas;
    /** The limit the permits should reflect: the estimator's ({@code vegas::limit}). */
    private final IntSupplier target;
    final AtomicInteger applied; // the limit the semaphore's permits reflect
    /** The reports of its key's limit: its own, or those of the retired state it replaces. */
    final Reports reports;

    /** A state starting at {@code max}, with reports of its own ({@code reports} null). */
    Host(int max, VegasLimit vegas, Reports reports) {
      this(max, vegas, vegas::limit, reports);
    }

    /** With the limit to follow read through {@code target} (tests interleave a race there). */
    Host(int max, VegasLimit vegas, IntSupplier target) {
      this(max, vegas, target, null);
    }

    private Host(int max, VegasLimit vegas, IntSupplier target, Reports reports) {
      slots = new Slots(max);
      this.vegas = vegas;
      this.target = target;
      applied = new AtomicInteger(max);
      this.reports = reports != null ? reports : new Reports(max, this);
    }

    int limitNow() {
      return applied.get();
    }

    /**
     * Moves the semaphore's permits to the estimator's limit. Each successful CAS of
     * {@code applied} owns exactly the difference it adjusts, so concurrent callers never
     * double-count. A caller that moved it looks again, until it reads the limit in place: the
     * target it read may have been overtaken before its CAS by another sample, whose caller
     * applied the newer limit in the meantime, and the stale target's win would otherwise stand
     * until the host's next sample. Returns true if this caller moved the limit at all, even
     * if it moved it back where it was: a report made meanwhile may carry the value between.
     */
    boolean apply() {
      boolean moved = false;
      while (true) {
        int t = target.getAsInt();
        int current = applied.get();
        if (t == current) {
          return moved;
        }
        if (applied.compareAndSet(current, t)) {
          if (t > current) {
            slots.release(t - current);
          } else {
            slots.reduce(current - t);
          }
          moved = true;
        }
      }
    }

    /** When its last user left (the limiter's clock); for choosing which idle host to drop. */
    volatile long lastUsedNanos;

    /** Registers a user; returns the users before it, or -1 if this state is retired. */
    int enter() {
      while (true) {
        int u = users.get();
        if (u < 0) {
          return -1;
        }
        if (users.compareAndSet(u, u + 1)) {
          return u;
        }
      }
    }

    /** Returns true if the caller was the last user. */
    boolean leave() {
      return users.decrementAndGet() == 0;
    }

    boolean retire() {
      return users.compareAndSet(0, -1);
    }

    boolean idle() {
      return users.get() == 0;
    }

    boolean retired() {
      return users.get() < 0;
    }
  }

  /**
   * The reports of one key's limit to listeners: the limit last reported, written only by the
   * thread holding {@link #reporting}, and the state whose limit a report carries. A state made
   * to replace a retired one takes its reports over, so one key's reports stay in order across
   * the drop of its state. Reports are made after the attempt's slot is released, at most
   * {@link #MAX_REPORTS_IN_A_ROW} in a row by one thread while the state is in use (see
   * {@link InFlightLimiter#publish}).
   */
  static final class Reports {
    final AtomicBoolean reporting = new AtomicBoolean();
    /**
     * The limit last reported: written only by the thread holding {@link #reporting}; volatile so
     * that the end of every attempt can tell, without the flag, whether a change is unreported
     * ({@link InFlightLimiter#unreported}).
     */
    volatile int reported;
    /** The limit last logged at DEBUG (guarded by {@link #reporting}). */
    int logged;
    /**
     * What made the latest change of the limit, "drop" or "latency", for the DEBUG line: written
     * by the thread that made it, read by the one that logs it (perhaps another).
     */
    volatile String cause = "latency";
    /** The state in use for the key (or retired, and not yet replaced). */
    volatile Host live;

    Reports(int reported, Host live) {
      this.reported = reported;
      this.logged = reported;
      this.live = live;
    }

    private static final VarHandle LIVE;

    static {
      try {
        LIVE = MethodHandles.lookup().findVarHandle(Reports.class, "live", Host.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** Makes {@code next} the state reported for, if {@code retired} still is. */
    boolean claim(Host retired, Host next) {
      return LIVE.compareAndSet(this, retired, next);
    }
  }

  /** A fair semaphore whose permits can be taken away (going negative while attempts finish). */
  static final class Slots extends Semaphore {
    private static final long serialVersionUID = 1L;

    Slots(int permits) {
      super(permits, true);
    }

    void reduce(int n) {
      reducePermits(n);
    }
  }
}
