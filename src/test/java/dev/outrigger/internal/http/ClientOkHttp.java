package dev.outrigger.internal.http;

import okhttp3.OkHttpClient;

/**
 * For tests that run policies in a small real chain: an OkHttp client set up as a client's
 * transport is (no silent re-send on a connection failure, the client's network interceptor).
 */
public final class ClientOkHttp {
  private ClientOkHttp() {}

  /** A builder with a client's transport settings; add to it, then build. */
  public static OkHttpClient.Builder builder() {
    return new OkHttpClient.Builder()
        .retryOnConnectionFailure(false)
        .addNetworkInterceptor(Transport.NETWORK_INTERCEPTOR);
  }
}
