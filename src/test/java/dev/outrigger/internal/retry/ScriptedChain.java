package dev.outrigger.internal.retry;

import dev.outrigger.ApiException;
import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.TransportException;
import dev.outrigger.internal.FakeClock;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.Redactor;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import okhttp3.Headers;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;

/**
 * The end of a policy chain played from a script: each proceed() runs the next step, as the
 * transport would (marking the attempt sent, and the request written when the step says so).
 * Builds plain response values; no network.
 */
final class ScriptedChain implements CallInterceptor.Chain {
  /** One attempt's outcome. */
  interface Step {
    Response run(RealCallContext ctx, Request request);
  }

  final RealCallContext ctx;
  private final Request request;
  private final Deque<Step> steps = new ArrayDeque<>();
  final List<Integer> attemptsSeen = new ArrayList<>();
  final List<TrackingBody> bodies = new ArrayList<>();

  ScriptedChain(Request request, FakeClock clock, Duration deadline, boolean idempotent,
      CallListener listener) {
    this.request = request;
    this.ctx = new RealCallContext(request.method(), request.url(),
        Deadline.after(deadline, clock::nanoTime), idempotent, clock, listener,
        new Redactor(Set.of(), Set.of()));
  }

  static Request get() {
    return new Request.Builder().url("http://api.test:8080/things/1").build();
  }

  /** An attempt that reaches the transport (counted as sent). */
  ScriptedChain then(Step step) {
    steps.add((c, r) -> {
      c.markSent();
      return step.run(c, r);
    });
    return this;
  }

  /** An attempt refused before the transport (an open breaker, say): not counted as sent. */
  ScriptedChain refused(ApiException e) {
    steps.add((c, r) -> {
      throw e;
    });
    return this;
  }

  ScriptedChain status(int code, String... headerPairs) {
    return then((c, r) -> {
      c.markRequestWritten();
      return response(r, code, headerPairs);
    });
  }

  /** A transport failure; {@code written} says whether the request may have reached the server. */
  ScriptedChain fails(TransportException.Kind kind, boolean written) {
    return then((c, r) -> {
      if (written) {
        c.markRequestWritten();
      }
      throw new TransportException(kind + " failure of " + c.describe(),
          new IOException(kind.name()), c.attemptsSent(), kind);
    });
  }

  int remainingSteps() {
    return steps.size();
  }

  Response response(Request r, int code, String... headerPairs) {
    TrackingBody body = new TrackingBody("body of " + code);
    bodies.add(body);
    return new Response.Builder()
        .request(r)
        .protocol(Protocol.HTTP_1_1)
        .code(code)
        .message("status " + code)
        .headers(Headers.of(headerPairs))
        .body(body)
        .build();
  }

  @Override
  public Request request() {
    return request;
  }

  @Override
  public CallContext context() {
    return ctx;
  }

  @Override
  public Response proceed(Request r) {
    attemptsSeen.add(ctx.attempt());
    Step step = steps.poll();
    if (step == null) {
      throw new AssertionError("more attempts than scripted");
    }
    return step.run(ctx, r);
  }

  /** A buffered body that records whether it was closed. */
  static final class TrackingBody extends ResponseBody {
    private final Buffer buffer;
    private final long size;
    volatile boolean closed;

    TrackingBody(String text) {
      this.buffer = new Buffer().writeUtf8(text);
      this.size = buffer.size();
    }

    @Override
    public MediaType contentType() {
      return MediaType.get("text/plain");
    }

    @Override
    public long contentLength() {
      return size;
    }

    @Override
    public BufferedSource source() {
      return buffer;
    }

    @Override
    public void close() {
      closed = true;
      buffer.clear();
    }
  }
}
