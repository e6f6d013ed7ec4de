package dev.outrigger.internal;

import dev.outrigger.ApiException;
import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import java.util.HashMap;
import java.util.Map;
import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;

/**
 * The one mutable record of a logical call, shared by the policies of its chain. Used by one
 * thread at a time: the calling thread.
 *
 * <p>It is also the {@link CallInterceptor.Chain} each interceptor of the call sees (its
 * position in the {@link PolicyChain} and the request there), so walking the chain makes no
 * object per step.
 */
public final class RealCallContext implements CallContext, CallInterceptor.Chain {
  private final String method;
  private final HttpUrl url;
  private final String host;
  /**
   * The call's deadline; null with {@link #deadlineMaker} set until someone asks for it
   * ({@link #deadline()}), then made from {@link #deadlineNanos}.
   */
  private Deadline deadline;
  /** Makes the call's own deadline at {@link #deadlineNanos}, or null: {@link #deadline} is it. */
  private final java.util.function.LongFunction<Deadline> deadlineMaker;
  private final boolean idempotent;
  private final NanoClock clock;
  private final CallListener listener;
  private final Redactor redactor;
  private final long startNanos;
  /**
   * The deadline on {@link #clock}'s scale, so a policy that read the clock needs no second
   * read.
   */
  private final long deadlineNanos;
  /**
   * The call's attributes, by the names the caller and interceptors give them (strings), and the
   * client's own state that only some calls need (a key object of this class's, such as
   * {@link #ANSWERED}, that no name equals): user code can neither read nor replace it.
   */
  private Map<Object, Object> attributes;
  /**
   * The generation of the credentials the auth step signed the latest attempt with. An int, as
   * the auth step counts them: compared only for equality, it may wrap (2^32 fetches apart).
   */
  private int authGeneration;
  /** The JFR events in progress, kept in fields so recording costs no map per call. */
  private Object jfrCall;
  private Object jfrAttempt;
  /**
   * The body the transport read last, and its bytes as read (a {@code byte[]}, see
   * {@link #bufferedBytes}) or the buffer it left them in (a {@link Buffer}, see
   * {@link #bufferInPlace}): one field, as the transport sets one or the other.
   */
  private ResponseBody bufferedBody;
  private Object bufferedContent;
  /** The latest reading of {@link #clock}, and whether it still stands for "now" (below). */
  private long recentNanos;
  private boolean recentFresh;
  /** The chain being walked, the position of the next step, and the request at this one. */
  private PolicyChain chain;
  private int index;
  private Request request;
  private int attempt;
  private int attemptsSent;
  /** When the current attempt first went to the network, on {@link #clock}. */
  private long sentNanos;
  private boolean sentThisAttempt;
  /** The last send had nothing of the user's around it: its deadline bounds its length. */
  private boolean deadlineBoundsAttempt;
  private boolean lastRequestSent;
  /** The status of a response whose body the transport refused as too large, or -1. */
  private int refusedStatus = -1;
  /** The caller discards a successful response's body ({@code execute()}, {@code Void}). */
  private boolean bodyDiscarded;
  /** The latest failed attempt's failure that the retry policy went past, or null. */
  private ApiException lastFailure;
  /** Every failure the retry policy went past, in order (its own list), or null. */
  private java.util.List<ApiException> retriedFailures;

  public RealCallContext(
      String method,
      HttpUrl url,
      Deadline deadline,
      boolean idempotent,
      NanoClock clock,
      CallListener listener,
      Redactor redactor) {
    this(method, url, null, deadline, Long.MIN_VALUE, idempotent, clock, clock.nanoTime(),
        listener, redactor);
  }

  /**
   * A context whose start time and deadline the client already read: {@code deadlineNanos} is
   * the deadline on {@code clock}'s scale ({@code Long.MIN_VALUE}: read {@code deadline} now),
   * and {@code hostKey} is {@code url}'s {@code host:port} key when the caller knows it already
   * ({@link #hostKey}; null: work it out).
   */
  public RealCallContext(
      String method,
      HttpUrl url,
      String hostKey,
      Deadline deadline,
      long deadlineNanos,
      boolean idempotent,
      NanoClock clock,
      long startNanos,
      CallListener listener,
      Redactor redactor) {
    this(method, url, hostKey, deadline, deadlineNanos, idempotent, clock, startNanos, listener,
        redactor, null);
  }

