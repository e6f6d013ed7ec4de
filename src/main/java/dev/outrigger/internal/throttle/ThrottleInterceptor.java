package dev.outrigger.internal.throttle;

import dev.outrigger.CallContext;
import dev.outrigger.CallInterceptor;
import dev.outrigger.CallListener;
import dev.outrigger.DeadlineExceededException;
import dev.outrigger.HttpStatusException;
import dev.outrigger.RateLimitedException;
import dev.outrigger.TransportException;
import dev.outrigger.internal.Failures;
import dev.outrigger.internal.KeepsClock;
import dev.outrigger.internal.NanoClock;
import dev.outrigger.internal.RealCallContext;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client-side throttling, as the Google SRE book describes it ("Handling Overload"): each host
 * keeps, over a sliding window (2 minutes by default, in 12 buckets), how many attempts the
 * client made ({@code requests}, local rejections included) and how many the backend accepted
 * ({@code accepts}), and refuses each new attempt locally with probability
 *
 * <pre>max(0, (requests - K x accepts) / (requests + 1))</pre>
 *
 * <p>While the backend accepts, nothing is refused; as it starts rejecting, the client sheds
 * more and more of its own load before sending, so the backend spends nothing on requests it
 * would refuse, yet a fraction still goes through to see when it recovers. {@code K} (default
 * 2) sets the tolerance: the client sends up to K times what the backend accepts.
 *
 * <p>An attempt counts as accepted unless its answer was {@code 429}, {@code 503}, or
 * {@code 403} with {@code Retry-After}, or it
 * failed in transport ({@link TransportException} other than a cancellation, or a
 * {@link DeadlineExceededException} that cut a sent attempt, unless that attempt was sent with
 * less than twice the backend's fastest successful answer (a 2xx) left, once 4 are known:
 * such a cut is not counted at all).
 * An attempt that was never sent
 * (refused further in, for example by a rate limit) or was cancelled by its caller is not
 * counted. A refused attempt throws {@link RateLimitedException} ({@code wouldWait} null,
 * {@code attempts()} the attempts sent so far), which the retry policy does not retry, and is
 * reported to {@link CallListener#rateLimitRejected} (the key being the host, {@code wouldWait}
 * null).
 *
 * <p>Every move of a host's probability by 0.01 or more, or to or from 0, goes to
 * {@link CallListener#throttleProbability} (on the thread of the attempt that found it, before
 * that attempt goes on; the time the listener takes is not the attempt's latency); a move by 0.1
 * or more since the last line logged, or to or from 0, is logged at DEBUG. One host's reports
 * come one at a time and in order, the last carrying the probability in place: a move found
 * while another thread is reporting that host is reported by that thread right after its own
 * (several such moves as one), or, once that thread has made {@value #MAX_REPORTS_IN_A_ROW}
 * reports in a row and gone on with its attempt, by the host's next attempt. Thread-safe and
 * lock-free.
 *
 * <p>Beyond {@value #MAX_IDLE_HOSTS} hosts, a new host's arrival drops those whose window is
 * empty, looked for at most once a bucket; one whose only attempt is in flight comes back with
 * its answer. Busy hosts are all kept. A host dropped with a probability above 0 last reported
 * has its 0 reported first, on the thread of the attempt whose arrival dropped it, so the last
 * report for a host is never one from before it went quiet.
 */
public final class ThrottleInterceptor implements CallInterceptor, KeepsClock {
  /** The default sliding window. */
  public static final Duration DEFAULT_WINDOW = Duration.ofMinutes(2);
  /** Buckets in the window. */
  public static final int BUCKETS = 12;
  /**
   * Beyond this many hosts, a new one's arrival drops the idle ones (nothing counted in their
   * window), at most once a bucket: a window empties only as a bucket leaves it.
   */
  static final int MAX_IDLE_HOSTS = 1024;
  /**
   * Reports a thread makes in a row, its own and those left to it, before it goes on with its
   * attempt (see {@link #report}).
   */
  static final int MAX_REPORTS_IN_A_ROW = 4;

  private static final Logger LOG = LoggerFactory.getLogger(ThrottleInterceptor.class);
  private static final RandomGenerator THREAD_LOCAL = () -> ThreadLocalRandom.current().nextLong();

  private final double k;
  private final long windowNanos;
  private final NanoClock clock;
  private final RandomGenerator random;
  private final ConcurrentHashMap<String, Host> hosts = new ConcurrentHashMap<>();
  private final long bucketNanos;
  /** When the next look for idle hosts may run (see {@link #dropIdle}). */
  private final AtomicLong nextSweep;

  /**
   * With the default window and a thread-local random source.
   *
   * @throws IllegalArgumentException if {@code k} is below 1 or not finite
   */
  public ThrottleInterceptor(double k, NanoClock clock) {
    this(k, DEFAULT_WINDOW, clock, THREAD_LOCAL);
  }

  /**
   * @param random decides each refusal; must be thread-safe if calls run concurrently
   * @throws IllegalArgumentException if {@code k} is below 1 or not finite, or the window is
   *     shorter than one millisecond
   */
  public ThrottleInterceptor(double k, Duration window, NanoClock clock, RandomGenerator random) {
    checkK(k);
    if (window.toMillis() < 1) {
      throw new IllegalArgumentException(
          "client throttling window must be at least 1 ms, but was " + window);
    }
    this.k = k;
    this.windowNanos = window.toNanos();
    this.clock = clock;
    this.random = random;
    this.bucketNanos = Math.max(1, windowNanos / BUCKETS);
    this.nextSweep = new AtomicLong(clock.nanoTime());
  }

  /**
   * Checks a K value.
   *
   * @throws IllegalArgumentException if {@code k} is below 1 or not finite
   */
  public static double checkK(double k) {
    if (!(k >= 1) || Double.isInfinite(k)) {
      throw new IllegalArgumentException(
          "client throttling K must be a finite number of at least 1, but was " + k);
    }
    return k;
  }

  /** The SRE book's formula. */
  static double probability(long requests, long accepts, double k) {
    return Math.max(0, (requests - k * accepts) / (requests + 1));
  }

  @Override
  public Response intercept(Chain chain) {
    CallContext ctx = chain.context();
    Host host = host(ctx.host(), ctx);
    AcceptWindow.Counts counts = host.window.counts();
    double p = probability(counts.requests(), counts.accepts(), k);
    report(host, ctx, p);
    if (p > 0 && random.nextDouble() < p) {
      record(ctx.host(), host, false);
      if (ctx instanceof RealCallContext real) {
        // Seen like a rate limit's refusal (the same exception), with no wait that could fit.
        real.staleClock();
        try {
          real.listener().rateLimitRejected(ctx, ctx.host(), null);
        } catch (RuntimeException e) {
          LOG.warn("CallListener.rateLimitRejected threw; ignored", e);
        }
      }
      throw new RateLimitedException(describe(ctx) + ": refused by the client-side throttle for "
          + ctx.host() + " (rejection probability " + format(p) + ": the backend accepted "
          + counts.accepts() + " of the last " + counts.requests()
          + " requests, refused ones included, K = " + k + ")",
          null, ctx.attemptsSent());
    }
    int sentBefore = ctx.attemptsSent();
    Response response;
    try {
      response = chain.proceed(chain.request());
    } catch (RuntimeException | Error e) {
      // A deadline's cut counts as a rejection: with no attempt timeout it is the only sign of
      // a backend that hangs. Not when the attempt was sent with less than twice the backend's
      // fastest answer left: that cut is the caller's own short deadline, not the backend's
      // slowness, and would otherwise count against the backend for every caller.
      if (ctx.attemptsSent() > sentBefore && !Failures.isCancellation(e)
          && !(e instanceof DeadlineExceededException && hurried(host, ctx, sentBefore))) {
        boolean rejected = e instanceof TransportException
            || e instanceof DeadlineExceededException
            || Failures.hostStatus(e, ctx) instanceof HttpStatusException h
                && (h.status() == 429 || h.status() == 503);
        record(ctx.host(), host, !rejected);
      }
      throw e;
    }
    if (ctx.attemptsSent() > sentBefore) {
      int code = response.code();
      // A 403 with Retry-After is a refusal to slow down, as a 429 (GitHub's secondary limits).
      record(ctx.host(), host, !Failures.asksToSlowDown(response));
      if (Failures.isSuccess(code)) {
        // Not a refusal, an error (a 404, a 500) or a 304: each may come at once, the work not
        // done, and a fastest answer that low would call every caller's cut the backend's.
        learnLatency(host, ctx, sentBefore);
      }
    }
    return response;
  }

  /**
   * Keeps the backend's fastest successful answer (a 429 or 503, a 404, a 500 or a 304 may come
   * at once, and says nothing of how fast the backend does its work), from each of its first
   * {@link #LATENCY_SAMPLE} answers, then from about one in {@link #LATENCY_SAMPLE}: a clock
   * reading at an attempt's end costs ~30 ns, and the fastest answer moves rarely.
   */
  private void learnLatency(Host host, CallContext ctx, int sentBefore) {
    if (!(ctx instanceof RealCallContext)) {
      return;
    }
    long sent = RealCallContext.sentNanos(ctx, clock, sentBefore, Long.MIN_VALUE);
    if (sent == Long.MIN_VALUE) {
      return; // a context on another clock
    }
    // Every one of the first answers (the first alone is often a cold one: handshakes), then
    // about one in LATENCY_SAMPLE, picked by bits of the send time: no count that every call
    // would write.
    int learnt = host.learnt;
    if (learnt >= LATENCY_SAMPLE && ((sent >>> 10) & (LATENCY_SAMPLE - 1)) != 0) {
      return;
    }
    long latency = RealCallContext.recentNanos(ctx, clock) - sent;
    if (latency < 0) {
      return;
    }
    if (learnt < LATENCY_SAMPLE) {
      host.learnt = learnt + 1;
    }
    for (long f = host.fastestNanos.get(); latency < f; f = host.fastestNanos.get()) {
      if (host.fastestNanos.compareAndSet(f, latency)) {
        break;
      }
    }
  }


  /**
   * Whether the attempt was sent with less than twice the backend's fastest answer left of its
   * deadline, so that its cut says nothing of the backend. False until {@link #MIN_ANSWERS}
   * answers were learnt (a backend that hangs from the start, or after one cold answer, must
   * still be noticed).
   */
  private boolean hurried(Host host, CallContext ctx, int sentBefore) {
    long fastest = host.fastestNanos.get();
    if (host.learnt < MIN_ANSWERS || !(ctx instanceof RealCallContext real)) {
      return false;
    }
    long sent = RealCallContext.sentNanos(ctx, clock, sentBefore, Long.MIN_VALUE);
    return sent != Long.MIN_VALUE && real.remainingNanos(sent) < 2 * Math.max(fastest, 1);
  }

  /** Whether a probability of {@code p} is worth reporting after {@code last}. */
  private static boolean moved(double last, double p) {
    return (p == 0) != (last == 0) || Math.abs(p - last) >= 0.01;
  }

  /**
   * Reports the host's probability if it moved since the last report, unless another thread
   * is reporting it: that thread then reports this move too, as it looks once more after
   * letting go. The probability is read again while reporting, so one host's reports come one
   * at a time and in order, and the last carries the probability in place: reports made
   * straight from each thread's own reading could cross, and a gauge would keep the older one
   * (as the adaptive in-flight limit's reports once did). The check before is the only cost to
   * an attempt that finds no move.
   *
   * <p>A thread makes at most {@link #MAX_REPORTS_IN_A_ROW} passes, then goes on with its own
   * attempt. Without that, the look after letting go, which reads the counts every answer moves
   * (an answer reports nothing itself), could keep one thread reporting for as long as answers
   * keep coming, its own attempt held meanwhile. What it leaves is a move with the flag free,
   * the state any answer leaves: the host's next attempt finds it at its check before and
   * reports it, as it reports every answer's move (and one no attempt follows is reported by
   * none, here as there).
   */
  private void report(Host host, CallContext ctx, double p) {
    if (!moved(Double.longBitsToDouble(host.reported.get()), p)) {
      return;
    }
    for (int pass = 1; host.reporting.compareAndSet(false, true); pass++) {
      double now;
      try {
        // Read while holding the flag: a reading from before another thread's report would be
        // older than what it reported.
        AcceptWindow.Counts c = host.window.counts();
        now = probability(c.requests(), c.accepts(), k);
        double last = Double.longBitsToDouble(host.reported.get());
        if (moved(last, now)) {
          // Moved on before the listener runs: one that throws an Error is not told twice.
          host.reported.set(Double.doubleToLongBits(now));
          tell(ctx.host(), host, ctx, now, c);
        }
      } finally {
        host.reporting.set(false);
      }
      if (pass == MAX_REPORTS_IN_A_ROW) {
        return; // enough: a move left now is the next attempt's, as above
      }
      // A move found while this thread held the flag was left to it.
      AcceptWindow.Counts c = host.window.counts();
      if (!moved(Double.longBitsToDouble(host.reported.get()),
          probability(c.requests(), c.accepts(), k))) {
        return;
      }
    }
  }

  /**
   * Reports {@code p} for {@code host} (its reporting flag held): to the listener, and at DEBUG
   * when it moved by 0.1 or more, or to or from 0, since the last line logged (not since the
   * last report: once the window holds a few dozen requests, each answer moves it by a few
   * hundredths, and a climb from 0.1 to 0.8 would log no line).
   */
  private void tell(
      String key, Host host, CallContext ctx, double p, AcceptWindow.Counts counts) {
    double logged = host.logged;
    if ((p == 0) != (logged == 0) || Math.abs(p - logged) >= 0.1) {
      host.logged = p;
      LOG.debug("client-side throttle for {}: rejection probability {} -> {} ({} accepted of {})",
          key, format(logged), format(p), counts.accepts(), counts.requests());
    }
    if (ctx instanceof RealCallContext real) {
      // The listener may take any time, before the attempt: the policies further in (the
      // adaptive limit's latency sample, the rate limit, the deadline) read the clock afresh.
      real.staleClock();
      try {
        real.listener().throttleProbability(key, p, counts.requests(), counts.accepts());
      } catch (RuntimeException e) {
        LOG.warn("CallListener.throttleProbability threw; ignored", e);
      }
    }
  }

  private Host host(String key, CallContext ctx) {
    Host h = hosts.get(key);
    if (h != null) {
      return h;
    }
    if (hosts.size() >= MAX_IDLE_HOSTS) {
      dropIdle(ctx);
    }
    return hosts.computeIfAbsent(key, x -> new Host(new AcceptWindow(
        windowNanos, BUCKETS, clock::nanoTime)));
  }

  /**
   * Counts an attempt of {@code key}'s in {@code host}. If {@link #dropIdle} dropped the host
   * while the attempt was in flight (its window held nothing yet), the host goes back into the
   * table, or the count also goes to the host that took its place: an attempt's answer is never
   * lost with its host. The drop marks the host before it checks the window a second time, and
   * this reads the mark after counting: one of the two sees the other. A host found still
   * mapped is kept for good: the drop checks and removes in one step under the table's lock for
   * the key, and this looks under that lock too ({@code compute}, not {@code putIfAbsent}, which
   * reads a mapped key without the lock and so could look in the middle of the drop's step), so
   * the drop either removed the host before this looked (and this puts it back) or saw this
   * count and kept it.
   */
  private void record(String key, Host host, boolean accepted) {
    host.window.record(accepted);
    if (host.dropped) {
      Host now = hosts.compute(key, (k, v) -> v == null ? host : v);
      if (now == host) {
        host.dropped = false;
      } else {
        now.window.record(accepted);
      }
    }
  }

  /**
   * Drops the hosts with an empty window, which have nothing to remember, at most once a bucket
   * (a window empties only as a bucket leaves it): a table full of busy hosts is not looked over
   * again for each new one. A host whose attempt is in flight may go; {@link #record} puts it
   * back when its answer comes. A host last reported above 0 has its 0 reported first, to
   * {@code ctx}'s listener, while it is still in the table (see {@link #reportIdle}).
   */
  private void dropIdle(CallContext ctx) {
    long now = clock.nanoTime();
    long next = nextSweep.get();
    if (now - next < 0 || !nextSweep.compareAndSet(next, now + bucketNanos)) {
      return;
    }
    for (Map.Entry<String, Host> e : hosts.entrySet()) {
      Host h = e.getValue();
      if (!h.window.idle()) {
        continue;
      }
      if (h.reported.get() != ZERO_BITS && !reportIdle(e.getKey(), h, ctx)) {
        continue; // an attempt of its own is reporting it: in use, kept
      }
      h.dropped = true;
      // Checked again once marked: an attempt counted before the mark shows here, one counted
      // after it sees the mark (see record). The check and the removal are one step, under the
      // table's lock for the key: a record that finds the host still mapped then comes after a
      // check that saw its count. Checked and then removed apart, a record landing between the
      // two found the host still mapped, took it as kept, and lost its count with it.
      Host after = hosts.computeIfPresent(e.getKey(),
          (k, v) -> v == h && v.window.idle() ? null : v);
      if (after == h) {
        h.dropped = false; // counted meanwhile: kept
      }
    }
  }

  private static final long ZERO_BITS = Double.doubleToLongBits(0);

  /**
   * Reports the probability of {@code h}, an idle host about to be dropped: 0, its window being
   * empty. A host kept reports it at its next attempt; one dropped starts over at 0 reported
   * and would report nothing, leaving its last report (and a gauge fed by it) above 0 for
   * good. Made while the host is in the table, so a fresh state for its key, made once it has
   * gone, reports after this. False, and nothing reported, when another thread is reporting the
   * host (an attempt of its own).
   */
  private boolean reportIdle(String key, Host h, CallContext ctx) {
    if (!h.reporting.compareAndSet(false, true)) {
      return false;
    }
    try {
      AcceptWindow.Counts c = h.window.counts();
      double now = probability(c.requests(), c.accepts(), k);
      if (moved(Double.longBitsToDouble(h.reported.get()), now)) {
        h.reported.set(Double.doubleToLongBits(now));
        tell(key, h, ctx, now, c);
      }
    } finally {
      h.reporting.set(false);
    }
    return true;
  }

  /** How many hosts the table holds (for tests). */
  int hostCount() {
    return hosts.size();
  }

  /** The attempts and accepts counted for {@code host} now (for tests). */
  AcceptWindow.Counts counts(String host) {
    Host h = hosts.get(host);
    return h == null ? new AcceptWindow.Counts(0, 0) : h.window.counts();
  }

  /** The rejection probability for {@code host} now (for diagnostics and tests). */
  public double probability(String host) {
    Host h = hosts.get(host);
    if (h == null) {
      return 0;
    }
    AcceptWindow.Counts c = h.window.counts();
    return probability(c.requests(), c.accepts(), k);
  }

  private static String format(double p) {
    return String.format(Locale.ROOT, "%.2f", p);
  }

  private static String describe(CallContext ctx) {
    return ctx instanceof RealCallContext real ? real.describe() : ctx.method() + " " + ctx.host();
  }

  @Override
  public String toString() {
    return "ClientThrottle[K=" + k + ", window " + windowNanos / 1_000_000_000L + " s per host]";
  }

  /** One answer in this many teaches the fastest answer, after the first ones (a power of 2). */
  static final int LATENCY_SAMPLE = 16;
  /** Answers learnt before the fastest is trusted to call a cut the caller's hurry. */
  static final int MIN_ANSWERS = 4;

  private static final class Host {
    final AcceptWindow window;
    /** The probability last reported, written only by the thread holding {@link #reporting}. */
    final AtomicLong reported = new AtomicLong(Double.doubleToLongBits(0));
    /** Held by the thread reporting this host's probability. */
    final AtomicBoolean reporting = new AtomicBoolean();
    /** The probability last logged at DEBUG (guarded by {@link #reporting}). */
    double logged;
    /** The backend's fastest successful answer seen, in nanoseconds (MAX_VALUE: none yet). */
    final AtomicLong fastestNanos = new AtomicLong(Long.MAX_VALUE);
    /**
     * Latencies learnt, counted up to {@link #LATENCY_SAMPLE} (racy on purpose: a lost count is
     * free): the fastest is trusted from {@link #MIN_ANSWERS} on.
     */
    int learnt;
    /** Set by {@link #dropIdle} as it drops this host: an attempt in flight puts it back. */
    volatile boolean dropped;

    Host(AcceptWindow window) {
      this.window = window;
    }
  }
}
