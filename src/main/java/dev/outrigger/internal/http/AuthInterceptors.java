package dev.outrigger.internal.http;

import dev.outrigger.Auth;
import dev.outrigger.ApiException;
import dev.outrigger.CallInterceptor;
import dev.outrigger.HttpStatusException;
import dev.outrigger.internal.Closing;
import dev.outrigger.internal.ExceptionAccess;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.RealCallContext;
import dev.outrigger.internal.deadline.DeadlineInterceptor;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.HttpUrl;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * The auth hook in two parts: {@link #stamp} (per attempt) sets {@code Authorization};
 * {@link #refresh} (per call, outside retry) answers a 401 once by asking the hook for a fresh
 * value and sending the call again through the whole chain, so the extra request is counted,
 * rate limited and breaker-checked like any attempt (never a request whose body is one-shot: the
 * attempt that met the 401 read it). With a base URL, both act only on requests to its origin
 * (scheme, host and port): a call to an absolute URL elsewhere (a pre-signed link from a response,
 * another API) carries no credentials of this client's.
 *
 * <p>The fresh value is fetched off the caller's thread so that each call's deadline bounds its
 * wait (a token endpoint that hangs would otherwise hold the caller past it): one fetch at a time
 * per client, on a platform daemon thread of its own ({@code outrigger-auth-refresh}), which
 * every call meeting a 401 while it runs waits for, each until its own deadline. A fetch whose
 * waiters all left goes on, and the calls that meet a 401 before it ends take its value; once it
 * has ended, the next 401 starts another. The client's {@code close()} interrupts a fetch still
 * running and ends the waits. Nothing of this runs on a call that meets no 401.
 */
public final class AuthInterceptors {
  private static final String FRESH = "outrigger.auth.fresh";

  private AuthInterceptors() {}

  /**
   * Whether {@code url} is on {@code base}'s origin, or there is no base URL (a client that
   * calls absolute URLs only: its auth is for every call).
   */
  static boolean ours(HttpUrl base, HttpUrl url) {
    return base == null || NetworkInterceptor.sameOrigin(base, url);
  }

  /**
   * Whether {@code response} came from the origin of the attempt's first request, where its
   * {@code Authorization} went: no redirect OkHttp followed left that origin, or one came back.
   */
  static boolean fromFirstOrigin(Response response) {
    Response first = response;
    while (first.priorResponse() != null) {
      first = first.priorResponse();
    }
    return first == response
        || NetworkInterceptor.sameOrigin(first.request().url(), response.request().url());
  }

  /**
   * The {@code Authorization} the request that met {@code response} carried as it was written
   * (the network's request: a redirect back to the call's origin has it again only there).
   */
  static String refused(Response response) {
    Response network = response.networkResponse();
    return (network != null ? network : response).request().header("Authorization");
  }

  /** Sets {@code Authorization} on each attempt to {@code base}'s origin (null: every one). */
  public static CallInterceptor stamp(Auth auth, HttpUrl base) {
    return new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        if (!ours(base, chain.request().url())) {
          return chain.proceed(chain.request());
        }
        Object fresh = chain.context().attribute(FRESH);
        String value = fresh != null ? (String) fresh : auth.authorization(false);
        if (value == null) {
          return chain.proceed(chain.request());
        }
        return chain.proceed(chain.request().newBuilder().header("Authorization", value).build());
      }

      @Override
      public String toString() {
        return "Auth";
      }
    };
  }

  /** Answers a 401 from {@code base}'s origin (null: any) once with a fresh value. */
  public static CallInterceptor refresh(Auth auth, HttpUrl base) {
    Refresher refresher = new Refresher(auth);
    return new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        Response response = chain.proceed(chain.request());
        RealCallContext ctx = (RealCallContext) chain.context();
        if (response.code() != 401 || ctx.attribute(FRESH) != null
            || !ours(base, chain.request().url())) {
          return response;
        }
        RequestBody body = chain.request().body();
        if (body != null && body.isOneShot()) {
          // The attempt that got the 401 read the body: it cannot be sent again (as the retry
          // policy never sends it twice, and OkHttp sends no follow-up with such a body).
          return response;
        }
        if (!ctx.idempotent()
            && !response.request().method().equals(chain.request().method())) {
          // A write the server answered with a redirect to a read (a 303, or a 301 or 302 that
          // OkHttp follows with a GET): the server acted on it, and only the read met the 401.
          // Sending the call again would write it twice.
          return response;
        }
        if (!fromFirstOrigin(response)) {
          // A redirect OkHttp followed took the attempt to another origin, which the
          // credentials did not go to: its 401 says nothing of them.
          return response;
        }
        String fresh = refresher.fresh(ctx, response);
        if (fresh == null || fresh.equals(refused(response))) {
          // Nothing fresh: the value the server just refused would be refused again (a cached
          // token behind Auth.bearer), as OkHttp's Authenticator recipe gives up on it.
          return response;
        }
        response.close();
        ctx.attribute(FRESH, fresh);
        return chain.proceed(chain.request());
      }

      @Override
      public String toString() {
        return "AuthRefreshOn401";
      }
    };
  }

  /**
   * One client's fetches of a fresh value ({@code authorization(true)}): at most one at a time, on
   * a platform daemon thread, shared by the calls that meet a 401 while it runs.
   */
  static final class Refresher {
    private static final String WAITING_FOR = "the credentials refresh";

    private final Auth auth;
    /** The fetch running, or null; one that has ended is let go (it holds a credential). */
    private final AtomicReference<CompletableFuture<String>> running = new AtomicReference<>();

    Refresher(Auth auth) {
      this.auth = auth;
    }

    /**
     * The fresh value, waited for until the call's deadline. Throws what the fetch threw (the
     * same exception to every call that waited for it), but for an {@code ApiException}, for
     * which each call gets the {@code HttpStatusException} of its own 401, that failure
     * suppressed in it; {@code DeadlineExceededException} when
     * the deadline comes first, {@code TransportException} ({@code CANCELLED}) when the caller is
     * interrupted or the client closed. {@code response} (the 401) is closed when this throws.
     */
    String fresh(RealCallContext ctx, Response response) {
      CompletableFuture<String> fetch;
      try {
        fetch = fetch(ctx);
      } catch (RuntimeException | Error e) {
        response.close();
        throw e;
      }
      Closing.Waiter waiter = Closing.enter(ctx, WAITING_FOR);
      try {
        if (ctx.deadline() == null) {
          return fetch.get();
        }
        // The call's deadline, on the client's clock; the wait itself is in real time, as the
        // other waits of the chain are.
        long left = ctx.remainingNanos(ctx.clock().nanoTime());
        return fetch.get(Math.max(0, left), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        waiter.leave();
        // The fetch goes on: the next call to meet a 401 takes its value.
        throw DeadlineInterceptor.exceeded(
            ctx, Failures.statusException(response, ctx), "while waiting for " + WAITING_FOR);
      } catch (InterruptedException e) {
        InterruptedException cut = waiter.interrupted(e);
        response.close();
        throw Failures.cancelled(ctx, cut);
      } catch (ExecutionException e) {
        waiter.leave();
        Closing closing = ctx.closing();
        if (e.getCause() instanceof Closing.ClosedException
            || closing != null && closing.isClosed()) {
          // Closed before the fetch could start, or while it ran (close() interrupted it: what
          // it threw then is the close's doing): the call ends as a closed client's waits do.
          response.close();
          throw Failures.cancelled(ctx, e.getCause() instanceof Closing.ClosedException closed
              ? closed : Closing.closedWhileWaitingFor(WAITING_FOR));
        }
        if (e.getCause() instanceof ApiException failed) {
          // Another call's failure (the token endpoint's, through a client): shared by every
          // call that waited, and the caller's client would set this call's attempt count on
          // it. Each call gets the 401 it met instead, the refresh's failure named and kept.
          HttpStatusException refused = Failures.statusException(response, ctx);
          refused.addSuppressed(failed);
          throw ExceptionAccess.finish(refused, ctx.attemptsSent(),
              "the credentials refresh failed: " + failed.getMessage());
        }
        response.close();
        // As if the Auth had run on this thread: what it threw, unwrapped.
        throw Refresher.<RuntimeException>rethrow(e.getCause());
      } finally {
        waiter.leave();
        RealCallContext.staleClock(ctx);
      }
    }

    /** The fetch running, or one started now. */
    private CompletableFuture<String> fetch(RealCallContext ctx) {
      for (;;) {
        CompletableFuture<String> current = running.get();
        if (current != null) {
          return current;
        }
        CompletableFuture<String> mine = new CompletableFuture<>();
        if (running.compareAndSet(null, mine)) {
          start(mine, ctx.closing());
          return mine;
        }
      }
    }

    private void start(CompletableFuture<String> mine, Closing closing) {
      Runnable fetch = () -> {
        String value = null;
        Throwable failed = null;
        try {
          value = auth.authorization(true);
        } catch (Throwable t) {
          failed = t;
        }
        // Let go before the waiters wake: a 401 met from now on asks for a value of its own.
        running.compareAndSet(mine, null);
        if (failed != null) {
          mine.completeExceptionally(failed);
        } else {
          mine.complete(value);
        }
      };
      // The fetch is the client's, not the caller's that happened to start it (and may outlive
      // its call): it takes none of that thread's inheritable thread-locals. A platform thread:
      // refreshes are rare, and an Auth that fetches inside a synchronized token cache would, on
      // a virtual thread on JDK 21, pin a carrier for as long as its endpoint hangs.
      Thread thread = Thread.ofPlatform().daemon().name("outrigger-auth-refresh")
          .inheritInheritableThreadLocals(false).unstarted(fetch);
      Runnable stop = thread::interrupt;
      mine.whenComplete((v, t) -> {
        if (closing != null) {
          closing.removeOnClose(stop);
        }
      });
      if (closing != null && !closing.onClose(stop)) {
        // Closed already: no fetch starts, and the call ends as a closed client's waits do.
        running.compareAndSet(mine, null);
        mine.completeExceptionally(Closing.closedWhileWaitingFor(WAITING_FOR));
        return;
      }
      try {
        thread.start();
      } catch (RuntimeException | Error e) {
        running.compareAndSet(mine, null);
        mine.completeExceptionally(e);
        return;
      }
      if (closing != null && closing.isClosed()) {
        // close() may have run the hook before the thread started, when an interrupt may not
        // stick: again, now that it runs.
        thread.interrupt();
      }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> T rethrow(Throwable t) throws T {
      throw (T) t;
    }
  }
}