  /**
   * As above; with {@code deadline} null and {@code deadlineMaker} given, the call's deadline is
   * {@code deadlineMaker.apply(deadlineNanos)}, made only when {@link #deadline()} is first
   * called (a call that succeeds at once seldom asks for it).
   */
  public RealCallContext(
      String method,
      HttpUrl url,
      String hostKey,
      Deadline deadline,
      long deadlineNanos,
      boolean idempotent,
      NanoClock clock,
      long startNanos,
      CallListener listener,
      Redactor redactor,
      java.util.function.LongFunction<Deadline> deadlineMaker) {
    this.method = method;
    this.url = url;
    this.host = hostKey != null ? hostKey : hostKey(url);
    this.deadline = deadline;
    this.deadlineMaker =
        deadline == null && deadlineNanos != Long.MIN_VALUE ? deadlineMaker : null;
    if (deadlineNanos != Long.MIN_VALUE) {
      this.deadlineNanos = deadlineNanos;
    } else {
      this.deadlineNanos = startNanos
          + (deadline == null ? Long.MAX_VALUE / 2 : deadline.remainingNanos());
    }
    this.idempotent = idempotent;
    this.clock = clock;
    this.listener = listener;
    this.redactor = redactor;
    this.startNanos = startNanos;
    this.recentNanos = startNanos;
    this.recentFresh = true;
  }

  /**
   * The {@code host:port} key of {@code url}, the default key of every per-host policy (an IPv6
   * literal in brackets: {@code [::1]:8080}). Built
   * once per host (for the first port seen; other ports of the same host build theirs per call).
   */
  public static String hostKey(HttpUrl url) {
    String host = url.host();
    int port = url.port();
    HostKey known = HOST_KEYS.get(host);
    if (known != null && known.port == port) {
      return known.key;
    }
    // An IPv6 literal in brackets, as in a URL: "[::1]:8080", not the ambiguous "::1:8080".
    String key = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    if (known == null && HOST_KEYS.size() < MAX_HOST_KEYS) {
      HOST_KEYS.putIfAbsent(host, new HostKey(port, key));
    }
    return key;
  }

  /** {@code host:port} strings already built, so a call to a known host allocates none. */
  private static final java.util.concurrent.ConcurrentHashMap<String, HostKey> HOST_KEYS =
      new java.util.concurrent.ConcurrentHashMap<>();
  private static final int MAX_HOST_KEYS = 1024;

  private record HostKey(int port, String key) {}

  @Override
  public String method() {
    return method;
  }

  @Override
  public HttpUrl url() {
    return url;
  }

  @Override
  public String host() {
    return host;
  }

  @Override
  public int attempt() {
    return attempt;
  }

  @Override
  public int attemptsSent() {
    return attemptsSent;
  }

  @Override
  public Deadline deadline() {
    Deadline d = deadline;
    if (d == null && deadlineMaker != null) {
      d = deadlineMaker.apply(deadlineNanos);
      deadline = d;
    }
    return d;
  }

  @Override
  public boolean idempotent() {
    return idempotent;
  }

  @Override
  public Object attribute(String name) {
    return attributes == null ? null : attributes.get(name);
  }

  @Override
  public void attribute(String name, Object value) {
    attributes().put(name, value);
  }

  /** The attribute map, made when first written. */
  private Map<Object, Object> attributes() {
    if (attributes == null) {
      attributes = new HashMap<>();
    }
    return attributes;
  }

  /**
   * The generation of the credentials the latest attempt was signed with (0 before any), as the
   * auth step read it from the fetches it shares.
   */
  public int authGeneration() {
    return authGeneration;
  }

  public void authGeneration(int generation) {
    this.authGeneration = generation;
  }

  /** The JFR call event in progress (internal: the JFR listener's slot). */
  public Object jfrCall() {
    return jfrCall;
  }

  public void jfrCall(Object event) {
    this.jfrCall = event;
  }

  /** The JFR attempt event in progress (internal: the JFR listener's slot). */
  public Object jfrAttempt() {
    return jfrAttempt;
  }

  public void jfrAttempt(Object event) {
    this.jfrAttempt = event;
  }

  /** The closed flag, and waits, of the client whose chain this call walks (null before). */
  public Closing closing() {
    return chain == null ? null : chain.closing();
  }

  /** {@code ctx}'s {@link #closing()}, or null for a context of the user's. */
  public static Closing closing(CallContext ctx) {
    return ctx instanceof RealCallContext real ? real.closing() : null;
  }

  /** Starts a walk of {@code chain} with {@code request}. */
  void enter(PolicyChain chain, Request request) {
    this.chain = chain;
    this.index = 0;
    this.request = request;
  }

