package dev.outrigger.internal.http;

import dev.outrigger.ApiException;
import dev.outrigger.CallInterceptor;
import dev.outrigger.DeserializationException;
import dev.outrigger.TransportException;
import dev.outrigger.internal.Closing;
import dev.outrigger.internal.Durations;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.KeepsClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.deadline.DeadlineHeaders;
import dev.outrigger.internal.deadline.DeadlineInterceptor;
import dev.outrigger.internal.jfr.JfrListener;
import dev.outrigger.internal.retry.FollowUpGuard;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import javax.net.ssl.SSLException;
import okhttp3.Call;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okhttp3.internal.http2.ErrorCode;
import okhttp3.internal.http2.StreamResetException;
import okio.Buffer;
import okio.BufferedSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of the chain: one attempt on the network through OkHttp. The attempt is bounded by the
 * remaining deadline (or the per-attempt timeout when that is shorter), enforced by
 * {@link DeadlineWatchdog}, which cancels the OkHttp call, closing its socket, whatever it was
 * doing (OkHttp's own call timeout stands in when no watchdog runs, unless the OkHttp client's
 * own call timeout is shorter). The body is read
 * into memory here, bounded by {@code maxResponseBytes}, so a failure while reading it is a
 * failure of this attempt (and can be retried) and nothing after the transport can leak a
 * connection. I/O failures are translated here, once, into {@link TransportException}s.
 */
public final class Transport implements CallInterceptor, KeepsClock {
  private static final Logger log = LoggerFactory.getLogger("dev.outrigger.ApiClient");
  private static final Logger STALE_LOG = LoggerFactory.getLogger(IdleConnectionCheck.class);

  private final OkHttpClient okhttp;
  private final Closing clientClosed;
  private final SharedTransport shared;
  private final long attemptTimeoutNanos;
  private final long maxResponseBytes;
  private final String deadlineHeader;
  private final boolean trustRecent;
  private final boolean bodyInPlace;

  /**
   * @param okhttp the client to send with
   * @param attemptTimeout the cap on one attempt, or null for none (the deadline still bounds it)
   * @param maxResponseBytes the largest body read
   * @param deadlineHeader the header that carries the remaining budget, or null to send none
   * @param trustRecent whether no user code can run between the call's clock readings and this
   *     transport (no listener or interceptor of the user's; see
   *     {@link RealCallContext#recentNanos}), so an attempt may be dated from the latest reading
   *     instead of a new one
   * @param bodyInPlace whether no user code that sees responses sits between this transport and
   *     the client, so nothing can read a body before the decoder: a small body is then left in
   *     its buffer for the decoder, not copied ({@link RealCallContext#bufferInPlace})
   */
  public Transport(OkHttpClient okhttp, Duration attemptTimeout, long maxResponseBytes,
      String deadlineHeader, boolean trustRecent, boolean bodyInPlace) {
    this(okhttp, attemptTimeout, maxResponseBytes, deadlineHeader, trustRecent, bodyInPlace,
        new Closing(), null);
  }

  /**
   * @param clientClosed set when the client closes: an attempt not yet sent then is refused
   * @param shared the client's transport, told when each attempt ends (null: none)
   */
  public Transport(OkHttpClient okhttp, Duration attemptTimeout, long maxResponseBytes,
      String deadlineHeader, boolean trustRecent, boolean bodyInPlace, Closing clientClosed,
      SharedTransport shared) {
    this.clientClosed = clientClosed;
    this.shared = shared;
    this.okhttp = okhttp;
    this.trustRecent = trustRecent;
    this.bodyInPlace = bodyInPlace;
    this.attemptTimeoutNanos =
        attemptTimeout == null ? 0 : Durations.saturatedNanos(attemptTimeout);
    this.maxResponseBytes = maxResponseBytes;
    this.deadlineHeader = deadlineHeader;
  }

  /**
   * A {@link NetworkInterceptor} that treats only the headers every client masks as secret (for
   * tests and benchmarks that build their own OkHttp client; a client installs its own).
   */
  public static final Interceptor NETWORK_INTERCEPTOR = new NetworkInterceptor(Redactor.DEFAULTS);

