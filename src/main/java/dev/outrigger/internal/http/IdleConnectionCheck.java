package dev.outrigger.internal.http;

import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import kotlin.jvm.JvmClassMappingKt;
import kotlin.jvm.functions.Function0;
import kotlin.reflect.KClass;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.Protocol;
import okhttp3.internal.connection.RealConnection;

/**
 * Finds a pooled HTTP/1 connection the server closed while it sat idle, before a request is
 * written on it.
 *
 * <p>Servers close keep-alive connections they see idle for a while: Node.js, Apache httpd and
 * uvicorn after 5 s, gunicorn after 2 s, nginx after 75 s. OkHttp hands such a connection out
 * again (it checks only a non-GET's connection, and only one idle for 10 s), the request is
 * written into a socket the server already closed, and the read that follows meets the end of
 * the stream. OkHttp then re-sends by itself, which Outrigger turns off because it re-sends a
 * POST the same way. Go's {@code net/http} keeps a reader on every idle connection and drops one
 * the moment its server closes it; this check is that reader's answer, asked once, when the
 * connection is taken: a connection idle for at least {@link #AFTER_NANOS} gets a read of at most
 * a millisecond. The end of the stream (or a reset, or bytes the server sent out of turn) means
 * the connection is not used: it takes no new exchanges, and the call fails with
 * {@link StaleConnectionException} before any byte of its request was written, which the
 * transport answers by sending the request again at once on another connection. A request
 * OkHttp writes after the call's first (a redirect's, an authenticator's answer), perhaps on
 * another pooled connection, is checked the same way: the transport then sends the call's own
 * request again, once per attempt, unless it must be sent once or its body can be read once,
 * when the attempt fails instead ({@code NetworkInterceptor.checkFollowUpConnection}).
 *
 * <p>A healthy connection costs its caller that millisecond, and only after an idle second, when
 * the client is not busy (a follow-up on the call's own connection reads as idle since before
 * the call, so it pays it after an idle second or a first exchange that lasted one). A
 * connection closed after less than a second idle, or as the request goes out, is not caught
 * by the check: its request is written, and meets the end of the stream (or a reset) where the
 * answer was to begin. On a reused connection (one that carried an earlier exchange) that is
 * the same race, lost later, and {@link #closedAsSent} makes it a
 * {@link StaleConnectionException} too, for the transport to send the request again at once if
 * it may go twice (Go's {@code net/http}: {@code errServerClosedIdle},
 * {@code shouldRetryRequest}); on a connection made for the request, it is the server's own
 * failure, and the attempt's. HTTP/2 connections are left to OkHttp, whose reader sees the
 * server's GOAWAY.
 */
public final class IdleConnectionCheck {
  /** Connections idle at least this long are checked before a request is written on them. */
  static final long AFTER_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** Tests shorten the idle time that triggers the check; never changed otherwise. */
  static volatile long afterNanos = AFTER_NANOS;

  /**
   * How many attempts are sending their request again once written ({@link #probing}). While
   * none is, a connection idle for less than {@link #afterNanos} costs the check a read of this
   * field, no more.
   */
  private static final AtomicInteger probingAttempts = new AtomicInteger();

  /** The tag of a call whose every reused connection is checked, however briefly idle. */
  private static final class Probe implements Function0<Probe> {
    static final Probe INSTANCE = new Probe();

    @Override
    public Probe invoke() {
      return this;
    }
  }

  private static final KClass<Probe> PROBE_TAG = JvmClassMappingKt.getKotlinClass(Probe.class);

  private IdleConnectionCheck() {}

  /**
   * Starts an attempt's sending again of its request once written (its server closed a pooled
   * connection as the request went out, or a follow-up's connection was found closed): each call
   * it then makes is tagged with {@link #probeEvery}. The attempt calls {@link #probed} once it
   * has ended.
   */
  static void probing() {
    probingAttempts.incrementAndGet();
  }

  /** An attempt that called {@link #probing} has ended. */
  static void probed() {
    probingAttempts.decrementAndGet();
  }

  /**
   * Has every connection {@code call} is given that carried an exchange before checked before a
   * request is written on it, however briefly idle: {@code call} sends again a request written
   * once already, on a pooled connection its server closed, and a server that closes connections
   * (one that closes them just after answering) may have closed others in the pool the same
   * way, whose end of stream has arrived since. A healthy one costs the call the check's
   * millisecond. Only between {@link #probing} and {@link #probed}.
   */
  static void probeEvery(Call call) {
    call.tag(PROBE_TAG, Probe.INSTANCE);
  }

  /**
   * Returns if {@code connection} can carry a request of {@code call}; throws if its server
   * closed it.
   *
   * @throws StaleConnectionException the server closed the connection (nothing was written)
   * @throws InterruptedIOException the calling thread was interrupted during the check
   */
  static void check(Connection connection, Call call) throws IOException {
    if (!(connection instanceof RealConnection real)) {
      return;
    }
    Protocol protocol = connection.protocol();
    if (protocol == Protocol.HTTP_2 || protocol == Protocol.H2_PRIOR_KNOWLEDGE) {
      return;
    }
    // OkHttp dates a connection's idleness when its last exchange ends, and when it is made:
    // a connection made for this very call reads as idle for no time at all.
    long idle = System.nanoTime() - real.getIdleAtNs();
    if (idle < afterNanos
        && (probingAttempts.get() == 0 || call.tag(PROBE_TAG) == null || !reused(real))) {
      return;
    }
    if (serverClosed(connection.socket())) {
      real.noNewExchanges();
      throw new StaleConnectionException("the server closed this pooled connection after "
          + TimeUnit.NANOSECONDS.toMillis(idle) + " ms idle");
    }
  }