  /** Moves to step {@code index} of the chain, where the request is {@code request}. */
  void at(int index, Request request) {
    this.index = index;
    this.request = request;
  }

  /** The request as the interceptor now running received it. */
  @Override
  public Request request() {
    return request;
  }

  /** This context: the chain and the call's context are one object. */
  @Override
  public CallContext context() {
    return this;
  }

  @Override
  public Response proceed(Request next) {
    if (chain == null) {
      throw new IllegalStateException("this call is not running through a chain");
    }
    return chain.step(this, index, request, next);
  }

  /**
   * Called by the retry policy when it goes on past a failed attempt: the failure a deadline
   * that runs out later names as its cause.
   */
  public void failed(ApiException failure) {
    lastFailure = failure;
  }

  /**
   * Called by the retry policy with its list of the failures it went past ({@link #failed}), so
   * that an answer the call ends with after them (a 404 after a retried 503) can carry them.
   */
  public void retriedPast(java.util.List<ApiException> failures) {
    retriedFailures = failures;
  }

  /** The failures the retry policy went past ({@link #retriedPast}), or null. */
  public java.util.List<ApiException> retriedFailures() {
    return retriedFailures;
  }

  /** The latest failure the retry policy went past ({@link #failed}), or null. */
  public ApiException lastFailure() {
    return lastFailure;
  }

  /** {@code ctx}'s {@link #lastFailure()}, or null when it is not this kind of context. */
  public static ApiException lastFailure(CallContext ctx) {
    return ctx instanceof RealCallContext r ? r.lastFailure : null;
  }

  /**
   * The list of failures the retry policy went past ({@link #retriedPast}), which also keeps
   * when its last wait began: on the retry path's own allocation, so a call that is never
   * retried carries no field for it.
   */
  public static final class RetriedFailures extends java.util.ArrayList<ApiException> {
    private static final long serialVersionUID = 1L;
    /** When the retry policy's wait before attempt {@link #backoffBefore} began, on the clock. */
    private transient long backoffNanos;
    /** The attempt the retry policy's last wait came before (0: none yet). */
    private transient int backoffBefore;
  }

  /**
   * Called by the retry policy once its wait (a backoff, a {@code Retry-After}) before the next
   * attempt has run, with {@code nanos}, when the wait began on {@link #clock()}: that wait is
   * the client's own, as a wait for a rate-limit permit is ({@link #waitsBegan}). Kept only when
   * the policy's list of failures ({@link #retriedPast}) is a {@link RetriedFailures}, which it
   * always is on a retry. Retry path only.
   */
  public void backoffBegan(long nanos) {
    if (retriedFailures instanceof RetriedFailures r) {
      r.backoffNanos = nanos;
      r.backoffBefore = attempt + 1;
    }
  }

  /**
   * When the client's own waits before {@code ctx}'s current attempt reached the network began,
   * on {@code clock}: when the retry policy began its wait before this attempt, if it did (and
   * {@code ctx} is a real context on that clock), else {@code admitted}, the reading at which a
   * policy let the attempt through. Read on a failure path only.
   */
  public static long waitsBegan(CallContext ctx, NanoClock clock, long admitted) {
    RealCallContext real = onClock(ctx, clock);
    return real != null && real.retriedFailures instanceof RetriedFailures r
        && r.backoffBefore == real.attempt && r.backoffNanos - admitted < 0
        ? r.backoffNanos : admitted;
  }

  /** Called by the retry policy before each attempt; returns the new attempt number. */
  public int beginAttempt() {
    if (attributes != null) {
      // Where an earlier attempt's answer came from says nothing of this one's.
      attributes.remove(ANSWERED);
    }
    lastRequestSent = false;
    sentThisAttempt = false;
    deadlineBoundsAttempt = false;
    if (attempt > 0) {
      // A previous attempt and perhaps a backoff lie behind: read the clock afresh.
      recentFresh = false;
    }
    return ++attempt;
  }

  /**
   * "Now" on {@link #clock()}: the latest reading if nothing that may take time ran since it
   * was taken (only the chain's own non-blocking code, see {@link KeepsClock}), else a new one.
   * It may lag the true time by the few instructions run since: fine for a start time, a
   * deadline check or a token bucket (an earlier "now" grants fewer permits, never more).
   */
  public long recentNanos() {
    return recentFresh ? recentNanos : readClock();
  }

