package dev.outrigger;

import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.QuietWarn;
import dev.outrigger.internal.jfr.JfrListener;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fans events out to several listeners, isolating the client from a listener that throws: an
 * exception or an {@link Error} (an {@code AssertionError}, a {@code NoClassDefFoundError} of a
 * listener's missing dependency) is logged and ignored, and the other listeners still hear the
 * event. A {@link VirtualMachineError} (out of memory, stack overflow) is the JVM's, not the
 * listener's, and is thrown on at once. A listener instance added more than once hears each
 * event once.
 *
 * <p>A listener that throws on every call must not flood the log (4 stack traces a call, for
 * one that throws on each start and end): of one listener's throws, at most one a minute is
 * logged, with its stack trace, the first one at once; the others are counted, and the next
 * line logged says how many went unlogged since the one before. Only a throw reads the clock.
 */
final class Listeners implements CallListener {
  private static final Logger log = LoggerFactory.getLogger(CallListener.class);

  private final CallListener[] all;
  /** The log of each listener's throws (same index). */
  private final QuietWarn[] quiet;

  private Listeners(List<CallListener> all, NanoClock clock) {
    this.all = all.toArray(new CallListener[0]);
    this.quiet = new QuietWarn[this.all.length];
    for (int i = 0; i < quiet.length; i++) {
      quiet[i] = new QuietWarn(log, clock, "its later throws");
    }
  }

  /**
   * One listener for {@code listeners}, each instance once, in the order first added: one listed
   * twice (a derived client keeps its parent's listeners, and the same one added again) would
   * hear every event twice, and a metrics listener count every call twice. The log of their
   * throws is timed on {@code clock}, the client's.
   */
  static CallListener of(List<CallListener> listeners, NanoClock clock) {
    listeners = distinct(listeners);
    if (listeners.size() == 1 && listeners.get(0) == JfrListener.INSTANCE) {
      // Outrigger's own, which never throws: called directly.
      return JfrListener.INSTANCE;
    }
    return listeners.isEmpty() ? NONE : new Listeners(listeners, clock);
  }

  /** {@code listeners} without the repeats of an instance (by identity), first ones kept. */
  private static List<CallListener> distinct(List<CallListener> listeners) {
    Set<CallListener> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    List<CallListener> once = new ArrayList<>(listeners.size());
    for (CallListener l : listeners) {
      if (seen.add(l)) {
        once.add(l);
      }
    }
    return once;
  }

  private interface Event {
    void send(CallListener l);
  }

  private void each(Event e) {
    for (int i = 0; i < all.length; i++) {
      try {
        e.send(all[i]);
      } catch (Throwable t) {
        threw(i, t);
      }
    }
  }

  /**
   * Logs what listener {@code i} threw, unless one of its throws was logged less than a minute
   * ago (then it is only counted), or throws it on if it is the JVM's own trouble.
   */
  private void threw(int i, Throwable t) {
    if (t instanceof VirtualMachineError e) {
      throw e;
    }
    quiet[i].warn("listener {} threw; ignored", all[i], t);
  }

  @Override
  public void callStart(CallContext call) {
    // The per-call events loop by hand: no lambda to allocate on every call.
    for (int i = 0; i < all.length; i++) {
      try {
        all[i].callStart(call);
      } catch (Throwable t) {
        threw(i, t);
      }
    }
  }

  @Override
  public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
    for (int i = 0; i < all.length; i++) {
      try {
        all[i].callEnd(call, status, error, elapsed);
      } catch (Throwable t) {
        threw(i, t);
      }
    }
  }

  @Override
  public void attemptStart(CallContext call) {
    for (int i = 0; i < all.length; i++) {
      try {
        all[i].attemptStart(call);
      } catch (Throwable t) {
        threw(i, t);
      }
    }
  }

  @Override
  public void attemptEnd(CallContext call, int status, Throwable error, Duration elapsed) {
    for (int i = 0; i < all.length; i++) {
      try {
        all[i].attemptEnd(call, status, error, elapsed);
      } catch (Throwable t) {
        threw(i, t);
      }
    }
  }

  @Override
  public void retryScheduled(CallContext call, Duration delay, String reason) {
    each(l -> l.retryScheduled(call, delay, reason));
  }

  @Override
  public void retryBudgetExhausted(CallContext call) {
    each(l -> l.retryBudgetExhausted(call));
  }

  @Override
  public void rateLimitWaited(CallContext call, String key, Duration waited) {
    each(l -> l.rateLimitWaited(call, key, waited));
  }

  @Override
  public void rateLimitRejected(CallContext call, String key, Duration wouldWait) {
    each(l -> l.rateLimitRejected(call, key, wouldWait));
  }

  @Override
  public void breakerRejected(CallContext call, String key) {
    each(l -> l.breakerRejected(call, key));
  }

  @Override
  public void breakerTransition(String key, CircuitBreaker.State from, CircuitBreaker.State to) {
    each(l -> l.breakerTransition(key, from, to));
  }

  @Override
  public void inFlightWaited(CallContext call, Duration waited) {
    each(l -> l.inFlightWaited(call, waited));
  }

  @Override
  public void adaptiveLimitChanged(String host, int from, int to) {
    each(l -> l.adaptiveLimitChanged(host, from, to));
  }

  @Override
  public void throttleProbability(String host, double probability, long requests, long accepts) {
    each(l -> l.throttleProbability(host, probability, requests, accepts));
  }

  @Override
  public void rateLimitPaused(CallContext call, String key, Duration pause) {
    each(l -> l.rateLimitPaused(call, key, pause));
  }

  @Override
  public void rateLimitAdapted(CallContext call, String key, double permitsPerSecond) {
    each(l -> l.rateLimitAdapted(call, key, permitsPerSecond));
  }
}
