package dev.outrigger.internal;

import dev.outrigger.CallContext;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One client's closed flag, and the calls of that client waiting in a policy (a backoff, a wait
 * for a rate-limit permit or an in-flight slot) that {@link #close()} cuts short.
 *
 * <p>A wait registers with {@link #enter} just before it blocks, and {@link Waiter#leave()}
 * after. {@code close()} interrupts each thread registered then, through a hand-shake that keeps
 * the interrupt inside the wait: a thread that left before {@code close()} reached it is not
 * interrupted, and one that {@code close()} did interrupt has the interrupt taken back by
 * {@code leave()} (it must not reach a later socket read of the caller's, say). A wait cut short
 * so throws {@link ClosedException}, an {@link InterruptedException} that the policies' usual
 * handling turns into a {@code CANCELLED} failure without restoring the interrupt status. A
 * thread that {@code close()} finds interrupted already (the caller's own interrupt, pending)
 * is not interrupted again, and that interrupt is restored as usual. One case cannot be told
 * apart: a caller's interrupt that the wait already consumed (it threw) just before
 * {@code close()} reached it; the interrupt status is then left clear.
 *
 * <p>Registering costs a set insertion and removal, paid only by calls that wait.
 */
public final class Closing {
  // A field of its own, not an AtomicBoolean: the transport reads it on every attempt.
  private volatile boolean closed;
  private static final VarHandle CLOSED;

  static {
    try {
      CLOSED = MethodHandles.lookup().findVarHandle(Closing.class, "closed", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
  private final Set<Waiter> waiters = ConcurrentHashMap.newKeySet();
  /** What close() runs for the waits no interrupt reaches (see onClose). */
  private final Set<Runnable> hooks = ConcurrentHashMap.newKeySet();

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  /**
   * Marks this closed and interrupts every registered wait. Returns false if it was closed
   * already (nothing is done twice). A hook of {@link #onClose} that throws does not keep the
   * others from running; the first such exception is thrown once they all ran (this is closed
   * all the same).
   */
  public boolean close() {
    if (!CLOSED.compareAndSet(this, false, true)) {
      return false;
    }
    // A waiter adds itself and then reads the flag; this sets the flag and then reads the set:
    // the fence keeps one of the two from missing the other.
    VarHandle.fullFence();
    for (Waiter w : waiters) {
      w.interruptIfWaiting();
    }
    FirstFailure failed = new FirstFailure();
    for (Runnable hook : hooks) {
      // Removed first: a hook runs once, here or never (see onClose).
      if (hooks.remove(hook)) {
        try {
          hook.run();
        } catch (RuntimeException e) {
          // A hook that throws (a callback of OkHttp's it calls, say) must not keep the others
          // from running, nor the client from releasing what it holds: thrown after them all.
          failed.add(e);
        }
      }
    }
    failed.rethrow();
    return true;
  }

  /**
   * Has {@link #close()} run {@code hook} (on its thread: the hook must not block or throw), for
   * a wait that no interrupt reaches (an asynchronous one, answered on another thread). Returns
   * false, and {@code hook} never runs, if this is closed already. Take it back with
   * {@link #removeOnClose} once the wait is over.
   */
  public boolean onClose(Runnable hook) {
    hooks.add(hook);
    // As in enter: this adds and then reads the flag, close() sets it and then reads the set.
    VarHandle.fullFence();
    return !(closed && hooks.remove(hook));
  }

  /** Takes back a hook of {@link #onClose}; harmless if it ran or was taken back already. */
  public void removeOnClose(Runnable hook) {
    hooks.remove(hook);
  }

  /**
   * The failure of a wait, for {@code waitingFor}, that a hook of {@link #onClose} ended: as the
   * one {@link Waiter#interrupted} makes of a wait that close() interrupted.
   */
  public static ClosedException closedWhileWaitingFor(String waitingFor) {
    return new ClosedException(waitingFor, false);
  }

  /**
   * Registers the calling thread's coming wait, for {@code waitingFor} (words for a message:
   * "a rate-limit permit"). If this is closed already, the wait is cut
   * short at once: the thread is interrupted, so the wait throws, and {@link Waiter#interrupted}
   * then makes the {@link ClosedException}.
   */
  public Waiter enter(String waitingFor) {
    Waiter w = new Waiter(this, Thread.currentThread(), waitingFor);
    waiters.add(w);
    VarHandle.fullFence();
    if (closed) {
      w.interruptIfWaiting();
    }
    return w;
  }

  /** {@link #enter} on the client of {@code ctx}; a waiter that does nothing for others. */
  public static Waiter enter(CallContext ctx, String waitingFor) {
    Closing closing = RealCallContext.closing(ctx);
    return closing == null ? Waiter.NONE : closing.enter(waitingFor);
  }

  /**
   * Sleeps {@code nanos} on {@code clock} as a wait of {@code ctx}'s client, for
   * {@code waitingFor}: its {@code close()} cuts the sleep short with a {@link ClosedException}.
   */
  public static void sleep(CallContext ctx, NanoClock clock, long nanos, String waitingFor)
      throws InterruptedException {
    Waiter waiter = enter(ctx, waitingFor);
    try {
      clock.sleepNanos(nanos);
    } catch (InterruptedException e) {
      throw waiter.interrupted(e);
    } finally {
      waiter.leave();
    }
  }

  /** One registered wait; used by the thread that made it only. */
  public static final class Waiter {
    /** A wait no close() cuts short (a call outside any client). */
    public static final Waiter NONE = new Waiter(null, null, null);

    private static final int WAITING = 0;
    private static final int INTERRUPTING = 1;
    private static final int INTERRUPTED = 2;
    private static final int LEFT = 3;
    private static final int LEFT_CLOSED = 4;
    /** close() found the thread interrupted already (the caller's own): not interrupted again. */
    private static final int CALLERS = 5;
    /** Whether the interrupt that ended the wait was the caller's own (left set). */
    private boolean callersInterrupt;

    private final Closing owner;
    private final Thread thread;
    private final String waitingFor;
    private final AtomicInteger state = new AtomicInteger(WAITING);

    private Waiter(Closing owner, Thread thread, String waitingFor) {
      this.owner = owner;
      this.thread = thread;
      this.waitingFor = waitingFor;
    }

    void interruptIfWaiting() {
      if (state.compareAndSet(WAITING, INTERRUPTING)) {
        if (thread.isInterrupted()) {
          state.set(CALLERS); // the wait ends on the caller's own interrupt, which stays
          return;
        }
        thread.interrupt();
        state.set(INTERRUPTED);
      }
    }

    /**
     * Ends the wait (again: harmless). Returns whether {@code close()} interrupted it; its
     * interrupt is then cleared.
     */
    public boolean leave() {
      if (owner == null) {
        return false;
      }
      int s = state.get();
      if (s == CALLERS) {
        callersInterrupt = true;
        state.set(LEFT_CLOSED);
        owner.waiters.remove(this);
        return true;
      }
      if (s >= LEFT) {
        return s == LEFT_CLOSED;
      }
      if (state.compareAndSet(WAITING, LEFT)) {
        owner.waiters.remove(this);
        return false;
      }
      while (state.get() == INTERRUPTING) {
        Thread.yield(); // close() is between its two steps; a virtual thread lets go its carrier
      }
      if (state.get() == CALLERS) {
        callersInterrupt = true;
      } else {
        Thread.interrupted(); // close()'s interrupt, not the caller's: it stays in the wait
      }
      state.set(LEFT_CLOSED);
      owner.waiters.remove(this);
      return true;
    }

    /**
     * Ends the wait that {@code e} ended: a {@link ClosedException} if {@code close()} cut it
     * short, else {@code e} itself.
     */
    public InterruptedException interrupted(InterruptedException e) {
      if (leave() && !(e instanceof ClosedException)) {
        ClosedException closed = new ClosedException(waitingFor, callersInterrupt);
        closed.initCause(e);
        return closed;
      }
      return e;
    }
  }

  /**
   * A wait cut short because the client was closed. The interrupt status is not restored,
   * unless the caller's own interrupt was pending when {@code close()} came ({@code close()} then
   * left it as the one that ends the wait): {@link Failures#cancelled} restores that one.
   */
  public static final class ClosedException extends InterruptedException {
    private static final long serialVersionUID = 1L;

    final boolean callersInterrupt;

    ClosedException(String waitingFor, boolean callersInterrupt) {
      super("the ApiClient was closed while the call waited for " + waitingFor);
      this.callersInterrupt = callersInterrupt;
    }
  }
}