  /** Tells {@code ctx} whether {@code call} got as far as writing its request. */
  private static void noteWritten(Call call, RealCallContext ctx) {
    if (NetworkInterceptor.written(call)) {
      ctx.markRequestWritten();
    }
  }

  @Override
  public Response intercept(Chain chain) {
    RealCallContext ctx = (RealCallContext) chain.context();
    // The deadline budget, the attempt timeout and the check below must not trust a reading
    // that user code (a listener, a key function, an interceptor between two proceed() calls)
    // may have made stale: a reading of its own, unless no user code can run in this chain and
    // the call's latest reading is fresh (the policies' own waits mark it stale).
    long start = trustRecent ? ctx.recentNanos() : ctx.readClock();
    long remaining = ctx.remainingNanos(start);
    if (remaining <= 0) {
      throw DeadlineInterceptor.exceeded(ctx, null, "before attempt " + ctx.attempt());
    }
    if (clientClosed.isClosed()) {
      // Closed while this call was under way (in a backoff, a wait for a permit): the attempts
      // already sent finish, no new one starts.
      throw closedBeforeSending(ctx, null);
    }
    boolean capped = attemptTimeoutNanos > 0 && attemptTimeoutNanos < remaining;
    long timeout = capped ? attemptTimeoutNanos : remaining;

    Request request = chain.request();
    if (deadlineHeader != null) {
      // Written again with what is left when the request goes out (NetworkInterceptor.Budget).
      request = request.newBuilder()
          .header(deadlineHeader, DeadlineHeaders.format(deadlineHeader, timeout))
          .tag(NetworkInterceptor.BUDGET,
              new NetworkInterceptor.Budget(deadlineHeader, ctx.clock(), start + timeout))
          .build();
    }
    Call call = okhttp.newCall(request);

    boolean firstSend = ctx.markSent(start, trustRecent);
    ctx.listener().attemptStart(ctx);
    // The attempt's length is timed from here, not from start: a user's attemptStart may take
    // any time, which is no time on the network (the deadline's budget still pays for it).
    long sentAt = trustRecent ? start : ctx.readClock();
    if (firstSend) {
      ctx.redateSent(sentAt);
    }
    Response response;
    // The deadline (or the attempt timeout) cancels the call through the shared watchdog, not
    // OkHttp's call timeout, whose single lock every attempt would queue on (DeadlineWatchdog).
    // On the system clock the reading above dates the deadline (start + remaining is the call's
    // deadline exactly); a test's clock says nothing of System.nanoTime().
    DeadlineWatchdog.Timer timer = watch(call, ctx, start, timeout, start);
    Response received = null;
    boolean writtenResent = false;
    try {
      for (int resent = 0; ; resent++) {
        try {
          received = call.execute();
          break;
        } catch (IdleConnectionCheck.StaleConnectionException e) {
          // The call being set aside may have written the call's own request (the stale
          // connection was then a follow-up's, or its server closed it as the request went
          // out): noted before the call is replaced.
          noteWritten(call, ctx);
          long now = ctx.readClock();
          if (resent == MAX_STALE_RESENDS || call.isCanceled() || timer.fired()
              || now - start >= timeout) {
            // Too many, or the deadline's cut closed the socket during the check (or is about
            // to: the watchdog cancels on a thread of its own), or the attempt's time is up,
            // though the watchdog has not cut it yet: nothing is sent after it.
            throw e;
          }
          boolean written = NetworkInterceptor.written(call);
          if (written) {
            // The server may have seen the call's own request. It goes again at most once per
            // attempt (a second such failure ends the attempt, for the retry policy to judge,
            // with its permit, budget and count), and only if it may go twice: idempotent, and
            // a body that can be read again.
            String refused = writtenResent ? "it went twice already in this attempt"
                : !ctx.idempotent() ? "it is not idempotent (give it an idempotencyKey(...) or "
                    + "retryable() if it may be sent more than once)"
                : request.body() != null && request.body().isOneShot()
                    ? "its body can be read once" : null;
            if (refused != null) {
              throw new IOException(e.getMessage() + ". The call's own request, written "
                  + "already, was not sent again on another connection: " + refused, e);
            }
            writtenResent = true;
            IdleConnectionCheck.probing();
          }
          // The same request, at once, on another connection (the stale one takes no more
          // exchanges). Not an attempt: the server never saw it; or the stale connection was a
          // follow-up's (a redirect's), and the server saw the call's own request, which may go
          // more than once (NetworkInterceptor fails one that may not), as OkHttp writes more
          // than one request within an attempt; or the server closed the connection as the
          // request went out, before answering, as it closes idle ones (Go's net/http sends such
          // a request again too, if it may go twice). Logged on a logger of its own: the
          // client's has one line per attempt.
          if (STALE_LOG.isDebugEnabled()) {
            STALE_LOG.debug("{}: {}; sending {}on another connection (attempt {})",
                ctx.describe(), e.getMessage(),
                written ? "the call's own request, written already, again " : "", ctx.attempt());
          }
          timer.done();
          call = okhttp.newCall(request);
          if (writtenResent) {
            // A server closed a connection of this call's that was in use: the pool may hold
            // more it closed so, whose end of stream has arrived since (checked, however briefly
            // idle).
            IdleConnectionCheck.probeEvery(call);
          }
          timer = watch(call, ctx, start, timeout, now);
        } finally {
          noteWritten(call, ctx);
        }
      }
      response = buffer(received, ctx, call);
      // Put back a 503's Retry-After: 0 the network interceptor hid from OkHttp (FollowUpGuard).
      response = FollowUpGuard.unguard(response);
      // Where the answer came from, for a status an attempt interceptor throws from it
      // (Failures.hostStatus): nothing kept when it is the call's own URL.
      ctx.answered(response.request().url());
    } catch (IOException e) {
      boolean timedOut = timer.timedOut(e);
      // Only when the deadline cut the attempt: is e the cut's own doing, and where was it?
      String cut = timedOut && (timer.fallback || isCut(e)) ? cutWhile(e, ctx, received) : null;
      ApiException failure = translate(e, ctx, capped, timeout, timedOut, cut);
      endFailed(ctx, sentAt, -1, failure);
      throw failure;
    } catch (DeserializationException e) {
      // A body refused as too large: its status arrived.
      endFailed(ctx, sentAt, ctx.refusedStatus(), e);
      throw e;
    } catch (RuntimeException | Error e) {
      // From inside OkHttp's call: an OkHttp interceptor of the user's, a Dns or a socket
      // factory that threw. The attempt started, so it ends in every account, then the
      // exception goes on as it is.
      endFailed(ctx, sentAt, -1, e);
      throw e;
    } catch (Exception e) {
      // A checked exception OkHttp's Kotlin code let through undeclared: in 5.5.1, an interrupt
      // of its wait for an asynchronous Dns.Call's answer (InterruptedException). It must not
      // reach a caller whose execute() declares none. The call is cancelled: OkHttp left it
      // without ending it, and the Dns's own lookup is cancelled with it (CancellableDns).
      call.cancel();
      ApiException failure = undeclared(e, ctx);
      endFailed(ctx, sentAt, -1, failure);
      throw failure;
    } finally {
      timer.done();
      if (writtenResent) {
        IdleConnectionCheck.probed();
      }
      if (shared != null) {
        shared.attemptEnded();
      }
    }
    boolean timed = !JfrListener.ignoresElapsed(ctx.listener());
    boolean debug = log.isDebugEnabled();
    Duration elapsed = null;
    if (!trustRecent || timed || debug) {
      long nanos = ctx.readClock() - sentAt;
      if (debug) {
        log.debug("{} -> {} in {} ms (attempt {})", ctx.describe(), response.code(),
            nanos / 1_000_000, ctx.attempt());
      }
      elapsed = timed ? Duration.ofNanos(nanos) : null;
    } else {
      // Nothing here wants the attempt's length, and no user code runs after it: a policy that
      // needs the time now reads the clock itself (the breaker, only when the attempt could
      // have been slow or its outcome moves the breaker).
      ctx.staleClock();
    }
    ctx.listener().attemptEnd(ctx, response.code(), null, elapsed);
    return response;
  }

