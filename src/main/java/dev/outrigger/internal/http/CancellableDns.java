package dev.outrigger.internal.http;

import dev.outrigger.internal.Closing;
import java.io.InterruptedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import kotlin.jvm.JvmClassMappingKt;
import kotlin.jvm.functions.Function0;
import kotlin.reflect.KClass;
import okhttp3.Dns;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.internal.connection.RealCall;
import okhttp3.internal.dns.LookupDnsCall;

/**
 * A {@link Dns} whose lookups end when the call that asked for them is cancelled (by its
 * deadline: the watchdog, or OkHttp's call timeout), when the calling thread is interrupted, or
 * when the client closes, although nothing can interrupt the resolver itself. A client's OkHttp
 * client resolves through one of these around its own (or the user's) {@code Dns}, with
 * {@link #LISTENER} on every call ({@link #install}).
 *
 * <p>OkHttp resolves a host name on the calling thread, and {@code Call.cancel()} cannot reach
 * into {@code InetAddress} or a user's blocking {@code Dns}: a resolver that hangs would hold the
 * call past its deadline. In OkHttp 5.5.1, {@code RouteSelector.dnsLookup} reports
 * {@code dnsStart(call, host)} to the call's listener and then, on the same thread, asks this
 * {@code Dns} for {@code newCall(request)} and (when that is OkHttp's synchronous
 * {@code LookupDnsCall}) for {@code lookup(host)}; it is reached from
 * {@code RealRoutePlanner.planConnect}, on the call's thread, by both the sequential and the
 * fast-fallback exchange finders (only TCP connects race on other threads).
 * {@code RealCall.cancel()} sets the call's cancelled flag and then reports {@code canceled(call)}.
 * So the listener notes the call in {@code dnsStart} (a thread-local, touched only when a name is
 * resolved); {@link #lookup} runs the delegate's lookup on a virtual thread of its own (shared
 * by the calls that resolve the same host meanwhile), waits for it, and leaves that wait as soon
 * as the listener's {@code canceled(call)} says so, failing
 * with an {@link InterruptedIOException} (which OkHttp does not retry). The resolver is
 * abandoned, not stopped: it finishes in the background, and its answer is dropped.
 *
 * <p>A {@code Dns} that answers OkHttp 5.5's asynchronous {@code newCall} itself (DNS over
 * HTTPS, say) keeps its own {@link Dns.Call}, which OkHttp drives; a cancelled call cancels it
 * ({@link Dns.Call#cancel()}, which ends it with a failure), and the client's close() ends
 * OkHttp's wait for it as it ends a synchronous lookup's, then cancels it.
 *
 * <p>A call that resolves no name (one on a pooled connection, or to an IP address) pays no
 * more than the listener: no thread-local, no allocation, one more call when OkHttp creates the
 * call's listener, and {@link EventListener}'s empty methods for its events in place of
 * {@link EventListener#NONE}'s. A user's listener, if any, is joined to it with
 * {@link EventListener#plus}, which allocates a little per call (the user's factory allocates
 * per call already). A name lookup pays a virtual thread's start and a hand-off.
 */
public final class CancellableDns implements Dns {
  /**
   * Notes a call about to resolve a name, and wakes its lookup when the call is cancelled.
   * Stateless: shared by every call of every client.
   */
  public static final EventListener LISTENER = new Listener();

  /** The call whose route selection reported {@code dnsStart} on this thread, and the host. */
  private static final ThreadLocal<Pending> PENDING = new ThreadLocal<>();
  private static final KClass<Slot> SLOT = JvmClassMappingKt.getKotlinClass(Slot.class);
  private static final ThreadFactory RESOLVERS = Thread.ofVirtual().name("outrigger-dns")
      .inheritInheritableThreadLocals(false).factory();

  private final Dns delegate;
  private final Closing closing;
  /**
   * The lookups under way, by host: calls that resolve a host already being resolved wait for
   * that lookup rather than start another, so a resolver that hangs holds one thread per host
   * for the calls waiting at once, not one per call (Go's resolver shares its lookups the same
   * way). A lookup that every call waiting for it gave up on is forgotten, as Go forgets one:
   * a lost query must not keep the host unresolvable until it returns, if ever. A lookup that
   * fails gives each of its calls an exception of its own ({@link #copyOf}).
   */
  private final ConcurrentHashMap<String, Resolution> inFlight = new ConcurrentHashMap<>();

