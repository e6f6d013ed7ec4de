package dev.outrigger.internal.jfr;

import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.internal.Outcome;
import dev.outrigger.internal.RealCallContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import jdk.jfr.FlightRecorder;
import jdk.jfr.FlightRecorderListener;
import jdk.jfr.Recording;
import jdk.jfr.RecordingState;

/**
 * Turns listener events into JDK Flight Recorder events ({@code dev.outrigger.*}), which are
 * enabled and disabled like any JFR event. Every client has one, after the user's listeners.
 *
 * <p>Cost when no recording is running: the per-call events read one volatile flag, kept by a
 * {@code FlightRecorderListener}, and stop there; the rarer ones (retries, waits, transitions)
 * allocate an event object and ask {@code shouldCommit()}. Call and attempt events are timed
 * from start to end (begun at {@code callStart}/{@code attemptStart}, kept in the call's
 * context fields only while a recording wants them) and recorded only above their threshold
 * (20 ms by default, like {@code jdk.SocketRead}); the rest are instant events recorded every
 * time. A call already running when a recording starts gets no call event.
 *
 * <p>Thread-safe. Its only state is the process-wide "a recording runs" flag.
 */
public final class JfrListener implements CallListener {
  /** The one instance. */
  public static final JfrListener INSTANCE = new JfrListener();

  private static final boolean AVAILABLE =
      ModuleLayer.boot().findModule("jdk.jfr").isPresent();

  private JfrListener() {}

  /**
   * Whether any JFR recording is running, kept by a {@code FlightRecorderListener} (registering
   * one does not start JFR). The per-call events check this first: with no recording, a call
   * costs one volatile read here instead of two event objects and their checks, which escape
   * analysis did not always remove in a call as deep as a client's.
   */
  private static final class Recordings implements FlightRecorderListener {
    static volatile boolean running;

    static {
      if (AVAILABLE) {
        try {
          FlightRecorder.addListener(new Recordings());
        } catch (RuntimeException | Error e) {
          // Cannot tell when recordings run: check the events on every call.
          running = true;
        }
      }
    }

    @Override
    public void recorderInitialized(FlightRecorder recorder) {
      update(recorder);
    }

    @Override
    public void recordingStateChanged(Recording recording) {
      update(FlightRecorder.getFlightRecorder());
    }

    /** Orders updates: the last notification reads and writes the latest states. */
    private static final ReentrantLock UPDATE = new ReentrantLock();

    private static void update(FlightRecorder recorder) {
      UPDATE.lock();
      try {
        boolean any = false;
        for (Recording r : recorder.getRecordings()) {
          any |= r.getState() == RecordingState.RUNNING;
        }
        running = any;
      } catch (RuntimeException | Error e) {
        running = true;
      } finally {
        UPDATE.unlock();
      }
    }
  }

  /** Whether a JFR recording is running (a call's events are skipped when none is). */
  static boolean recording() {
    return Recordings.running;
  }

  /**
   * Whether {@code listener} ignores the {@code elapsed} of call and attempt ends (it is this one,
   * which times its events itself, or none): the client then makes no {@code Duration} for it,
   * and passes null.
   */
  public static boolean ignoresElapsed(CallListener listener) {
    return listener == INSTANCE || listener == CallListener.NONE;
  }

  /**
   * {@code listeners} followed by the JFR listener, or a copy of {@code listeners} alone when the
   * runtime has no {@code jdk.jfr} module (a trimmed jlink image).
   */
  public static List<CallListener> appendTo(List<CallListener> listeners) {
    List<CallListener> all = new ArrayList<>(listeners.size() + 1);
    all.addAll(listeners);
    if (AVAILABLE) {
      all.add(INSTANCE);
    }
    return all;
  }

  @Override
  public void callStart(CallContext call) {
    if (!Recordings.running) {
      return;
    }
    CallEvent e = new CallEvent();
    if (e.isEnabled() && call instanceof RealCallContext ctx) {
      e.begin();
      ctx.jfrCall(e);
    }
  }

  @Override
  public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
    if (!(call instanceof RealCallContext ctx) || !(ctx.jfrCall() instanceof CallEvent e)) {
      return;
    }
    ctx.jfrCall(null);
    e.end();
    if (e.shouldCommit()) {
      e.host = call.host();
      e.method = call.method();
      e.url = url(call);
      e.status = status;
      e.attempts = call.attemptsSent();
      e.outcome = Outcome.of(status, error);
      e.error = error == null ? null : error.toString();
      e.commit();
    }
  }

  @Override
  public void attemptStart(CallContext call) {
    if (!Recordings.running) {
      return;
    }
    AttemptEvent e = new AttemptEvent();
    if (e.isEnabled() && call instanceof RealCallContext ctx) {
      e.begin();
      ctx.jfrAttempt(e);
    }
  }

  @Override
  public void attemptEnd(CallContext call, int status, Throwable error, Duration elapsed) {
    if (!(call instanceof RealCallContext ctx) || !(ctx.jfrAttempt() instanceof AttemptEvent e)) {
      return;
    }
    ctx.jfrAttempt(null);
    e.end();
    if (e.shouldCommit()) {
      e.host = call.host();
      e.method = call.method();
      e.url = url(call);
      e.attempt = call.attempt();
      e.status = status;
      e.outcome = Outcome.of(status, error);
      e.error = error == null ? null : error.toString();
      e.commit();
    }
  }

  @Override
  public void retryScheduled(CallContext call, Duration delay, String reason) {
    RetryBackoffEvent e = new RetryBackoffEvent();
    if (e.shouldCommit()) {
      e.host = call.host();
      e.method = call.method();
      e.attempt = call.attempt();
      e.delay = delay.toNanos();
      e.reason = reason;
      e.commit();
    }
  }

  @Override
  public void rateLimitWaited(CallContext call, String key, Duration waited) {
    rateLimit(call, waited, false);
  }

  @Override
  public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
    rateLimit(call, wouldWait, true);
  }

  private static void rateLimit(CallContext call, Duration wait, boolean rejected) {
    RateLimitEvent e = new RateLimitEvent();
    if (e.shouldCommit()) {
      e.host = call.host();
      e.method = call.method();
      // A refusal may not know how long the wait would have been: Long.MIN_VALUE is JFR's
      // "no value" for a timespan (read back as N/A), where -1 read as a wait of -1 ns.
      e.wait = wait == null ? Long.MIN_VALUE : wait.toNanos();
      e.rejected = rejected;
      e.commit();
    }
  }

  @Override
  public void inFlightWaited(CallContext call, Duration waited) {
    InFlightWaitEvent e = new InFlightWaitEvent();
    if (e.shouldCommit()) {
      e.host = call.host();
      e.wait = waited.toNanos();
      e.commit();
    }
  }

  @Override
  public void breakerTransition(String key, CircuitBreaker.State from, CircuitBreaker.State to) {
    BreakerTransitionEvent e = new BreakerTransitionEvent();
    if (e.shouldCommit()) {
      e.breaker = key;
      e.from = from.name();
      e.to = to.name();
      e.commit();
    }
  }

  private static String url(CallContext call) {
    return call instanceof RealCallContext r ? r.redactor().url(call.url()) : null;
  }

  @Override
  public String toString() {
    return "JfrListener";
  }
}