  /**
   * {@code message} without a leading {@code call} (an ApiException's names it first, followed
   * by a space, "failed: ...", or a colon, ": deadline exceeded ...").
   */
  private static String withoutPrefix(String message, String call) {
    if (message == null || !message.startsWith(call)) {
      return message;
    }
    int at = call.length();
    if (message.startsWith(": ", at)) {
      return message.substring(at + 2);
    }
    return message.startsWith(" ", at) ? message.substring(at + 1) : message;
  }

  /**
   * Ends an attempt that failed, timed from {@code start}: its DEBUG line and the listener's
   * {@code attemptEnd}. {@code status} is the status that arrived (a body then refused), or -1.
   */
  private static void endFailed(RealCallContext ctx, long start, int status, Throwable failure) {
    long nanos = ctx.readClock() - start;
    if (log.isDebugEnabled()) {
      String call = ctx.describe();
      if (status >= 0) {
        // The refusal's message names the call and status first ("GET url -> 200: ...").
        log.debug("{} -> {} in {} ms (attempt {}), body refused: {}", call, status,
            nanos / 1_000_000, ctx.attempt(),
            withoutPrefix(failure.getMessage(), call + " -> " + status));
      } else {
        Object what =
            failure instanceof ApiException ? withoutPrefix(failure.getMessage(), call) : failure;
        log.debug("{} -> {} in {} ms (attempt {})", call, what, nanos / 1_000_000, ctx.attempt());
      }
    }
    ctx.listener().attemptEnd(ctx, status, failure, elapsed(ctx, nanos));
  }