  /**
   * @param delegate the resolver that does the work
   * @param closing the client's: its {@code close()} ends the lookups then in progress
   */
  public CancellableDns(Dns delegate, Closing closing) {
    this.delegate = delegate;
    this.closing = closing;
  }

  /**
   * Has {@code builder}, derived from {@code base}, resolve through a {@code CancellableDns}
   * around {@code base}'s {@code Dns} and report every call's events to {@link #LISTENER} as
   * well as to {@code base}'s listener, if any. A {@code base} that is itself a client's OkHttp
   * client is unwrapped first, so nothing is wrapped twice.
   */
  public static void install(OkHttpClient.Builder builder, OkHttpClient base, Closing closing) {
    Dns dns = base.dns();
    if (dns instanceof CancellableDns ours) {
      dns = ours.delegate;
    }
    builder.dns(new CancellableDns(dns, closing));
    EventListener.Factory factory = base.eventListenerFactory();
    if (factory instanceof ListenerFactory ours) {
      factory = ours.user;
    }
    builder.eventListenerFactory(new ListenerFactory(factory));
  }

  /**
   * The {@link Closing.ClosedException} that ended a lookup of {@code failure}'s call, if that is
   * how the call failed (OkHttp may have wrapped the lookup's exception); else null.
   */
  public static Closing.ClosedException closedBy(Throwable failure) {
    for (int depth = 0; failure != null && depth < 4; depth++, failure = failure.getCause()) {
      if (failure instanceof LookupCancelled && failure.getCause()
          instanceof Closing.ClosedException closed) {
        return closed;
      }
    }
    return null;
  }

  @Override
  public List<InetAddress> lookup(String hostname) throws UnknownHostException {
    okhttp3.Call call = takePending(hostname);
    if (call == null) {
      // Not asked by a call's route selection (a JavaNetAuthenticator, code of the user's):
      // no call to be cancelled, so nothing to wait apart from.
      return delegate.lookup(hostname);
    }
    if (call.isCanceled()) {
      // Cancelled already (in dnsStart, or just before): no lookup to start for it.
      throw sneaky(LookupCancelled.canceled(hostname));
    }
    Resolution fresh = new Resolution(this, hostname);
    Resolution shared = inFlight.putIfAbsent(hostname, fresh);
    return shared == null
        ? new Lookup(fresh, true).await(call, closing)
        : new Lookup(shared, false).await(call, closing);
  }

  @Override
  public Dns.Call newCall(Dns.Request request) {
    Dns.Call own;
    try {
      own = delegate.newCall(request);
    } catch (RuntimeException | Error e) {
      PENDING.remove(); // the lookup() that would take it never comes
      throw e;
    }
    if (own instanceof LookupDnsCall) {
      // The delegate answers only lookup(): OkHttp sees a LookupDnsCall and calls lookup() on
      // this Dns (the call it returned is never run), where the wait is cut.
      return own;
    }
    okhttp3.Call call = takePending(request.hostname());
    return call == null ? own : new AsyncLookup(own, call, closing);
  }

  /** The call that reported {@code dnsStart} for {@code host} on this thread, taken; or null. */
  private static okhttp3.Call takePending(String host) {
    Pending p = PENDING.get();
    if (p == null) {
      return null;
    }
    PENDING.remove();
    return p.host.equals(host) ? p.call : null;
  }

  // Equal to any other around an equal delegate: OkHttp pools connections by Address, which
  // compares its Dns, and clients derived from one another share their pool.
  @Override
  public boolean equals(Object o) {
    return o instanceof CancellableDns other && other.delegate.equals(delegate);
  }

  @Override
  public int hashCode() {
    return delegate.hashCode();
  }

  /** The delegate's: OkHttp names its Dns in "returned no addresses" failures. */
  @Override
  public String toString() {
    return delegate.toString();
  }

  /** What a call that is cancelled does to the lookup it waits on. */
  private interface Cut {
    void cut();
  }

  private record Pending(okhttp3.Call call, String host) {}

  /** The lookup a call waits on, kept as a tag of the call, where {@code canceled} finds it. */
  private static final class Slot implements Function0<Slot> {
    volatile Cut waiting;

    @Override
    public Slot invoke() {
      return this;
    }
  }

