package dev.outrigger.internal.http;

import okhttp3.MediaType;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;

/**
 * A response body already read into memory by the transport. Policies and interceptors read it
 * through {@link #source()} like any body; the client's decoder takes {@link #array()} directly,
 * without copying the bytes into a buffer and out again.
 */
public final class BufferedBody extends ResponseBody {
  private final byte[] bytes;
  private final MediaType contentType;
  private Buffer source;

  public BufferedBody(byte[] bytes, MediaType contentType) {
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
  public BufferedSource source() {
    if (source == null) {
      source = new Buffer().write(bytes);
    }
    return source;
  }

  /** Nothing to release: unlike the default, does not create a source only to close it. */
  @Override
  public void close() {
    if (source != null) {
      source.clear();
    }
  }

  /**
   * The whole body, whether or not {@link #source()} was read. The array is not copied: callers
   * must not change it.
   */
  public byte[] array() {
    return bytes;
  }
}