  /**
   * Has the watchdog cancel {@code call} at {@code start + timeout}: on the system clock exactly
   * (its readings are the watchdog's); on a test's clock, after what is left of {@code timeout}
   * at {@code now}, a reading of that clock.
   */
  private static DeadlineWatchdog.Timer watch(
      Call call, RealCallContext ctx, long start, long timeout, long now) {
    return ctx.clock() == NanoClock.SYSTEM
        ? DeadlineWatchdog.watch(call, start + timeout, timeout)
        : DeadlineWatchdog.watch(call, Math.max(1, timeout - (now - start)));
  }

  /** {@code nanos} for the listener, or null if it ignores elapsed times (see JfrListener). */
  private static Duration elapsed(RealCallContext ctx, long nanos) {
    return JfrListener.ignoresElapsed(ctx.listener()) ? null : Duration.ofNanos(nanos);
  }

  /**
   * Bodies up to this size stay in the response OkHttp made (with a copy for the decoder when
   * user code may read them first); larger ones move into a {@link BufferedBody} of their own,
   * so no call holds a large body twice.
   */
  static final long IN_PLACE_MAX_BYTES = 64 * 1024;

  /**
   * How many stale pooled connections one attempt sets aside before it fails (all but one of
   * them found before its request was written; see {@link IdleConnectionCheck}). Every one
   * found takes no more exchanges, so a pool the server emptied while idle is worked through by
   * a few calls.
   */
  static final int MAX_STALE_RESENDS = 32;

