package dev.outrigger.internal.http;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.concurrent.TimeUnit;
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
 * the call, so it pays it after an idle second or a first exchange that lasted one). A connection the server closes while a request is on its way, or one
 * closed after less than a second idle, is not caught here: that attempt fails like any
 * other. HTTP/2 connections are left to OkHttp, whose reader sees the server's GOAWAY.
 */
public final class IdleConnectionCheck {
  /** Connections idle at least this long are checked before a request is written on them. */
  static final long AFTER_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** Tests shorten the idle time that triggers the check; never changed otherwise. */
  static volatile long afterNanos = AFTER_NANOS;

  private IdleConnectionCheck() {}

  /**
   * Returns if {@code connection} can carry a request; throws if its server closed it.
   *
   * @throws StaleConnectionException the server closed the connection (nothing was written)
   * @throws InterruptedIOException the calling thread was interrupted during the check
   */
  static void check(Connection connection) throws IOException {
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
    if (idle < afterNanos) {
      return;
    }
    if (serverClosed(connection.socket())) {
      real.noNewExchanges();
      throw new StaleConnectionException("the server closed this pooled connection after "
          + TimeUnit.NANOSECONDS.toMillis(idle) + " ms idle (its keep-alive timeout)");
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
   * A pooled connection's server closed it while it was idle; nothing of the request was
   * written, so it may be sent again, whatever its method.
   */
  public static final class StaleConnectionException extends IOException {
    private static final long serialVersionUID = 1L;

    StaleConnectionException(String message) {
      super(message);
    }
  }
}
