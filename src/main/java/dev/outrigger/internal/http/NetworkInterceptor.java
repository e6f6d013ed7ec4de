package dev.outrigger.internal.http;

import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.retry.FollowUpGuard;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import kotlin.jvm.JvmClassMappingKt;
import kotlin.jvm.functions.Function0;
import kotlin.reflect.KClass;
import okhttp3.Call;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one OkHttp network interceptor of a client's OkHttp client, run for every request OkHttp
 * writes, redirects included. One interceptor for all it does: each network interceptor costs
 * OkHttp a chain link per attempt.
 *
 * <ul>
 *   <li>It tags the OkHttp {@code Call} before its first request is written (a failure before
 *       this point left the server untouched; the transport reads the tag, {@link #written}),
 *       after checking that a pooled connection the server closed while idle is not used
 *       ({@link IdleConnectionCheck}). Only a call that reaches the network pays for the tag.
 *   <li>It keeps credentials on their origin. OkHttp drops {@code Authorization} when it follows
 *       a redirect to another host, and forwards every other header: a {@code Cookie}, a
 *       {@code Proxy-Authorization} set by hand, an API key in a header. A request OkHttp sends
 *       to another origin (scheme, host or port) than the call's first request goes without
 *       every header the client treats as secret: those four, and the names given to
 *       {@code redactHeader} (as Go's {@code net/http} drops {@code Cookie} and
 *       {@code Authorization} on a redirect to another domain). A redirect back to the first
 *       origin carries them again.
 *   <li>It keeps OkHttp from re-sending the request on its own after a {@code 503}
 *       ({@link FollowUpGuard#guard}).
 * </ul>
 */
public final class NetworkInterceptor implements Interceptor {
  private static final Logger log = LoggerFactory.getLogger("dev.outrigger.ApiClient");

  /**
   * The tag put on a {@code Call} whose first request is about to be written: the value and its
   * own supplier, one object for every call.
   */
  private static final class Written implements Function0<Written> {
    static final Written INSTANCE = new Written();

    @Override
    public Written invoke() {
      return this;
    }
  }

  /**
   * The key of that tag, made once: the {@code Class} overloads of {@code Call.tag} map the class
   * to a new Kotlin {@code KClass} on every use, tagging and looking up alike.
   */
  private static final KClass<Written> WRITTEN_TAG =
      JvmClassMappingKt.getKotlinClass(Written.class);

  /**
   * The origin of a call's first request, tagged only when it is not that of the call's own
   * request: an OkHttp interceptor of the user's sent the call elsewhere.
   */
  private static final class Origin implements Function0<Origin> {
    final HttpUrl url;

    Origin(HttpUrl url) {
      this.url = url;
    }

    @Override
    public Origin invoke() {
      return this;
    }
  }

  private static final KClass<Origin> ORIGIN_TAG = JvmClassMappingKt.getKotlinClass(Origin.class);

  private final Redactor redactor;

  /** An interceptor that treats the headers {@code redactor} masks as credentials. */
  public NetworkInterceptor(Redactor redactor) {
    this.redactor = redactor;
  }

  /** Whether {@code call} got as far as writing its request. */
  static boolean written(Call call) {
    return call.tag(WRITTEN_TAG) != null;
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Call call = chain.call();
    Request request = chain.request();
    if (call.tag(WRITTEN_TAG) == null) {
      // The call's first request (not a redirect's): if its pooled connection was closed by the
      // server while idle, fail before writing, so the transport can send it again at once.
      IdleConnectionCheck.check(chain.connection());
      HttpUrl url = request.url();
      HttpUrl asked = call.request().url();
      if (url != asked && !sameOrigin(url, asked)) {
        call.tag(ORIGIN_TAG, new Origin(url));
      }
      call.tag(WRITTEN_TAG, Written.INSTANCE);
    } else {
      Origin moved = call.tag(ORIGIN_TAG);
      HttpUrl first = moved != null ? moved.url : call.request().url();
      if (!sameOrigin(request.url(), first)) {
        request = withoutCredentials(request);
      }
    }
    return FollowUpGuard.guard(chain.proceed(request));
  }

  private static boolean sameOrigin(HttpUrl a, HttpUrl b) {
    return a.port() == b.port() && a.host().equals(b.host()) && a.scheme().equals(b.scheme());
  }

  /** {@code request} without the headers this client treats as secret. */
  private Request withoutCredentials(Request request) {
    Headers headers = request.headers();
    List<String> dropped = null;
    for (int i = 0; i < headers.size(); i++) {
      String name = headers.name(i);
      if (redactor.isSecretHeader(name)) {
        if (dropped == null) {
          dropped = new ArrayList<>();
        }
        if (!dropped.contains(name)) {
          dropped.add(name);
        }
      }
    }
    if (dropped == null) {
      return request;
    }
    Request.Builder b = request.newBuilder();
    dropped.forEach(b::removeHeader);
    log.debug("{} {}: a redirect to another origin, sent without {}", request.method(),
        redactor.url(request.url()), dropped);
    return b.build();
  }
}