  /**
   * Reads the body into memory, refusing one over the limit without reading it all (its call
   * cancelled, so that closing it closes the connection rather than read on; an error's body is cut
   * to the limit the same way). A body kept whole is read to its end, so OkHttp has released the
   * connection, and interceptors read the bytes like any body's; the client's decoder gets them
   * whole, whatever an interceptor read of them ({@link RealCallContext#bufferedBytes},
   * {@link BufferedBody#array()}).
   *
   * <p>A body of up to {@link #IN_PLACE_MAX_BYTES} stays in the response OkHttp made (no second
   * {@code Response} is built, ~85 ns and 432 B per call). When user code that sees responses
   * (an interceptor, a {@code retryOnResponse} predicate, an auth refresh) could read it before
   * the decoder, the decoder gets a copy made here; otherwise it reads the buffer filled here
   * ({@link RealCallContext#bufferInPlace}). A larger body is moved out of Okio's buffer into an
   * array, and the response rebuilt around it: memory for one copy of it, not two.
   */
  private Response buffer(Response response, RealCallContext ctx, Call call) throws IOException {
    ResponseBody body = response.body();
    boolean buffered = false;
    // An error's body is kept for its snippet and for the policies' predicates, not decoded: one
    // over the limit is cut to it (and its connection closed), so a 503 with a huge error page
    // stays a 503 that can be retried, and a 404 an HttpStatusException.
    boolean error = !Failures.isSuccess(response.code());
    try {
      long declared = body.contentLength();
      if (declared > maxResponseBytes && !error) {
        if (ctx.bodyDiscarded()) {
          return discarded(response, call);
        }
        // Refused unread: cancelled, so that closing it does not read on to keep the connection.
        call.cancel();
        throw tooLarge(ctx, response, "declares " + declared + " bytes");
      }
      BufferedSource source = body.source();
      if (source.request(maxResponseBytes + 1)) {
        if (error) {
          byte[] head = source.getBuffer().readByteArray(maxResponseBytes);
          // The rest is never read: cancelling closes the socket at once, where closing the
          // body would first let OkHttp read on for up to 100 ms to keep the connection.
          call.cancel();
          return response.newBuilder().removeHeader("Content-Length")
              .body(new BufferedBody(head, body.contentType())).build();
        }
        if (ctx.bodyDiscarded()) {
          return discarded(response, call);
        }
        call.cancel(); // as above
        throw tooLarge(ctx, response, "is larger than " + maxResponseBytes + " bytes");
      }
      // request() stopped at the end of the body: the whole of it is in the buffer.
      Buffer whole = source.getBuffer();
      if (whole.size() > IN_PLACE_MAX_BYTES) {
        byte[] bytes = whole.readByteArray();
        return response.newBuilder().body(new BufferedBody(bytes, body.contentType())).build();
      }
      if (bodyInPlace) {
        ctx.bufferedInPlace(body, whole);
      } else {
        ctx.buffered(body, copyOf(whole, whole.size()));
      }
      buffered = true;
      return response;
    } finally {
      if (!buffered) {
        response.close();
      }
    }
  }

  /**
   * A success over the size limit whose caller discards the body ({@code execute()}): nothing
   * would read it, so it is not refused. The rest is not read: cancelling closes the socket at
   * once (the caller of {@link #buffer} closes the response); what follows sees an empty body.
   */
  private static Response discarded(Response response, Call call) {
    call.cancel();
    return response.newBuilder().removeHeader("Content-Length")
        .body(new BufferedBody(new byte[0], response.body().contentType())).build();
  }

  /**
   * The first {@code limit} bytes of {@code buffer} (all, if fewer), which is left as it is. Not
   * {@code snapshot()} or {@code peek()}: those share the buffer's segments, which then never
   * return to Okio's pool (8 KiB more garbage per call).
   */
  public static byte[] copyOf(Buffer buffer, long limit) {
    byte[] bytes = new byte[(int) Math.min(limit, buffer.size())];
    try (Buffer.UnsafeCursor cursor = buffer.readUnsafe()) {
      int at = 0;
      for (int n = cursor.seek(0); n != -1 && at < bytes.length; n = cursor.next()) {
        int take = Math.min(n, bytes.length - at);
        System.arraycopy(cursor.data, cursor.start, bytes, at, take);
        at += take;
      }
    }
    return bytes;
  }

  private static DeserializationException tooLarge(
      RealCallContext ctx, Response response, String what) {
    ctx.refusedStatus(response.code());
    return new DeserializationException(
        ctx.describe() + " -> " + response.code() + ": the response body " + what
            + ", over the limit; raise ApiClient.Builder.maxResponseBytes if this is expected",
        null, ctx.attemptsSent());
  }