  /**
   * "Now" on {@code clock} for a policy: the call's shared recent reading when {@code ctx} is a
   * real context on that same clock, else a reading of {@code clock}.
   */
  public static long recentNanos(CallContext ctx, NanoClock clock) {
    RealCallContext real = onClock(ctx, clock);
    return real != null ? real.recentNanos() : clock.nanoTime();
  }

  /**
   * {@code ctx} as a real context whose readings are on {@code clock}, or null: what the static
   * helpers below need before they may use the call's shared readings for a policy's clock.
   */
  private static RealCallContext onClock(CallContext ctx, NanoClock clock) {
    return ctx instanceof RealCallContext real && real.clock == clock ? real : null;
  }

  /**
   * Time left before {@code ctx}'s deadline at {@code now}, a reading of {@code clock}: no clock
   * read when {@code ctx} is a real context on that clock, else its deadline's own reading
   * ({@code Long.MAX_VALUE} with no deadline).
   */
  public static long remainingNanos(CallContext ctx, NanoClock clock, long now) {
    RealCallContext real = onClock(ctx, clock);
    if (real != null) {
      return real.remainingNanos(now);
    }
    Deadline deadline = ctx.deadline();
    return deadline == null ? Long.MAX_VALUE : deadline.remainingNanos();
  }

  /** Marks {@code ctx}'s shared reading stale, if it is a real context (after a wait). */
  public static void staleClock(CallContext ctx) {
    if (ctx instanceof RealCallContext real) {
      real.staleClock();
    }
  }

  /** Reads {@link #clock()} now, and keeps the reading for {@link #recentNanos()}. */
  public long readClock() {
    long now = clock.nanoTime();
    recentNanos = now;
    recentFresh = true;
    return now;
  }

  /** Something that may have taken time ran: the next {@link #recentNanos()} reads the clock. */
  public void staleClock() {
    recentFresh = false;
  }

  /** Called by the transport once it has read {@code body} whole: {@code bytes} is all of it. */
  public void buffered(ResponseBody body, byte[] bytes) {
    this.bufferedBody = body;
    this.bufferedContent = bytes;
  }

  /**
   * Called by the transport once it has read {@code body} whole into {@code whole}, its source's
   * buffer, and left it there: no user code can read it before the decoder.
   */
  public void bufferedInPlace(ResponseBody body, Buffer whole) {
    this.bufferedBody = body;
    this.bufferedContent = whole;
  }

  /**
   * The buffer holding the whole of {@code body}, unread, if the transport left it in place
   * ({@link #bufferedInPlace}) and {@code body} is the one it read last; else null.
   */
  public Buffer bufferInPlace(ResponseBody body) {
    return body != null && body == bufferedBody && bufferedContent instanceof Buffer whole
        ? whole : null;
  }

  /**
   * The whole of {@code body} as the transport read it, even if an interceptor has read some of
   * it since; null if {@code body} is not the one the transport read last (an interceptor
   * replaced it), which must then be read itself.
   */
  public byte[] bufferedBytes(ResponseBody body) {
    return body != null && body == bufferedBody && bufferedContent instanceof byte[] bytes
        ? bytes : null;
  }

  /** An attempt goes to the network now (for tests; see {@link #markSent(long, boolean)}). */
  public void markSent() {
    markSent(recentNanos(), false);
  }

  /**
   * Called by the transport when an attempt goes to the network at {@code nanos}. The first send
   * of an attempt dates it ({@link #sentNanos}): an attempt interceptor may send more than once.
   * {@code deadlineBounds} says that no code of the user's (interceptor, listener) runs around
   * this send, so nothing but the deadline's own cut-off ends it later than the network does
   * ({@link #deadlineBoundsAttempt}).
   *
   * @return whether this send was its attempt's first, the one that dates it
   */
  public boolean markSent(long nanos, boolean deadlineBounds) {
    deadlineBoundsAttempt = deadlineBounds;
    attemptsSent++;
    if (sentThisAttempt) {
      return false;
    }
    sentThisAttempt = true;
    sentNanos = nanos;
    return true;
  }

  /**
   * The attempt's first send, which {@link #markSent(long, boolean)} marked, went out at
   * {@code nanos} after all (after the listeners' {@code attemptStart}, which may take any
   * time): the attempt is dated from it, so every policy times the attempt as its listeners do.
   */
  public void redateSent(long nanos) {
    sentNanos = nanos;
  }