  /**
   * Whether the server closed {@code socket}: a read of at most a millisecond sees the end of
   * the stream or a reset. A byte read means the server spoke out of turn on an idle HTTP/1
   * connection, which cannot be trusted either (and the byte is gone).
   */
  static boolean serverClosed(Socket socket) throws InterruptedIOException {
    int timeout;
    try {
      timeout = socket.getSoTimeout();
    } catch (SocketException e) {
      return true;
    }
    try {
      socket.setSoTimeout(1);
      socket.getInputStream().read();
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      if (Thread.currentThread().isInterrupted()) {
        // The socket closed because the thread was interrupted, not because of the server.
        throw new InterruptedIOException("interrupted");
      }
      return true;
    } finally {
      try {
        socket.setSoTimeout(timeout);
      } catch (SocketException ignored) {
        // closed: nothing more will read it
      }
    }
  }

  /**
   * Whether {@code failure}, thrown by an exchange on {@code connection}, says the server closed
   * the connection as the request went out: the connection had carried an earlier exchange (a
   * fresh one's server has no idle connection to close), and the exchange failed with the end of
   * the stream or a reset before an answer was read ({@link #noAnswer}: an answer cut short
   * within its head reads the same). Asked on failures only: a success costs nothing.
   */
  static boolean closedAsSent(Connection connection, IOException failure) {
    if (!(connection instanceof RealConnection real)
        || Thread.currentThread().isInterrupted() || !noAnswer(failure)) {
      return false;
    }
    Protocol protocol = connection.protocol();
    return protocol != Protocol.HTTP_2 && protocol != Protocol.H2_PRIOR_KNOWLEDGE
        && reused(real);
  }

  /**
   * The failure of an exchange its server {@link #closedAsSent}, for the transport: {@code about}
   * (a follow-up's name), or null, is added to the message.
   */
  static StaleConnectionException closedAsSent(IOException failure, String about) {
    return new StaleConnectionException("the server closed this pooled connection as the request"
        + " went out (" + failure.getMessage() + ", no answer read, on a connection that had"
        + " carried an earlier exchange)"
        + (about == null ? "" : "; " + about), failure);
  }

  /**
   * Whether {@code connection} completed an exchange before: OkHttp's own count, which it keeps
   * to tell a route that never served a call. An exchange that failed on it is not counted yet
   * when its failure reaches the network interceptor (OkHttp counts an exchange once its
   * response body is done).
   */
  private static boolean reused(RealConnection connection) {
    VarHandle count = Reuse.SUCCESS_COUNT;
    return count != null && (int) count.getOpaque(connection) > 0;
  }

  /**
   * OkHttp's private count of a connection's completed exchanges, looked up when the first
   * exchange fails. Null if this OkHttp has no such field or keeps it from us (a module that
   * does not open it): then no failure is taken for a pooled connection closed as it was used,
   * and each fails its attempt, as before.
   */
  private static final class Reuse {
    static final VarHandle SUCCESS_COUNT = lookUp();

    private static VarHandle lookUp() {
      try {
        return MethodHandles.privateLookupIn(RealConnection.class, MethodHandles.lookup())
            .findVarHandle(RealConnection.class, "successCount", int.class);
      } catch (ReflectiveOperationException | RuntimeException e) {
        return null;
      }
    }
  }

  /**
   * Whether {@code failure} came before an answer was read: OkHttp's "unexpected end of stream"
   * where a line of the answer's head was to begin (Okio found no byte: "limit=0"), or a reset
   * of the connection (any {@code SocketException} but the client's own close, a cancel's or an
   * interrupt's). A failed write carries the read OkHttp went on to as suppressed: that decides.
   * Neither tells an answer's head cut short from none: the end of the stream after a status
   * line, whole header lines or an interim {@code 1xx} answer, or a reset anywhere in the head,
   * reads the same (Go's {@code net/http} peeks for a first byte; OkHttp shows none), so the
   * server may have begun to answer a request that is sent again, which may go twice.
   */
  private static boolean noAnswer(IOException failure) {
    Throwable[] suppressed = failure.getSuppressed();
    Throwable read = suppressed.length > 0 ? suppressed[suppressed.length - 1] : failure;
    if (read instanceof SocketException reset) {
      String message = String.valueOf(reset.getMessage());
      return !Transport.isClosedSocket(message) && !message.contains("interrupt");
    }
    return read.getClass() == IOException.class
        && String.valueOf(read.getMessage()).startsWith("unexpected end of stream on ")
        && read.getCause() instanceof EOFException eof
        && String.valueOf(eof.getMessage()).startsWith("\\n not found: limit=0 ");
  }

  /**
   * A pooled connection its server closed: found before anything of the request was written on
   * it (the check), when the request may go again whatever its method, or as the request went
   * out ({@link #closedAsSent}), when it may go again only if it may go twice; the transport
   * tells the two apart by whether the call wrote its request ({@code NetworkInterceptor.written}).
   */
  public static final class StaleConnectionException extends IOException {
    private static final long serialVersionUID = 1L;

    StaleConnectionException(String message) {
      super(message);
    }

    StaleConnectionException(String message, IOException cause) {
      super(message, cause);
    }
  }
}
