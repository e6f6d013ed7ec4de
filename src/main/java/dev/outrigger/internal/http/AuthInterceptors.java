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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.HttpUrl;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * The auth hook in two parts: {@link #stamp} (per attempt) sets {@code Authorization};
 * {@link #refresh} (per call, outside retry) answers a 401 by asking the hook for a fresh value
 * (once a call) and sending the call again through the whole chain, so the extra request is
 * counted, rate limited and breaker-checked like any attempt (never a request whose body is
 * one-shot: the attempt that met the 401 read it). With a base URL, both act only on requests to
 * its origin (scheme, host and port): a call to an absolute URL elsewhere (a pre-signed link from
 * a response, another API) carries no credentials of this client's.
 *
 * <p>The fresh value is fetched off the caller's thread so that each call's deadline bounds its
 * wait (a token endpoint that hangs would otherwise hold the caller past it): one fetch at a time
 * per {@link Refresher} (one per {@code Auth} set on a builder, shared by the clients built or
 * derived from it), on a platform daemon thread of its own ({@code outrigger-auth-refresh}),
 * which every call meeting a 401 while it runs waits for, each until its own deadline. A fetch
 * whose waiters all left goes on, and the calls that meet a 401 before it ends take its value.
 *
 * <p>Each fetch that returns moves the credentials on a generation, and each attempt records
 * the generation it was signed in (as it goes out, after the policies' waits). Once a fetch has
 * ended, a 401 for an attempt signed before it (a call sent with the expired token while another
 * call's refresh ran) fetches nothing: the attempt is signed again with the credentials held now
 * and sent, so the late 401s of one expired token share one fetch (a rotating refresh token is
 * spent once); a 401 for an attempt so signed is answered with a fresh value, as one for the
 * current credentials is (and returned if yet another fetch ended since). A 401 for an attempt
 * signed in the current generation, or for the very value the {@code Auth} still holds, starts
 * another fetch. A client's {@code close()} ends its own calls' waits; a fetch still running is
 * interrupted by the {@code close()} of the last client sharing it, whichever client's call
 * started it. Nothing of this runs on a call that meets no 401; an attempt's signing reads the
 * generation, one volatile read.
 */
public final class AuthInterceptors {
  /**
   * The call's answer to its 401: the fresh value its attempts carry from then on, after which
   * it returns its next 401; or {@link #SIGN_AGAIN}, after which its next 401 may still fetch,
   * but not be signed again.
   */
  private static final String FRESH = "outrigger.auth.fresh";
  /**
   * Signs each attempt anew: the credentials were refreshed since the one that met the 401 was
   * signed. Compared by identity (no {@code Auth} hands out this instance).
   */
  private static final String SIGN_AGAIN = new String("sign again");

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

  /**
   * Sets {@code Authorization} from {@code refresher}'s {@code Auth} on each attempt to
   * {@code base}'s origin (null: every one), and records the generation it was signed in.
   */
  public static CallInterceptor stamp(Refresher refresher, HttpUrl base) {
    Auth auth = refresher.auth;
    return new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        if (!ours(base, chain.request().url())) {
          return chain.proceed(chain.request());
        }
        RealCallContext ctx = (RealCallContext) chain.context();
        Object fresh = ctx.attribute(FRESH);
        String value;
        if (fresh == null || fresh == SIGN_AGAIN) {
          // Read before the value: a fetch that ends in between leaves the attempt dated before
          // the value it carries, whose 401 then finds that value still held and fetches (or,
          // for an Auth that signs each attempt, is signed again, dated now, and fetches on its
          // next 401). Read after, an expired value could pass for the current one and fetch a
          // second time.
          ctx.authGeneration(refresher.generation());
          value = auth.authorization(false);
        } else {
          value = (String) fresh;
        }
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

  /**
   * Answers a 401 from {@code base}'s origin (null: any) once with a fresh value from
   * {@code refresher}; before that, once signed again when the credentials were refreshed since
   * the attempt was signed.
   */
  public static CallInterceptor refresh(Refresher refresher, HttpUrl base) {
    return new CallInterceptor() {
      @Override
      public Response intercept(Chain chain) {
        Response response = chain.proceed(chain.request());
        RealCallContext ctx = (RealCallContext) chain.context();
        // Twice at most: signed again, then with a fresh value (see FRESH).
        while (sendAgain(chain, ctx, response)) {
          response = chain.proceed(chain.request());
        }
        return response;
      }

      /**
       * Whether the call is sent again after {@code response} (then closed), with the answer set
       * on {@code ctx}.
       */
      private boolean sendAgain(Chain chain, RealCallContext ctx, Response response) {
        if (response.code() != 401 || !ours(base, chain.request().url())) {
          return false;
        }
        Object answered = ctx.attribute(FRESH);
        if (answered != null && answered != SIGN_AGAIN) {
          // Sent again with a fresh value: its 401 is the caller's.
          return false;
        }
        RequestBody body = chain.request().body();
        if (body != null && body.isOneShot()) {
          // The attempt that got the 401 read the body: it cannot be sent again (as the retry
          // policy never sends it twice, and OkHttp sends no follow-up with such a body).
          return false;
        }
        if (!ctx.idempotent()
            && !response.request().method().equals(chain.request().method())) {
          // A write the server answered with a redirect to a read (a 303, or a 301 or 302 that
          // OkHttp follows with a GET): the server acted on it, and only the read met the 401.
          // Sending the call again would write it twice.
          return false;
        }
        if (!fromFirstOrigin(response)) {
          // A redirect OkHttp followed took the attempt to another origin, which the
          // credentials did not go to: its 401 says nothing of them.
          return false;
        }
        String fresh = refresher.fresh(ctx, response, ctx.authGeneration());
        if (fresh == null
            || (fresh == SIGN_AGAIN ? answered != null : fresh.equals(refused(response)))) {
          // Nothing fresh: the value the server just refused would be refused again (a cached
          // token behind Auth.bearer), as OkHttp's Authenticator recipe gives up on it. Or
          // signed again already, and yet another fetch ended since: the call has had its try.
          return false;
        }
        // Sent again with the fresh value; or signed again as it goes out (SIGN_AGAIN): a fetch
        // that has ended refreshed the credentials since this attempt was signed, and another
        // would spend a rotating refresh token a second time. The 401 of an attempt signed
        // again is answered as any other's: it carried the credentials held then, and with them
        // refused (revoked since the fetch, or a key rotated again), a fetch is no storm.
        response.close();
        ctx.attribute(FRESH, fresh);
        return true;
      }

      @Override
      public String toString() {
        return "AuthRefreshOn401";
      }
    };
  }

  /**
   * The fetches of a fresh value ({@code authorization(true)}) for one {@code Auth}, shared by
   * every client built or derived with it: at most one at a time, on a platform daemon thread,
   * shared by the calls that meet a 401 while it runs; and the generation of the credentials,
   * which each fetch that returns moves on. The clients count themselves in ({@link #acquire})
   * and out ({@link #release}): a fetch still running when the last of them closes is
   * interrupted, and none before.
   */
  public static final class Refresher {
    private static final String WAITING_FOR = "the credentials refresh";

    private final Auth auth;
    /**
     * The generation, and the fetch running (null: none); a fetch that has ended is let go (it
     * holds a credential).
     */
    private final AtomicReference<State> state = new AtomicReference<>(new State(0, null));
    /** The clients built with this that are not closed. */
    private final AtomicInteger clients = new AtomicInteger();

    /**
     * The fetches that gave a value so far, as an int that wraps (only ever compared for
     * equality, so 2^32 fetches apart would have to meet), and the fetch running, or null.
     */
    private record State(int generation, Fetch running) {}

    /** The fetches of {@code auth}'s fresh values, for the clients to share that it is set on. */
    public Refresher(Auth auth) {
      this.auth = auth;
    }

    /** The {@code Auth} whose fresh values this fetches. */
    public Auth auth() {
      return auth;
    }

    int generation() {
      return state.get().generation();
    }

    /** Counts in a client built with this (see {@link #release}). */
    public void acquire() {
      clients.incrementAndGet();
    }

    /**
     * Counts out a client built with this, as it closes. The last one interrupts a fetch still
     * running: no call is left to wait for it. An earlier one does not, though its call may
     * have started the fetch: the other clients' calls take its value, where an interrupted
     * fetch (a token request cut after the endpoint spent a rotating refresh token) would leave
     * them to fetch again.
     */
    public void release() {
      // Counted out, then the fetch read: start() writes the fetch, then reads the count; one of
      // the two sees the other.
      if (clients.decrementAndGet() == 0) {
        Fetch running = state.get().running();
        if (running != null) {
          running.stop();
        }
      }
    }

    /**
     * The fresh value for {@code response}, a 401 for an attempt signed in generation
     * {@code signed}, waited for until the call's deadline; or {@link #SIGN_AGAIN} when a fetch
     * has ended since and none runs, unless the {@code Auth} still holds the value refused (or
     * none). Throws what the fetch threw (the same exception to every call that waited for it),
     * but for an {@code ApiException}, for which each call gets the {@code HttpStatusException}
     * of its own 401, that failure suppressed in it; {@code DeadlineExceededException} when the
     * deadline comes first, {@code TransportException} ({@code CANCELLED}) when the caller is
     * interrupted or the client closed. {@code response} (the 401) is closed when this throws.
     */
    String fresh(RealCallContext ctx, Response response, int signed) {
      for (;;) {
        State fetch;
        try {
          fetch = fetch(ctx, signed);
          if (fetch == null) {
            int now = generation();
            String held = auth.authorization(false);
            if (held != null && !held.equals(refused(response))) {
              return SIGN_AGAIN;
            }
            // The value refused is the one held (or there is none): the attempt carried the
            // current credentials after all. As for one signed now, a fetch, unless yet another
            // one ended meanwhile.
            signed = now;
            continue;
          }
        } catch (RuntimeException | Error e) {
          response.close();
          throw e;
        }
        Closing.Waiter waiter = Closing.enter(ctx, WAITING_FOR);
        try {
          if (ctx.deadline() == null) {
            return fetch.running().done.get();
          }
          // The call's deadline, on the client's clock; the wait itself is in real time, as the
          // other waits of the chain are.
          long left = ctx.remainingNanos(ctx.clock().nanoTime());
          return fetch.running().done.get(Math.max(0, left), TimeUnit.NANOSECONDS);
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
          if (closing != null && closing.isClosed()) {
            // Closed while the fetch ran (the last client's close interrupted it: what it threw
            // then is the close's doing): the call ends as a closed client's waits do.
            response.close();
            throw Failures.cancelled(ctx, Closing.closedWhileWaitingFor(WAITING_FOR));
          }
          if (fetch.running().stopped) {
            // Interrupted as the last client sharing it closed, and this call's client built
            // since: it goes round again (a fetch of its own, or signed again).
            continue;
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
    }

    /**
     * The fetch running, or one started now by {@code ctx}'s call; null when a fetch has ended
     * since generation {@code signed} (the credentials are newer than those it names).
     */
    private State fetch(RealCallContext ctx, int signed) {
      for (;;) {
        State current = state.get();
        if (current.running() != null) {
          return current;
        }
        if (current.generation() != signed) {
          return null;
        }
        Closing closing = ctx.closing();
        if (closing != null && closing.isClosed()) {
          // A 401 that came after its client closed: the call ends as a closed client's waits
          // do, and spends no refresh token on a fetch (the last client's close would cut it).
          throw Failures.cancelled(ctx, Closing.closedWhileWaitingFor(WAITING_FOR));
        }
        State mine = new State(signed, new Fetch());
        if (state.compareAndSet(current, mine)) {
          start(mine.running());
          return mine;
        }
      }
    }

    /**
     * Starts {@code mine}, the fetch running, on a thread made now: a fetch whose CAS lost (one
     * started by another call meanwhile) makes none.
     */
    private void start(Fetch mine) {
      try {
        // The fetch is the clients', not the caller's that happened to start it (and may
        // outlive its call): it takes none of that thread's inheritable thread-locals. A platform
        // thread: refreshes are rare, and an Auth that fetches inside a synchronized token cache
        // would, on a virtual thread on JDK 21, pin a carrier for as long as its endpoint hangs.
        Thread thread = Thread.ofPlatform().daemon().name("outrigger-auth-refresh")
            .inheritInheritableThreadLocals(false).unstarted(mine);
        mine.thread = thread;
        thread.start();
      } catch (RuntimeException | Error e) {
        letGo(mine, false);
        mine.done.completeExceptionally(e);
        return;
      }
      if (clients.get() == 0) {
        // The last client closed as this started (see release), before the thread was made or
        // when an interrupt of it may not stick: again, now that it runs.
        mine.stop();
      }
    }

    /** Ends {@code mine}, the fetch running, moving the generation on if it gave a value. */
    private void letGo(Fetch mine, boolean gave) {
      State current = state.get();
      // Only the fetch's own end replaces the state it runs in.
      if (current.running() == mine) {
        state.compareAndSet(current,
            new State(gave ? current.generation() + 1 : current.generation(), null));
      }
    }

    /** One fetch: its outcome, which its waiters share, and the thread it runs on. */
    private final class Fetch implements Runnable {
      final CompletableFuture<String> done = new CompletableFuture<>();
      /** The thread it runs on, made by {@link #start} once its CAS won; null before. */
      volatile Thread thread;
      /** Whether the last client's close interrupted it. */
      volatile boolean stopped;

      @Override
      public void run() {
        String value = null;
        Throwable failed = null;
        try {
          value = auth.authorization(true);
        } catch (Throwable t) {
          failed = t;
        }
        // Let go before the waiters wake: a 401 met from now on asks for a value of its own,
        // or, for an attempt signed before, is signed again.
        letGo(this, failed == null);
        if (failed != null) {
          done.completeExceptionally(failed);
        } else {
          done.complete(value);
        }
      }

      void stop() {
        stopped = true;
        Thread t = thread;
        if (t != null) {
          t.interrupt();
        }
      }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> T rethrow(Throwable t) throws T {
      throw (T) t;
    }
  }
}
