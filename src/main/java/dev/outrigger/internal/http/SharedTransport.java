package dev.outrigger.internal.http;

import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.OkHttpClient;

/**
 * One OkHttp transport (its connection pool and dispatcher) shared by an {@code ApiClient} and the
 * clients derived from it with {@code newBuilder()}. Reference-counted: the last client to close
 * releases it. A transport the user supplied is never shut down by Outrigger: its owner does that.
 */
public final class SharedTransport {
  private final OkHttpClient base;
  private final boolean owned;
  private final AtomicInteger refs = new AtomicInteger(1);

  public SharedTransport(OkHttpClient base, boolean owned) {
    this.base = base;
    this.owned = owned;
  }

  public OkHttpClient base() {
    return base;
  }

  public boolean owned() {
    return owned;
  }

  /** Takes a reference for a derived client; false if the transport was already released. */
  public boolean retain() {
    int r;
    do {
      r = refs.get();
      if (r <= 0) {
        return false;
      }
    } while (!refs.compareAndSet(r, r + 1));
    return true;
  }

  /**
   * Called when an attempt has ended and its connection is back in the pool: once the last
   * client has released this transport, the connection is closed now rather than kept for
   * keep-alive (a call in flight at {@code close()} would otherwise leave it open).
   */
  public void attemptEnded() {
    if (refs.get() <= 0 && owned) {
      base.connectionPool().evictAll();
    }
  }

  /** Drops a reference; the last one evicts the pool and stops the dispatcher's threads. */
  public void release() {
    if (refs.decrementAndGet() == 0 && owned) {
      base.dispatcher().executorService().shutdown();
      base.connectionPool().evictAll();
      if (base.cache() != null) {
        try {
          base.cache().close();
        } catch (java.io.IOException ignored) {
          // Nothing useful to do when closing the cache fails at shutdown.
        }
      }
    }
  }
}
