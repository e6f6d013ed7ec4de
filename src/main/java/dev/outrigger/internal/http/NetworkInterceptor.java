package dev.outrigger.internal.http;

import dev.outrigger.internal.Closing;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.Redactor;
import dev.outrigger.internal.deadline.DeadlineHeaders;
import dev.outrigger.internal.retry.FollowUpGuard;
import java.io.IOException;
import java.net.ProtocolException;
import java.net.Proxy;
import java.util.ArrayList;
import java.util.List;
import kotlin.jvm.JvmClassMappingKt;
import kotlin.jvm.functions.Function0;
import kotlin.reflect.KClass;
import okhttp3.Call;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.internal.connection.RealConnection;
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
 *       ({@link IdleConnectionCheck}; a follow-up's connection is checked too, see
 *       {@link #checkFollowUpConnection}), and that the client was not closed meanwhile (an
 *       attempt still connecting when {@code close()} came writes nothing: {@link
 *       ClosedBeforeWriting}). Only a call that reaches the network pays for the tag. An
 *       exchange that fails on a reused connection before its answer was read, the server
 *       having closed the connection as the request went out, fails with
 *       {@link IdleConnectionCheck.StaleConnectionException} too
 *       ({@link IdleConnectionCheck#closedAsSent}), for the transport to send the request again
 *       if it may go twice.
 *   <li>It keeps credentials on their origin. OkHttp drops {@code Authorization} when it follows
 *       a redirect to another host, and forwards every other header: a {@code Cookie}, a
 *       {@code Proxy-Authorization} set by hand, an API key in a header. A request OkHttp sends
 *       to another origin (scheme, host or port) than the call's first request goes without
 *       every header the client treats as secret: those four, and the names given to
 *       {@code redactHeader} (as Go's {@code net/http} drops {@code Cookie} and
 *       {@code Authorization} on a redirect to another domain), but a
 *       {@code Proxy-Authorization} written in the clear to an HTTP proxy, which reads it, that
 *       the first request was written to or whose {@code 407} the proxy authenticator answered
 *       with it. A redirect back to the first
 *       origin carries them again, the call's {@code Authorization} included, which OkHttp
 *       itself removed on the way out.
 *   <li>It keeps OkHttp from re-sending the request on its own after a {@code 503}
 *       ({@link FollowUpGuard#guard}).
 *   <li>It keeps a request that must be sent once ({@link #SEND_ONCE}: not idempotent, and the
 *       caller did not opt in) from going again where it already went within the attempt. OkHttp
 *       writes more than one request in one call when it follows a redirect, answers a
 *       {@code 401} or {@code 407} through an {@code Authenticator}, re-sends on its own (a
 *       {@code 408}, when an interceptor turned {@code retryOnConnectionFailure} back on), or
 *       when an OkHttp interceptor of the user's proceeds again. A redirect to another URL, and
 *       the answer to a {@code 401}, {@code 407} or {@code 421}, go (the server said it did not
 *       act on the request); a request to a method and URL already sent fails instead, as a
 *       {@link ProtocolException}, before it is written: a redirect loop, or a re-send after a
 *       failure or any other status. A {@code GET} that OkHttp made of the write on a
 *       {@code 301}, {@code 302} or {@code 303} is a read, and goes wherever it is sent.
 *   <li>It logs each request OkHttp writes after the first within an attempt (DEBUG): the
 *       client's log line for the attempt names the request it began with.
 * </ul>
 */
public final class NetworkInterceptor implements Interceptor {
  private static final Logger log = LoggerFactory.getLogger("dev.outrigger.ApiClient");

  /**
   * The tag put on a {@code Call} whose first request is about to be written: the value and its
   * own supplier. It keeps that request's headers, as the caller's OkHttp interceptors left them
   * (a redirect to another origin drops the secret ones, {@link #withoutCredentials}), and the
   * answers the call has had: their secrets a later request's URL may quote
   * ({@link #followUpUrl}), and the latest, with the headers its request had as OkHttp built it
   * and the proxy it was written to, tells an authenticator's answer ({@link #givenThere},
   * {@link #forTheProxy}).
   */
  private static final class Written implements Function0<Written> {
    final Headers firstHeaders;
    /**
     * The HTTP proxy the first request was written to in the clear (a plain http URL, no
     * tunnel), which its {@code Proxy-Authorization} was for; null for none.
     */
    final Proxy clearProxy;
    /**
     * The call's answers: null for none, the {@code Response} while it has one (a call with one
     * makes no list), then a {@code List<Response>} of every answer in order. One field, not
     * two, keeps this object, made on every attempt, at 32 bytes.
     */
    private Object answers;
    /**
     * The headers of the request the latest answer met, as OkHttp built it: before
     * {@link #withoutCredentials} took any off.
     */
    private Headers lastBuilt;
    /**
     * The HTTP proxy the request the latest answer met was written to in the clear; null for
     * none.
     */
    private Proxy lastProxy;

    Written(Headers firstHeaders, Proxy clearProxy) {
      this.firstHeaders = firstHeaders;
      this.clearProxy = clearProxy;
    }

    @Override
    public Written invoke() {
      return this;
    }

    void answered(Response response, Headers built, Proxy proxy) {
      lastBuilt = built;
      lastProxy = proxy;
      if (answers == null) {
        answers = response;
        return;
      }
      List<Response> list = list();
      if (list == null) {
        list = new ArrayList<>(4);
        list.add((Response) answers);
        answers = list;
      }
      list.add(response);
    }

    @SuppressWarnings("unchecked")
    private List<Response> list() {
      return answers instanceof List<?> l ? (List<Response>) l : null;
    }

    /** The answers the call had so far, in order. */
    List<Response> answers() {
      List<Response> list = list();
      return list != null ? list : answers != null ? List.of((Response) answers) : List.of();
    }

    /** The latest answer, or null for none yet. */
    Response lastAnswer() {
      List<Response> list = list();
      return list != null ? list.get(list.size() - 1) : (Response) answers;
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

  /** The tag of a call that followed a redirect to another origin than its first request's. */
  private static final class Left implements Function0<Left> {
    static final Left INSTANCE = new Left();

    @Override
    public Left invoke() {
      return this;
    }
  }

  private static final KClass<Left> LEFT_TAG = JvmClassMappingKt.getKotlinClass(Left.class);

  /** The tag of a request that must reach the server once: see {@link #SEND_ONCE}. */
  public static final class SendOnce {
    private SendOnce() {}
  }

  /** Its key. */
  public static final KClass<SendOnce> SEND_ONCE =
      JvmClassMappingKt.getKotlinClass(SendOnce.class);

  /** The value to tag a request with: {@code builder.tag(SEND_ONCE, SEND_ONCE_VALUE)}. */
  public static final SendOnce SEND_ONCE_VALUE = new SendOnce();

  /** What a call of a {@link #SEND_ONCE} request has written, and the last status it got. */
  private static final class Sent implements Function0<Sent> {
    private final List<String> targets = new ArrayList<>(2);
    /** The status of the latest request's answer; 0 when it failed (or none came yet). */
    private int lastStatus;

    @Override
    public Sent invoke() {
      return this;
    }

    /** The method and URL as sent: without the fragment, which never leaves the client. */
    private static String target(Request r) {
      HttpUrl url = r.url();
      return r.method() + " "
          + (url.encodedFragment() == null ? url : url.newBuilder().fragment(null).build());
    }
  }

  private static final KClass<Sent> SENT_TAG = JvmClassMappingKt.getKotlinClass(Sent.class);

  /**
   * The tag of a request whose attempt propagates its deadline ({@code propagateDeadline}): the
   * header, and when the client stops waiting for the attempt. The header the transport set is
   * written again here with what is left at each write (the first request's, after its connect
   * and TLS handshake, and each follow-up's, a redirect's), so the server is never told of time
   * the client will not wait. OkHttp's follow-ups keep the request's tags.
   */
  public static final class Budget {
    final String header;
    final NanoClock clock;
    final long endNanos;

    public Budget(String header, NanoClock clock, long endNanos) {
      this.header = header;
      this.clock = clock;
      this.endNanos = endNanos;
    }
  }

  /** Its key. */
  public static final KClass<Budget> BUDGET = JvmClassMappingKt.getKotlinClass(Budget.class);

  /** {@code request} with its {@link Budget}'s header saying what is left now. */
  private static Request withBudgetLeft(Request request) {
    Budget b = request.tag(BUDGET);
    String sent = b == null ? null : request.header(b.header);
    if (sent == null) {
      // None, or an interceptor of the user's took the header off: not put back.
      return request;
    }
    String left = DeadlineHeaders.format(b.header, b.endNanos - b.clock.nanoTime());
    return left.equals(sent) ? request : request.newBuilder().header(b.header, left).build();
  }

  private final Redactor redactor;
  /** The client's closed flag, or null for none. */
  private final Closing clientClosed;
  /**
   * Whether the OkHttp client this runs in has no cookie jar ({@link #noCookieJar()}): then a
   * {@code Cookie} of the call's first request was set by the caller, not given by a jar for
   * that URL. Set once, before the client's first call.
   */
  private volatile boolean withoutCookieJar;

  /** An interceptor that treats the headers {@code redactor} masks as credentials. */
  public NetworkInterceptor(Redactor redactor) {
    this(redactor, null);
  }

  /**
   * An interceptor that treats the headers {@code redactor} masks as credentials, and writes no
   * call's first request once {@code clientClosed} is closed.
   */
  public NetworkInterceptor(Redactor redactor, Closing clientClosed) {
    this.redactor = redactor;
    this.clientClosed = clientClosed;
  }

  /**
   * Tells this interceptor that the OkHttp client it was added to has no cookie jar
   * ({@code CookieJar.NO_COOKIES}): a {@code Cookie} the call's first request carried is then
   * the caller's own (an OkHttp interceptor's), which a redirect to another origin drops.
   */
  public void noCookieJar() {
    withoutCookieJar = true;
  }

  /**
   * An attempt's first request not written because its client was closed while the attempt
   * connected. Not an interrupt of the caller's; OkHttp does not retry it.
   */
  public static final class ClosedBeforeWriting extends java.io.InterruptedIOException {
    private static final long serialVersionUID = 1L;

    ClosedBeforeWriting() {
      super("the ApiClient was closed before the request was written");
    }
  }

  /** Whether {@code call} got as far as writing its request. */
  static boolean written(Call call) {
    return call.tag(WRITTEN_TAG) != null;
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Call call = chain.call();
    Request request = chain.request();
    Headers built = request.headers();
    Sent sent;
    Proxy proxy;
    Written written = call.tag(WRITTEN_TAG);
    boolean firstRequest = written == null;
    if (firstRequest) {
      if (clientClosed != null && clientClosed.isClosed()) {
        // close() came while this attempt connected (a TCP connect, a TLS handshake): no
        // attempt starts after close(), and this one has written nothing yet.
        throw new ClosedBeforeWriting();
      }
      // The call's first request: if its pooled connection was closed by the server while
      // idle, fail before writing, so the transport can send it again at once. (A follow-up's
      // connection is checked below.)
      IdleConnectionCheck.check(chain.connection(), call);
      HttpUrl url = request.url();
      HttpUrl asked = call.request().url();
      if (url != asked && !sameOrigin(url, asked)) {
        call.tag(ORIGIN_TAG, new Origin(url));
      }
      sent = request.tag(SEND_ONCE) != null ? call.tag(SENT_TAG, new Sent()) : null;
      proxy = clearProxy(chain.connection(), url);
      written = call.tag(WRITTEN_TAG, new Written(request.headers(), proxy));
    } else {
      proxy = clearProxy(chain.connection(), request.url());
      Origin moved = call.tag(ORIGIN_TAG);
      HttpUrl first = moved != null ? moved.url : call.request().url();
      if (!sameOrigin(request.url(), first)) {
        call.tag(LEFT_TAG, Left.INSTANCE);
        request = withoutCredentials(request, call.request(), written, proxy);
      } else if (moved == null && call.tag(LEFT_TAG) != null) {
        // Home again. (Not when an OkHttp interceptor of the user's sent the call elsewhere:
        // the call's own headers were not made for this origin.)
        request = withOwnAuthorization(request, call.request());
      }
      sent = call.tag(SENT_TAG);
      // A 301, 302 or 303 turned the write into a GET: reading a URL again is not writing
      // twice (OkHttp's own limit of 20 follow-ups ends a loop of them).
      if (sent != null && !isRead(request.method())) {
        refuseSendingAgain(sent, request, call.request(), written);
      }
      checkFollowUpConnection(chain.connection(), call, request, written);
      if (log.isDebugEnabled()) {
        log.debug("{} {}: sent by OkHttp within the attempt (a redirect, an authenticator, an "
            + "OkHttp interceptor)", request.method(),
            followUpUrl(request, call.request(), written));
      }
    }
    if (sent != null) {
      sent.targets.add(Sent.target(request));
      sent.lastStatus = 0;
    }
    request = withBudgetLeft(request);
    Response response;
    try {
      response = chain.proceed(request);
    } catch (IOException e) {
      if (!IdleConnectionCheck.closedAsSent(chain.connection(), e)) {
        throw e;
      }
      // A pooled connection its server closed as the request went out: the transport's to send
      // again, if it may go twice.
      throw IdleConnectionCheck.closedAsSent(e, firstRequest ? null
          : request.method() + " " + followUpUrl(request, call.request(), written)
              + ", which OkHttp sent on it within the attempt (a redirect, an authenticator's"
              + " answer), got no answer");
    }
    response = FollowUpGuard.guard(response);
    written.answered(response, built, proxy);
    if (sent != null) {
      sent.lastStatus = response.code();
    }
    if (response.protocol() == Protocol.HTTP_1_0 && !keepsAlive(response)
        && chain.connection() instanceof RealConnection real) {
      // An HTTP/1.0 server closes the connection after its answer unless it says
      // "Connection: keep-alive" (RFC 9112, 9.3). OkHttp pools it all the same, and the next
      // request written on it meets the end of the stream: a failed attempt (OkHttp's own silent
      // re-send is off), every other call to such a server.
      real.noNewExchanges();
    }
    return response;
  }

  /**
   * Checks the connection a request after the call's first ({@code request}: a redirect's, an
   * authenticator's answer) is about to be written on, as the first request's was: OkHttp may
   * take a pooled connection for it (another origin's, or the call's own origin's when the
   * first connection could not carry more), which its server may have closed while it sat idle.
   * A stale one fails the call before anything of {@code request} is written: with
   * {@link IdleConnectionCheck.StaleConnectionException} naming the follow-up, on which the
   * transport sends the call's own request again on another connection, once per attempt, if it
   * may go twice (idempotent, its body readable again), or fails the attempt.
   *
   * <p>The call's own connection, carrying a same-origin follow-up, reads as idle since before
   * the call (OkHttp dates idleness when a connection's last call leaves it): after an idle
   * second, or a first exchange that lasted one, it gets the millisecond's read too. Follow-ups
   * only: a call's first request is not slowed.
   */
  private void checkFollowUpConnection(okhttp3.Connection connection, Call call,
      Request request, Written written) throws IOException {
    try {
      IdleConnectionCheck.check(connection, call);
    } catch (IdleConnectionCheck.StaleConnectionException e) {
      // Named here, where the follow-up is known; whether the call's own request goes again
      // is the transport's to decide.
      throw new IdleConnectionCheck.StaleConnectionException(e.getMessage() + "; "
          + request.method() + " " + followUpUrl(request, call.request(), written)
          + ", which OkHttp was to send on it within the attempt (a redirect, an authenticator's"
          + " answer), was not written");
    }
  }

  /**
   * A follow-up's URL as shown: masked by name ({@link Redactor#url}), and where it quotes them,
   * the secrets of the call's {@code first} request, of each request the call wrote before (as
   * written: a token an earlier redirect's URL carried, an OkHttp interceptor's API key, a
   * cookie jar's cookie) and what their answers handed out (a {@code Set-Cookie}), and of
   * {@code request} itself (a login page's {@code ?next=} quoting any of them).
   */
  private String followUpUrl(Request request, Request first, Written written) {
    Redactor.Secrets secrets = redactor.secrets().add(first).add(request);
    written.answers().forEach(secrets::add);
    return secrets.url(request.url());
  }

  /** Whether {@code response}'s {@code Connection} header lists {@code keep-alive}. */
  private static boolean keepsAlive(Response response) {
    for (String value : response.headers("Connection")) {
      for (String token : value.split(",")) {
        if (token.trim().equalsIgnoreCase("keep-alive")) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Fails {@code request}, a follow-up within the call of a request that must be sent once,
   * when it would go again to a method and URL the call already sent to, unless it answers a
   * {@code 401}, a {@code 407} or (on another connection) a {@code 421}: statuses that say the
   * server did not act on the request.
   */
  private void refuseSendingAgain(Sent sent, Request request, Request first, Written written)
      throws ProtocolException {
    int last = sent.lastStatus;
    if (last == 401 || last == 407 || last == 421 || !sent.targets.contains(Sent.target(request))) {
      return;
    }
    throw new ProtocolException(request.method() + " " + followUpUrl(request, first, written)
        + " not sent again within the attempt (after "
        + (sent.lastStatus == 0 ? "a failure" : "status " + sent.lastStatus)
        + ", by a redirect loop, OkHttp or an OkHttp interceptor): it is not idempotent; give it "
        + "an idempotencyKey(...) or retryable() if it may be sent more than once");
  }

  private static boolean isRead(String method) {
    return method.equals("GET") || method.equals("HEAD");
  }

  /**
   * {@code request}, back on the call's first origin after a redirect to another, with the
   * call's own {@code Authorization} if it has none: OkHttp removed it on the way out (it drops
   * {@code Authorization} whenever a redirect changes scheme, host or port, and builds each
   * follow-up from the one before), while the headers this interceptor leaves out stay in the
   * request OkHttp builds the next follow-up from.
   */
  private static Request withOwnAuthorization(Request request, Request asked) {
    String own = asked.header("Authorization");
    if (own == null || request.header("Authorization") != null) {
      return request;
    }
    return request.newBuilder().header("Authorization", own).build();
  }

  /**
   * The HTTP proxy a request to {@code url} on {@code connection} is written to in the clear,
   * headers and all; null when it goes to the origin itself or through a tunnel (https), where
   * the origin reads its headers.
   */
  private static Proxy clearProxy(okhttp3.Connection connection, HttpUrl url) {
    Proxy proxy = connection.route().proxy();
    return proxy.type() == Proxy.Type.HTTP && !url.isHttps() ? proxy : null;
  }

  /** Whether {@code a} and {@code b} have the same scheme, host and port. */
  static boolean sameOrigin(HttpUrl a, HttpUrl b) {
    return a.port() == b.port() && a.host().equals(b.host()) && a.scheme().equals(b.scheme());
  }

  /**
   * {@code request} without the secret headers it carries from the first origin: a header of a
   * secret name with a value the call's own request ({@code callRequest}) had, or, for a name of
   * the caller's ({@code redactHeader}), the call's first request as written (with what the
   * caller's OkHttp interceptors set on the call, an API key, say, which OkHttp copies into every
   * follow-up). What OkHttp adds for the new target itself stays: the proxy authenticator's
   * answer to a 407 (for the proxy, whatever the origin), a cookie jar's cookies for the new URL,
   * an authenticator's answer to the new origin's 401. So {@code Authorization} is compared with
   * the call's own request only (OkHttp drops it on a change of origin itself), and one an
   * authenticator gave the new origin stays even when it equals the call's own, on the call's
   * site and, for an https call, over https ({@link #givenThere}); {@code Proxy-Authorization}
   * is compared with the first request too, and one equal to either stays when {@code request}
   * is written in the clear ({@code proxy}, else null) to a proxy it is for
   * ({@link #forTheProxy});
   * {@code Cookie} is compared with the first request too only when the client has no cookie
   * jar (with one, the first request's were the jar's for the first URL, and one of a domain
   * both origins share may be the jar's for the new URL too).
   */
  private Request withoutCredentials(Request request, Request callRequest, Written written,
      Proxy proxy) {
    Headers asked = callRequest.headers();
    Headers first = written.firstHeaders;
    Headers headers = request.headers();
    List<String> dropped = new ArrayList<>();
    Headers.Builder kept = new Headers.Builder();
    for (int i = 0; i < headers.size(); i++) {
      String name = headers.name(i);
      String value = headers.value(i);
      if (redactor.isSecretHeader(name) && (asked.values(name).contains(value)
          || (comparedWithFirst(name) && first.values(name).contains(value)))
          && !(name.equalsIgnoreCase("Authorization")
              && givenThere(written, request.url(), value, callRequest.url()))
          && !(name.equalsIgnoreCase("Proxy-Authorization")
              && forTheProxy(written, proxy, value))) {
        if (!dropped.contains(name)) {
          dropped.add(name);
        }
      } else {
        kept.addUnsafeNonAscii(name, value);
      }
    }
    if (dropped.isEmpty()) {
      return request;
    }
    if (log.isDebugEnabled()) {
      // Masked only when logged: the scrub reads every secret of the call's request.
      log.debug("{} {}: a redirect to another origin, sent without {}", request.method(),
          followUpUrl(request, callRequest, written), dropped);
    }
    return request.newBuilder().headers(kept.build()).build();
  }

  /**
   * Whether {@code value}, an {@code Authorization} equal to the call's own on a request to
   * {@code url}, an origin other than the call's first, was given for that origin: by an
   * authenticator answering its {@code 401} (the request that met the 401, as OkHttp built it,
   * did not carry it: OkHttp drops {@code Authorization} itself on each redirect that changes
   * scheme, host or port, so the authenticator put it there), or kept so before and copied by
   * OkHttp into the follow-up of a request written there with it (a redirect within that
   * origin). It stays. Otherwise it is the call's carried over, unasked, by an OkHttp interceptor
   * of the user's that follows a redirect itself (even to an origin that answered a 401 before,
   * or whose 401 an authenticator answered by keeping what that request carried), and goes.
   *
   * <p>Only on the site of the call's own URL ({@code asked}), and not over plain http when that
   * URL is https: an authenticator that hands out the current token to any request without it,
   * whatever the host (another call may have refreshed it meanwhile), would give it to any host
   * a redirect names that answers 401, and on a redirect to http, to anyone on the network.
   */
  private static boolean givenThere(Written written, HttpUrl url, String value, HttpUrl asked) {
    Response last = written.lastAnswer();
    if (last == null || !sameOrigin(last.request().url(), url) || !sameSite(url, asked)
        || asked.isHttps() && !url.isHttps()) {
      return false;
    }
    return value.equals(last.request().header("Authorization"))
        || (last.code() == 401 && !written.lastBuilt.values("Authorization").contains(value));
  }

  /**
   * Whether {@code value}, a {@code Proxy-Authorization} equal to the call's own or its first
   * request's on a request to another origin, is for {@code proxy}: the HTTP proxy that request
   * is written to in the clear, which reads it, not the origin (null when the origin reads it:
   * no proxy, or a tunnel). It is when {@code proxy} is the one the call's first request was
   * written to so (whatever the value), or the one the latest answer came from, when that
   * answer was a {@code 407} (OkHttp writes a follow-up to a 407 only with the proxy
   * authenticator's answer to it, which may be the first request's credentials: one login for
   * two proxies) or the request that met it carried {@code value} (kept so before, and copied by
   * OkHttp into a redirect's follow-up). Otherwise it is OkHttp's copy of the first request's,
   * an OkHttp interceptor's preemptive credentials for another proxy or origin, and goes.
   */
  private static boolean forTheProxy(Written written, Proxy proxy, String value) {
    if (proxy == null) {
      return false;
    }
    if (proxy.equals(written.clearProxy)) {
      return true;
    }
    Response last = written.lastAnswer();
    return proxy.equals(written.lastProxy) && (last.code() == 407
        || value.equals(last.request().header("Proxy-Authorization")));
  }

  /**
   * Whether {@code a} and {@code b} are on one site: the same registrable domain
   * ({@code api.example.com} and {@code auth.example.com}), or for a host without one (an IP
   * address, {@code localhost}) the same host.
   */
  private static boolean sameSite(HttpUrl a, HttpUrl b) {
    String site = a.topPrivateDomain();
    return site != null ? site.equals(b.topPrivateDomain()) : a.host().equals(b.host());
  }

  /** Whether a secret header {@code name} is compared with the call's first request as written. */
  private boolean comparedWithFirst(String name) {
    if (name.equalsIgnoreCase("Cookie")) {
      return withoutCookieJar;
    }
    return !name.equalsIgnoreCase("Authorization");
  }
}
