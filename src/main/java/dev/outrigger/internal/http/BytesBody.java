package dev.outrigger.internal.http;

import java.io.IOException;
import okhttp3.MediaType;
import okhttp3.RequestBody;
import okio.BufferedSink;

/**
 * A request body the client sends from bytes it holds ({@code json(...)}, {@code body(...)}),
 * as OkHttp's {@code RequestBody.create(byte[], MediaType)} does, which also lets the redactor
 * read a form's secret fields from {@link #array()} on the error path without writing the body
 * again.
 */
public final class BytesBody extends RequestBody {
  private final byte[] bytes;
  private final MediaType contentType;

  public BytesBody(byte[] bytes, MediaType contentType) {
    this.bytes = bytes;
    this.contentType = contentType;
  }

  @Override
  public MediaType contentType() {
    return contentType;
  }

  @Override
  public long contentLength() {
    return bytes.length;
  }

  @Override
  public void writeTo(BufferedSink sink) throws IOException {
    sink.write(bytes);
  }

  /** The bytes sent, not a copy: not to be changed. */
  public byte[] array() {
    return bytes;
  }
}