  /** A checked exception {@code call.execute()} threw undeclared, as a failure of the call. */
  private static ApiException undeclared(Exception e, RealCallContext ctx) {
    // The interrupt status was cleared by the wait that threw: the caller must still see it.
    return e instanceof InterruptedException
        ? interrupted(ctx, e)
        : failed(ctx, e, TransportException.Kind.IO);
  }

  /**
   * The attempt's failure as an interrupt of the caller's: CANCELLED, with the thread's
   * interrupt status set again (the wait that noticed the interrupt cleared it).
   */
  private static TransportException interrupted(RealCallContext ctx, Exception cause) {
    Thread.currentThread().interrupt();
    return new TransportException(ctx.describe() + " was interrupted", cause,
        ctx.attemptsSent(), TransportException.Kind.CANCELLED);
  }

  /** The attempt refused because the client was closed before it sent anything. */
  private static TransportException closedBeforeSending(RealCallContext ctx, Exception cause) {
    return new TransportException(ctx.describe() + ": attempt " + ctx.attempt()
        + " not sent: the ApiClient was closed", cause, ctx.attemptsSent(),
        TransportException.Kind.CANCELLED);
  }

  /** The attempt's own failure, {@code kind}, with {@code cause}'s message as the reason. */
  private static TransportException failed(
      RealCallContext ctx, Exception cause, TransportException.Kind kind) {
    String reason =
        cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    return new TransportException(ctx.describe() + " failed: " + reason, cause,
        ctx.attemptsSent(), kind);
  }