  /**
   * A lookup ended because its call was cancelled, its thread interrupted (the interrupt status
   * is set again) or its client closed (the cause is then {@link Closing.ClosedException}).
   */
  static final class LookupCancelled extends InterruptedIOException {
    private static final long serialVersionUID = 1L;

    LookupCancelled(String message, Throwable cause) {
      super(message);
      initCause(cause);
    }

    /** The lookup of {@code host} ended because its call was cancelled. */
    static LookupCancelled canceled(String host) {
      return new LookupCancelled("canceled while resolving " + host, null);
    }
  }

  /**
   * One synchronous lookup of a host, run on a thread of its own while one or more calls wait
   * for it. The resolver's thread holds only this (the host, the delegate, and the answer to
   * come), not the calls: an abandoned lookup keeps nothing else alive until it returns.
   */
  private static final class Resolution implements Runnable {
    private static final VarHandle TAKEN;

    static {
      try {
        TAKEN = MethodHandles.lookup()
            .findVarHandle(Resolution.class, "failureTaken", boolean.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final CancellableDns dns;
    private final String host;
    /** The threads waiting for the answer (each takes itself out when it stops waiting). */
    private final Set<Thread> waiting = ConcurrentHashMap.newKeySet();
    private List<InetAddress> addresses;
    private Throwable failure;
    /** A call took {@link #failure} itself: each other gets a copy ({@link #copyOf}). */
    private volatile boolean failureTaken;
    /** The resolver returned; {@link #addresses} or {@link #failure} is set before this. */
    private volatile boolean done;

    Resolution(CancellableDns dns, String host) {
      this.dns = dns;
      this.host = host;
    }

    /** On the resolver's thread. */
    @Override
    public void run() {
      try {
        addresses = dns.delegate.lookup(host);
      } catch (Throwable t) {
        failure = t;
      }
      finish();
    }

    /** Ends this with {@link #addresses} or {@link #failure}, set before, and wakes its waiters. */
    void finish() {
      // Out of the map first: a call that comes from now on asks again, not for this answer.
      dns.inFlight.remove(host, this);
      done = true;
      // A waiter adds itself and then reads done; this sets done and then reads the set.
      VarHandle.fullFence();
      for (Thread t : waiting) {
        LockSupport.unpark(t);
      }
    }

    List<InetAddress> result() throws UnknownHostException {
      Throwable f = failure;
      if (f == null) {
        return addresses;
      }
      throw sneaky(failureForOneCall(f));
    }

    /**
     * {@code f}, the lookup's failure, for one of the calls that waited for it: {@code f} itself
     * for the first, a copy for each other. OkHttp adds a call's other route failures to the
     * exception it throws ({@code addSuppressed}), and callers may too: calls that shared the
     * lookup must not share that object, or each would show the others' failures.
     */
    private Throwable failureForOneCall(Throwable f) {
      return TAKEN.compareAndSet(this, false, true) ? f : copyOf(f);
    }
  }

  /**
   * A failure of its own for one more call that waited for a lookup that failed with
   * {@code f}: of {@code f}'s class, or else of its nearest superclass that is the JDK's, with
   * {@code f}'s message, and {@code f} as its cause. So every {@code instanceof} that OkHttp
   * (which retries by type) and the transport's classification (CONNECT for an
   * {@link UnknownHostException}, TLS, TIMEOUT...) make against the JDK's types holds for it as
   * for {@code f}, and the message a caller reads is the same; a class of the user's own is the
   * cause. Only the JDK's constructors are run, each given the message alone (a class without
   * one, or whose message would not be the same, is passed over for its superclass).
   */
  static Throwable copyOf(Throwable f) {
    String message = f.getMessage();
    for (Class<?> c = f.getClass(); c != null; c = c.getSuperclass()) {
      if (!isJdks(c)) {
        continue;
      }
      try {
        Throwable copy = (Throwable) c.getConstructor(String.class).newInstance(message);
        if (Objects.equals(copy.getMessage(), message)) {
          return copy.initCause(f);
        }
      } catch (ReflectiveOperationException | RuntimeException e) {
        // No public constructor taking the message alone, or one that sets a cause of its own
        // (initCause refuses): the superclass's.
      }
    }
    throw new AssertionError("Throwable(String) failed for " + f.getClass());
  }

  /** Whether {@code c} is a class of the JDK's own API (java.*, javax.*). */
  private static boolean isJdks(Class<?> c) {
    ClassLoader loader = c.getClassLoader();
    String name = c.getName();
    return (loader == null || loader == ClassLoader.getPlatformClassLoader())
        && (name.startsWith("java.") || name.startsWith("javax."));
  }

  /** One call's wait for a {@link Resolution}, ended early when the call is cancelled. */
  private static final class Lookup implements Cut {
    private final Resolution resolution;
    /** Whether this call's wait starts the resolution (the first call for its host). */
    private final boolean starts;
    private final String host;
    private final Thread caller = Thread.currentThread();
    private volatile boolean cut;

    Lookup(Resolution resolution, boolean starts) {
      this.resolution = resolution;
      this.starts = starts;
      this.host = resolution.host;
    }

    /** On the thread that cancelled the call. */
    @Override
    public void cut() {
      cut = true;
      LockSupport.unpark(caller);
    }

    /**
     * Waits for the lookup's answer, or until {@code call} is cancelled, this thread
     * interrupted or {@code closing} closed: whichever comes first.
     */
    List<InetAddress> await(okhttp3.Call call, Closing closing) throws UnknownHostException {
      Slot slot = call.tag(SLOT, new Slot());
      slot.waiting = this;
      // A lookup that starts after close() (a raw call on a copy of the client's OkHttp client)
      // is left alone: close() ends the lookups in progress, as it ends the waits in progress.
      Closing.Waiter closed =
          closing.isClosed() ? Closing.Waiter.NONE : closing.enter("the lookup of " + host);
      resolution.waiting.add(caller);
      VarHandle.fullFence();
      try {
        if (starts) {
          // Only once this wait is registered with close(): a close() from then on ends it.
          try {
            RESOLVERS.newThread(resolution).start();
          } catch (RuntimeException | Error e) {
            // Never started: the calls that joined it fail as this one does (they would wait
            // for it forever), each with a copy of e, and later ones ask again.
            resolution.failure = e;
            resolution.failureTaken = true;
            resolution.finish();
            throw e;
          }
        }
        while (true) {
          // The call's own flag as well as cut: a cancel between dnsStart and the slot's
          // registration reported canceled() to no one (it sets the flag first).
          if (cut || call.isCanceled()) {
            throw sneaky(LookupCancelled.canceled(host));
          }
          if (resolution.done) {
            return resolution.result();
          }
          if (Thread.interrupted()) {
            InterruptedException e = closed.interrupted(new InterruptedException());
            if (e instanceof Closing.ClosedException) {
              throw sneaky(new LookupCancelled(e.getMessage(), e));
            }
            Thread.currentThread().interrupt();
            throw sneaky(new LookupCancelled("interrupted", e));
          }
          LockSupport.park(this);
        }
      } finally {
        // An abandoned lookup is not interrupted: a Dns blocked in an interruptible channel it
        // shares with other lookups (a resolver's one socket) would lose that channel for all.
        resolution.waiting.remove(caller);
        if (resolution.waiting.isEmpty()) {
          // No call waits for it any more: a later call asks again rather than wait for a
          // lookup that may never answer (a lost query, with no timeout of the resolver's), as
          // Go's resolver forgets a lookup no one else shares. A call joining it just now may
          // still wait for it, as it would have anyway; it is forgotten when that call leaves.
          resolution.dns.inFlight.remove(host, resolution);
        }
        if (slot.waiting == this) {
          slot.waiting = null;
        }
        closed.leave();
      }
    }
  }

  /**
   * A delegate's own asynchronous lookup, cancelled with its call, and ended by the client's
   * {@code close()} as a wait is: OkHttp's wait for its answer is on the caller's thread, but
   * nothing of ours runs there to be interrupted, so close() answers OkHttp's callback itself
   * (with a {@link LookupCancelled} caused by a {@link Closing.ClosedException}) and cancels the
   * delegate's call.
   */
  private static final class AsyncLookup implements Dns.Call, Dns.Callback, Cut, Runnable {
    private final Dns.Call own;
    private final okhttp3.Call call;
    private final Closing closing;
    /**
     * Keeps OkHttp's callback from being called twice at once (close() and the delegate), which
     * {@link Dns.Callback} promises; held only while that callback runs (it only queues).
     */
    private final ReentrantLock lock = new ReentrantLock();
    /** OkHttp's callback; null once it was told how the lookup ended. Guarded by lock. */
    private Dns.Callback callback;
    /** Whether close() may run this (see Closing.onClose). Guarded by lock. */
    private boolean hooked;

    AsyncLookup(Dns.Call own, okhttp3.Call call, Closing closing) {
      this.own = own;
      this.call = call;
      this.closing = closing;
    }

    @Override
    public Dns.Request getRequest() {
      return own.getRequest();
    }

    @Override
    public void enqueue(Dns.Callback callback) {
      call.tag(SLOT, new Slot()).waiting = this;
      lock.lock();
      try {
        this.callback = callback;
        // Before the delegate is asked, so that a close() from then on ends OkHttp's wait (an
        // answer, even one given within enqueue, takes the hook back). As for a synchronous
        // lookup, one that starts after close() is left alone.
        hooked = closing.onClose(this);
      } finally {
        lock.unlock();
      }
      own.enqueue(this);
      if (call.isCanceled()) {
        own.cancel();
      }
    }

    @Override
    public void onRecords(Dns.Call c, boolean last, List<? extends Dns.Record> records) {
      lock.lock();
      try {
        Dns.Callback cb = callback;
        if (cb == null) {
          return;
        }
        if (last) {
          ended();
        }
        cb.onRecords(this, last, records);
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void onFailure(Dns.Call c, java.io.IOException e) {
      lock.lock();
      try {
        Dns.Callback cb = callback;
        if (cb == null) {
          return;
        }
        ended();
        cb.onFailure(this, e);
      } finally {
        lock.unlock();
      }
    }

    /** Under lock: OkHttp's callback hears nothing more, and close() has nothing left to end. */
    private void ended() {
      callback = null;
      if (hooked) {
        closing.removeOnClose(this);
      }
    }

    /** The client's close(), on its thread. */
    @Override
    public void run() {
      String host = own.getRequest().hostname();
      Closing.ClosedException closed = Closing.closedWhileWaitingFor("the lookup of " + host);
      onFailure(this, new LookupCancelled(closed.getMessage(), closed));
      try {
        own.cancel();
      } catch (RuntimeException e) {
        // The delegate's: its call is abandoned all the same, and close() must go on.
      }
    }

    @Override
    public void cut() {
      own.cancel();
    }

    @Override
    public void cancel() {
      own.cancel();
    }

    @Override
    public boolean isCanceled() {
      return own.isCanceled();
    }
  }

  /**
   * Throws {@code t}, checked or not: OkHttp, written in Kotlin, catches any
   * {@code IOException} from a {@code Dns}, but Java's {@code lookup} may declare only
   * {@link UnknownHostException}, which OkHttp would retry on another route.
   */
  @SuppressWarnings("unchecked")
  private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
    throw (T) t;
  }

  private static final class Listener extends EventListener {
    @Override
    public void dnsStart(okhttp3.Call call, String domainName) {
      // Only where a CancellableDns will take it: a copy of a client's OkHttp client given a
      // Dns of its own keeps this listener, and a lookup there that fails reports no dnsEnd,
      // which would leave the call reachable from this thread (a pool's, for long).
      if (call instanceof RealCall real && real.getClient().dns() instanceof CancellableDns) {
        PENDING.set(new Pending(call, domainName));
      }
    }

    @Override
    public void dnsEnd(okhttp3.Call call, String domainName, List<InetAddress> inetAddressList) {
      // Taken by lookup() already, unless the call's client resolves through another Dns (a
      // copy of a client's OkHttp client given a Dns of its own): drop it, not to keep the call.
      if (PENDING.get() != null) {
        PENDING.remove();
      }
    }

    @Override
    public void canceled(okhttp3.Call call) {
      Slot slot = call.tag(SLOT);
      if (slot != null) {
        Cut waiting = slot.waiting;
        if (waiting != null) {
          waiting.cut();
        }
      }
    }
  }

  /** {@link #LISTENER}, then the user's listener for the call, if any. */
  private static final class ListenerFactory implements EventListener.Factory {
    private final EventListener.Factory user;

    ListenerFactory(EventListener.Factory user) {
      this.user = user;
    }

    @Override
    public EventListener create(okhttp3.Call call) {
      EventListener theirs = user.create(call);
      // Ours first: a cancel then reaches the waiting lookup whatever the user's listener does.
      return theirs == EventListener.NONE ? LISTENER : LISTENER.plus(theirs);
    }
  }
}
