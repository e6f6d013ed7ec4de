package dev.outrigger;

import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.MediaType;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.BufferedSource;

/** A response body that reads through to another and counts its close() calls. */
public final class CloseCountingBody extends ResponseBody {
  private final ResponseBody body;
  private final AtomicInteger closed;

  private CloseCountingBody(ResponseBody body, AtomicInteger closed) {
    this.body = body;
    this.closed = closed;
  }

  /** {@code r} with its body wrapped so that each close() of it adds one to {@code closed}. */
  public static Response wrap(Response r, AtomicInteger closed) {
    return r.newBuilder().body(new CloseCountingBody(r.body(), closed)).build();
  }

  @Override
  public MediaType contentType() {
    return body.contentType();
  }

  @Override
  public long contentLength() {
    return body.contentLength();
  }

  @Override
  public BufferedSource source() {
    return body.source();
  }

  @Override
  public void close() {
    closed.incrementAndGet();
    body.close();
  }
}