  /**
   * Whether {@code e}, thrown by an attempt the watchdog cancelled, is that cancel's own doing (the
   * socket it closed, OkHttp's "Canceled", the stream it reset, the name lookup it abandoned,
   * the idle check it cut short), which says nothing of the server, rather than a failure of the
   * attempt's own that the cut came upon: OkHttp throws a connect's first failure (a refused
   * route) with the later ones, the cut's included, attached to it.
   */
  static boolean isCut(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof CancellableDns.LookupCancelled
          || t instanceof IdleConnectionCheck.StaleConnectionException
          || (t instanceof StreamResetException reset && reset.errorCode == ErrorCode.CANCEL)
          || (t instanceof SocketException && isClosedSocket(t.getMessage()))
          || (t.getClass() == IOException.class && "Canceled".equals(t.getMessage()))) {
        return true;
      }
    }
    return false;
  }

  /** The JDK's words for a socket closed under a read, a write or a connect. */
  static boolean isClosedSocket(String message) {
    return "Socket closed".equals(message) || "Socket is closed".equals(message);
  }

  /**
   * What the attempt was doing when its deadline or attempt timeout cut it, for the message:
   * resolving the host name, connecting (no request written yet), sending the request or
   * awaiting the response, or reading the body ({@code received}: the response whose body was
   * being read, or null).
   */
  private static String cutWhile(IOException e, RealCallContext ctx, Response received) {
    if (received != null) {
      return "read the response body";
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof CancellableDns.LookupCancelled) {
        return "resolved the host name";
      }
    }
    return ctx.lastRequestWritten() ? "sent its request or awaited the response" : "connected";
  }

  /**
   * The attempt's failure {@code e} as the call's. {@code cut}, when the deadline itself ended
   * the attempt ({@code e} is then the cancel's own doing), says where it was cut.
   */
  private static ApiException translate(IOException e, RealCallContext ctx, boolean capped,
      long timeoutNanos, boolean timedOut, String cut) {
    if (e instanceof NetworkInterceptor.ClosedBeforeWriting) {
      // close() came while the attempt connected: as the check before an attempt says it.
      return closedBeforeSending(ctx, e);
    }
    Closing.ClosedException closed = CancellableDns.closedBy(e);
    if (closed != null) {
      // close() ended the attempt's name lookup: as it ends a wait in a policy.
      return Failures.cancelled(ctx, closed);
    }
    boolean interrupted = Thread.currentThread().isInterrupted()
        || (e instanceof InterruptedIOException && "interrupted".equals(e.getMessage()))
        || (e instanceof SocketException && String.valueOf(e.getMessage()).contains("interrupt"));
    if (interrupted) {
      // Okio clears the flag when it notices an interrupt; the caller must still see it.
      TransportException cancelled = interrupted(ctx, e);
      if (!timedOut && ctx.deadline().isExpired()) {
        // The interrupt ended an attempt whose deadline had passed before the deadline's own
        // cut came (FanOut interrupts what still runs 100 ms after its batch deadline; a loaded
        // machine can make the watchdog later still): the deadline, the interrupt status kept.
        // One the cut woke (a platform thread blocked in a read) stays the caller's cancel.
        return DeadlineInterceptor.exceeded(ctx, cancelled, null);
      }
      return cancelled;
    }
    if (timedOut && (!capped || ctx.deadline().isExpired())) {
      // The deadline's own cut (the watchdog cancels on the real clock; a test's clock may not
      // have reached it yet).
      return cut != null
          // The exchange's exception says nothing of the server: not the cause.
          ? DeadlineInterceptor.cut(ctx, e, "while attempt " + ctx.attempt() + " " + cut)
          // A failure of the attempt's own that the cut came upon: the cause, as itself.
          : DeadlineInterceptor.exceeded(
              ctx, classify(e, ctx, false, timeoutNanos, false, null), null);
    }
    TransportException failure = classify(e, ctx, capped, timeoutNanos, timedOut, cut);
    if (ctx.deadline().isExpired()) {
      // A failure of its own (a refused connection, a reset) that came after the deadline: the
      // cause, as the same failure a moment earlier would have been.
      return DeadlineInterceptor.exceeded(ctx, failure, null);
    }
    return failure;
  }

  /** The attempt's own failure, as what it is: a timeout, a refused connect, TLS, I/O. */
  private static TransportException classify(IOException e, RealCallContext ctx, boolean capped,
      long timeoutNanos, boolean timedOut, String cut) {
    if (capped && timedOut) {
      String timedOutAfter = ctx.describe() + ": attempt " + ctx.attempt() + " timed out after "
          + Duration.ofNanos(timeoutNanos).toMillis() + " ms";
      if (cut == null) {
        // A failure of the attempt's own that the cut came upon: the cause.
        return new TransportException(
            timedOutAfter, e, ctx.attemptsSent(), TransportException.Kind.TIMEOUT);
      }
      // The exchange's exception is the client's own cancel ("Socket closed"), which says
      // nothing of the server: kept as suppressed, not as the cause.
      TransportException t = new TransportException(timedOutAfter + " while it " + cut, null,
          ctx.attemptsSent(), TransportException.Kind.TIMEOUT);
      t.addSuppressed(e);
      return t;
    }
    TransportException.Kind kind;
    if (e instanceof UnknownHostException || e instanceof ConnectException
        || e instanceof NoRouteToHostException) {
      kind = TransportException.Kind.CONNECT;
    } else if (e instanceof SSLException) {
      kind = TransportException.Kind.TLS;
    } else if (e instanceof SocketTimeoutException) {
      kind = ctx.lastRequestWritten() ? TransportException.Kind.TIMEOUT
          : TransportException.Kind.CONNECT;
    } else if (e instanceof InterruptedIOException && "timeout".equals(e.getMessage())) {
      // A supplied OkHttpClient's own call timeout.
      kind = TransportException.Kind.TIMEOUT;
    } else if (e instanceof ProtocolException
        && !String.valueOf(e.getMessage()).startsWith("unexpected end of stream")) {
      // A malformed answer or a redirect loop; a body cut short (OkHttp's "unexpected end of
      // stream", a ProtocolException too) is a broken connection, IO.
      kind = TransportException.Kind.PROTOCOL;
    } else {
      kind = TransportException.Kind.IO;
    }
    return failed(ctx, e, kind);
  }

  @Override
  public String toString() {
    return "OkHttp[attempt timeout "
        + (attemptTimeoutNanos == 0 ? "none" : Duration.ofNanos(attemptTimeoutNanos))
        + ", max body " + maxResponseBytes + " bytes"
        + (deadlineHeader == null ? "" : ", deadline header " + deadlineHeader) + "]";
  }
}