  /**
   * When {@code ctx}'s current attempt first went to the network, on {@code clock}, if it is a
   * real context on that clock and an attempt was sent since {@code sentBefore} attempts;
   * otherwise {@code fallback}. What a policy outside the waits (rate limit, in-flight slot)
   * times an attempt's latency from, so a wait of the client's own is not taken for the
   * server's slowness.
   */
  public static long sentNanos(CallContext ctx, NanoClock clock, int sentBefore, long fallback) {
    RealCallContext real = onClock(ctx, clock);
    return real != null && real.attemptsSent > sentBefore ? real.sentNanos : fallback;
  }

  /**
   * Whether {@code ctx} is a real context on {@code clock} whose current attempt was sent with
   * nothing of the user's around it, so that it cannot have lasted much longer than the time
   * its deadline left it when it was sent ({@link #remainingNanos(CallContext, NanoClock, long)}
   * at {@link #sentNanos}): the watchdog cancels it then.
   */
  public static boolean deadlineBoundsAttempt(CallContext ctx, NanoClock clock) {
    RealCallContext real = onClock(ctx, clock);
    return real != null && real.deadlineBoundsAttempt;
  }

  /**
   * Called by the transport when an attempt's OkHttp call reached the point of writing its
   * request, so its first byte may have reached the server. A failure before that point left
   * the server untouched, so even a non-idempotent call may be sent again safely.
   */
  public void markRequestWritten() {
    lastRequestSent = true;
  }

  /** Whether the last attempt's request may have reached the server. */
  public boolean lastRequestWritten() {
    return lastRequestSent;
  }

  /**
   * Called by the transport when it refuses a successful response's body as too large: the
   * status that arrived, for listeners, metrics and JFR (the call throws a
   * {@code DeserializationException}, which carries none).
   */
  public void refusedStatus(int status) {
    refusedStatus = status;
  }

  /** The status of the response whose body was refused as too large, or -1 if none was. */
  public int refusedStatus() {
    return refusedStatus;
  }

  /**
   * The key of the URL of the request the transport's latest answer came from, when that is not
   * the call's own: kept in the attribute map, not a field, as only a redirect OkHttp followed or
   * an attempt interceptor's rewrite needs it (a field would take the last 4 bytes of alignment
   * gap the 144-byte object has, after which the next field costs every call 8). An object, not
   * a name: an interceptor's attribute of any name neither reads nor replaces it, nor is
   * replaced or removed by it.
   */
  private static final Object ANSWERED = new Object();

  /**
   * Called by the transport with the URL of the request its answer came from: the call's own,
   * another an attempt interceptor sent it to, or where a redirect OkHttp followed led. The
   * call's own (the same instance, the common case) costs one comparison and keeps nothing.
   */
  public void answered(HttpUrl answered) {
    if (answered != url) {
      attributes().put(ANSWERED, answered);
    } else if (attributes != null) {
      attributes.remove(ANSWERED);
    }
  }

  /**
   * The URL of the request the transport's latest answer in {@code ctx}'s current attempt came
   * from ({@link #answered}) when it was not the call's own, or null (the call's own, none came
   * yet in this attempt, or {@code ctx} is not this kind of context). {@link #beginAttempt}
   * forgets an earlier attempt's: a status thrown in an attempt that got no answer (a connect
   * failure, a deadline's cut) is judged as if no redirect had led anywhere.
   */
  public static HttpUrl answeredUrl(CallContext ctx) {
    return ctx instanceof RealCallContext r && r.attributes != null
        && r.attributes.get(ANSWERED) instanceof HttpUrl u ? u : null;
  }

  /**
   * Tells the transport that the caller discards a successful response's body: one over the
   * size limit is then not refused, as nothing would read it.
   */
  public void discardBody() {
    bodyDiscarded = true;
  }

  /** Whether the caller discards a successful response's body (see {@link #discardBody()}). */
  public boolean bodyDiscarded() {
    return bodyDiscarded;
  }

  @Override
  public boolean requestWritten() {
    return lastRequestSent;
  }

  /**
   * Nanoseconds left before the deadline at {@code now}, a reading of {@link #clock()}: the same
   * as {@code deadline().remainingNanos()} without reading the clock again.
   */
  public long remainingNanos(long now) {
    return deadlineNanos - now;
  }

  public NanoClock clock() {
    return clock;
  }

  public CallListener listener() {
    return listener;
  }

  public Redactor redactor() {
    return redactor;
  }

  public long startNanos() {
    return startNanos;
  }

  /** The method and redacted URL, for log lines and messages. */
  public String describe() {
    return method + " " + redactor.url(url);
  }

  @Override
  public String toString() {
    return "Call[" + describe() + ", attempt " + attempt + ", " + deadline() + "]";
  }
}
