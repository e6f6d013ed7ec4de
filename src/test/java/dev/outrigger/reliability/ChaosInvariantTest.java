package dev.outrigger.reliability;

import static org.junit.jupiter.api.Assertions.fail;

import dev.outrigger.AdaptiveLimit;
import dev.outrigger.ApiClient;
import dev.outrigger.ApiException;
import dev.outrigger.ApiRequest;
import dev.outrigger.ApiResponse;
import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import dev.outrigger.FanOut;
import dev.outrigger.Jitter;
import dev.outrigger.RateLimit;
import dev.outrigger.RateLimiter;
import dev.outrigger.Retry;
import dev.outrigger.internal.PolicyChain;
import dev.outrigger.internal.bulkhead.InFlightLimiter;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import okhttp3.ConnectionPool;
import org.junit.jupiter.api.Test;

/**
 * Randomized invariants over a fault-injecting server, opt-in (a soak, not a unit test):
 * {@code mvn test -Dtest=ChaosInvariantTest -Doutrigger.chaos=true}. Each round picks a random
 * client (policies, limits, deadlines) and batch (methods, keys, FanOut modes, closing midway)
 * and checks that every call ends, attempts agree with the listener and the server, no unkeyed
 * POST arrives twice, limits hold, and nothing is left after close. -Dchaos.seed=S replays a
 * run; -Dchaos.rounds=N, -Dchaos.seconds=T. Each round's own seed is printed;
 * -Dchaos.round=R with -Dchaos.seed=S, or -Dchaos.roundSeed=X, replays one round.
 */
@org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "outrigger.chaos", matches = "true")
class ChaosInvariantTest {
  static final long SEED = Long.getLong("chaos.seed", System.nanoTime() & 0xffffffL);
  static final int ROUNDS = Integer.getInteger("chaos.rounds", 20);
  static final long SECONDS = Long.getLong("chaos.seconds", 0);
  static final int ONLY_ROUND = Integer.getInteger("chaos.round", -1);
  static final long SLACK_MS = Long.getLong("chaos.slack", 1000);

  static long mix(long a, long b) {
    long z = a * 0x9E3779B97F4A7C15L + b;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  static long logUniform(SplittableRandom r, long lo, long hi) {
    return Math.round(Math.exp(Math.log(lo) + r.nextDouble() * (Math.log(hi) - Math.log(lo))));
  }

  /** Everything one round chose. */
  static final class Config {
    long seed;
    double faultRate;
    long deadlineMs;
    boolean retry;
    int maxAttempts;
    long initialMs;
    long maxMs;
    Jitter jitter;
    boolean noBudget;
    boolean breaker;
    int window;
    int minCalls;
    double threshold;
    long openMs;
    int halfOpen;
    boolean timeWindow;
    boolean rate;
    double perSecond;
    int burst;
    boolean adaptiveRate;
    boolean adaptiveInFlight;
    int inFlight;
    boolean throttle;
    double k;
    long maxBody;
    long attemptTimeoutMs;
    int calls;
    int maxConcurrency;
    boolean failFast;
    long batchDeadlineMs;
    int mode; // 0 join, 1 close FanOut midway, 2 close client midway
    long midwayMs;
    double pGet;
    double pKeyed;
    double pReqDeadline;
    boolean noHang;
    int hosts;
    int maxBreakers;
    int maxKeys;

    @Override
    public String toString() {
      return "Config{seed=" + seed + ", faultRate=" + String.format("%.2f", faultRate)
          + ", deadlineMs=" + deadlineMs
          + ", retry=" + (retry ? maxAttempts + "x " + initialMs + ".." + maxMs + "ms " + jitter
              + (noBudget ? " noBudget" : "") : "none")
          + ", breaker=" + (breaker ? (timeWindow ? "time" : "count") + " w" + window + " min"
              + minCalls + " th" + String.format("%.2f", threshold) + " open" + openMs + "ms ho"
              + halfOpen : "none")
          + ", rate=" + (rate ? String.format("%.1f", perSecond) + "/s burst " + burst
              + (adaptiveRate ? " adaptive" : "") : "none")
          + ", inFlight=" + (adaptiveInFlight ? "adaptive max " : "static ") + inFlight
          + ", throttle=" + (throttle ? "K" + String.format("%.2f", k) : "off")
          + ", maxBody=" + maxBody + ", attemptTimeoutMs=" + attemptTimeoutMs
          + ", calls=" + calls + ", maxConcurrency=" + maxConcurrency + ", failFast=" + failFast
          + ", hosts=" + hosts + ", maxBreakers=" + maxBreakers + ", maxKeys=" + maxKeys
          + ", batchDeadlineMs=" + batchDeadlineMs + ", mode=" + mode + ", midwayMs=" + midwayMs
          + "}";
    }
  }

  static Config config(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    Config c = new Config();
    c.seed = seed;
    c.faultRate = r.nextDouble() * 0.7;
    c.deadlineMs = logUniform(r, 20, 2000);
    c.retry = r.nextInt(4) != 0;
    c.maxAttempts = 2 + r.nextInt(4);
    c.initialMs = 1 + r.nextInt(5);
    c.maxMs = c.initialMs + r.nextInt(20);
    c.jitter = Jitter.values()[r.nextInt(Jitter.values().length)];
    c.noBudget = r.nextBoolean();
    c.breaker = r.nextInt(3) != 0;
    c.window = 5 + r.nextInt(16);
    c.minCalls = 2 + r.nextInt(Math.min(9, c.window - 1));
    c.threshold = 0.3 + r.nextDouble() * 0.5;
    c.openMs = 20 + r.nextInt(280);
    c.halfOpen = 1 + r.nextInt(3);
    c.timeWindow = r.nextInt(4) == 0;
    c.rate = r.nextBoolean();
    c.perSecond = logUniform(r, 50, 3000);
    c.burst = 1 + r.nextInt(50);
    c.adaptiveRate = r.nextInt(4) == 0;
    c.adaptiveInFlight = r.nextBoolean();
    c.inFlight = 1 + r.nextInt(8);
    c.throttle = r.nextInt(3) == 0;
    c.k = 1.0 + r.nextDouble() * 2;
    c.maxBody = r.nextInt(4) == 0 ? 512 + r.nextInt(8192) : 16L << 20;
    c.attemptTimeoutMs = r.nextInt(4) == 0 ? Math.max(5, r.nextLong(c.deadlineMs + 1)) : 0;
    c.calls = 50 + r.nextInt(451);
    c.maxConcurrency = r.nextBoolean() ? 0 : 1 + r.nextInt(64);
    c.failFast = r.nextInt(5) == 0;
    c.batchDeadlineMs = r.nextInt(5) == 0 ? logUniform(r, 50, 3000) : 0;
    c.mode = r.nextInt(5) == 0 ? 1 : r.nextInt(6) == 0 ? 2 : 0;
    c.midwayMs = r.nextInt(500);
    c.pGet = 0.3 + r.nextDouble() * 0.6;
    c.pKeyed = r.nextDouble();
    c.pReqDeadline = r.nextDouble() * 0.5;
    c.noHang = r.nextBoolean();
    c.hosts = r.nextInt(3) == 0 ? 1 + r.nextInt(120) : 1;
    c.maxBreakers = c.hosts > 1 && r.nextBoolean() ? 1 + r.nextInt(20) : 1000;
    c.maxKeys = c.hosts > 1 && r.nextBoolean() ? 1 + r.nextInt(20) : 10_000;
    if (Boolean.getBoolean("chaos.multi") && c.hosts == 1) {
      c.hosts = 2 + r.nextInt(119);
    }
    return c;
  }

  /** The server's answer to the n-th arrival of one call: deterministic in (seed, call, n). */
  static ChaosServer.Action action(Config c, String call, int n) {
    SplittableRandom r = new SplittableRandom(mix(c.seed, mix(call == null ? -1 : call.hashCode(), n)));
    if (r.nextDouble() >= c.faultRate) {
      return new ChaosServer.Reply(200, Map.of(), 2 + r.nextInt(200), 0, false);
    }
    int kind = r.nextInt(c.noHang ? 11 : 12);
    return switch (kind) {
      case 0 -> new ChaosServer.Reply(503, Map.of(), 20, 0, false);
      case 1 -> new ChaosServer.Reply(503, Map.of("Retry-After", "0"), 20, 0, false);
      case 2 -> new ChaosServer.Reply(429, Map.of("Retry-After", r.nextBoolean() ? "0" : "1"), 20,
          0, false);
      case 3 -> new ChaosServer.Reply(500, Map.of(), 20, 0, false);
      case 4 -> new ChaosServer.Reply(200, Map.of(), 50, 10 + r.nextInt(300), false);
      case 5 -> new ChaosServer.Reset();
      case 6 -> new ChaosServer.Truncate(100, 10);
      case 7 -> new ChaosServer.Reply(200, Map.of(), 10_000 + r.nextInt(200_000), 0, false);
      case 8 -> new ChaosServer.Reply(503, Map.of(), 10_000 + r.nextInt(100_000), 0, false);
      case 9 -> new ChaosServer.Drip(10, 5 + r.nextInt(40));
      case 10 -> new ChaosServer.Reply(200, Map.of(), 30, 0, true);
      default -> new ChaosServer.Hang();
    };
  }

  static final AtomicInteger INFO = new AtomicInteger();
  static final AtomicLong OVERRUN = new AtomicLong(Long.MIN_VALUE);

  static String actions(Config c, int call, int k) {
    StringBuilder sb = new StringBuilder();
    for (int j = 0; j < k; j++) {
      sb.append(action(c, String.valueOf(call), j)).append("; ");
    }
    return sb.toString();
  }

  static InFlightLimiter inFlightLimiter(ApiClient client) throws Exception {
    Field f = ApiClient.class.getDeclaredField("chain");
    f.setAccessible(true);
    PolicyChain chain = (PolicyChain) f.get(client);
    return (InFlightLimiter) chain.interceptors().stream()
        .filter(i -> i instanceof InFlightLimiter).findFirst().orElseThrow();
  }

  static List<Thread> outriggerThreads() {
    List<Thread> l = new ArrayList<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.isAlive() && t.getName().startsWith("outrigger-")) {
        l.add(t);
      }
    }
    return l;
  }

  static String dumpThreads() {
    StringBuilder sb = new StringBuilder();
    Thread.getAllStackTraces().forEach((t, st) -> {
      sb.append('"').append(t.getName()).append("\" ").append(t.getState()).append('\n');
      for (StackTraceElement e : st) {
        sb.append("    at ").append(e).append('\n');
      }
    });
    // virtual threads are not in getAllStackTraces: jcmd Thread.dump_to_file would be needed
    return sb.toString();
  }

  @Test
  void randomRoundsKeepInvariants() throws Throwable {
    System.out.println("chaos base seed " + SEED);
    long end = SECONDS > 0 ? System.nanoTime() + SECONDS * 1_000_000_000L : Long.MAX_VALUE;
    List<String> failures = new ArrayList<>();
    for (int round = 0; SECONDS > 0 ? System.nanoTime() < end : round < ROUNDS; round++) {
      if (ONLY_ROUND >= 0 && round != ONLY_ROUND) {
        continue;
      }
      long seed = Long.getLong("chaos.roundSeed") != null ? Long.getLong("chaos.roundSeed")
          : mix(SEED, round);
      Config c = config(seed);
      try {
        runRound(c);
      } catch (Throwable t) {
        String msg = "round " + round + " seed " + seed + " " + c + ":\n  " + t;
        System.out.println("FAILED " + msg);
        t.printStackTrace(System.out);
        failures.add(msg);
        if (failures.size() >= Integer.getInteger("chaos.maxFailures", 5)) {
          break;
        }
      }
      if (ONLY_ROUND >= 0) {
        break;
      }
    }
    if (!failures.isEmpty()) {
      fail(failures.size() + " rounds failed:\n" + String.join("\n", failures));
    }
  }

  static final class Rec {
    final AtomicIntegerArray callStarts;
    final AtomicIntegerArray callEnds;
    final AtomicIntegerArray attemptStarts;
    final AtomicIntegerArray attemptEnds;
    final AtomicIntegerArray written;
    final AtomicIntegerArray openAttempts;
    final List<String> problems = new CopyOnWriteArrayList<>();
    final Map<Integer, StringBuilder> trace = new ConcurrentHashMap<>();
    long t0 = System.nanoTime();

    void trace(int i, String what) {
      StringBuilder sb = trace.computeIfAbsent(i, x -> new StringBuilder());
      synchronized (sb) {
        sb.append(' ').append(what).append('@').append((System.nanoTime() - t0) / 1_000_000);
      }
    }

    Rec(int n) {
      callStarts = new AtomicIntegerArray(n);
      callEnds = new AtomicIntegerArray(n);
      attemptStarts = new AtomicIntegerArray(n);
      attemptEnds = new AtomicIntegerArray(n);
      written = new AtomicIntegerArray(n);
      openAttempts = new AtomicIntegerArray(n);
    }
  }

  static int idx(CallContext call) {
    Object o = call.attribute("i");
    return o == null ? -1 : (Integer) o;
  }

  static void runRound(Config c) throws Exception {
    int n = c.calls;
    Rec rec = new Rec(n);
    AtomicInteger openNow = new AtomicInteger();
    Map<String, AtomicInteger> hostOpen = new ConcurrentHashMap<>();
    AtomicInteger openMax = new AtomicInteger();
    java.util.concurrent.ConcurrentLinkedQueue<Long> attemptTimes = new java.util.concurrent.ConcurrentLinkedQueue<>();
    java.util.concurrent.atomic.AtomicBoolean closeReturned = new java.util.concurrent.atomic.AtomicBoolean();
    CallListener listener = new CallListener() {
      @Override
      public void inFlightWaited(CallContext call, Duration waited) {
        int i = idx(call);
        if (i >= 0) {
          rec.trace(i, "slotWait" + waited.toMillis());
        }
      }

      @Override
      public void rateLimitWaited(CallContext call, String key, Duration waited) {
        int i = idx(call);
        if (i >= 0) {
          rec.trace(i, "rlWait" + waited.toMillis());
        }
      }

      @Override
      public void retryScheduled(CallContext call, Duration delay, String reason) {
        int i = idx(call);
        if (i >= 0) {
          rec.trace(i, "retry" + delay.toMillis() + "(" + reason + ")");
        }
      }

      @Override
      public void adaptiveLimitChanged(String host, int from, int to) {
        if (to < 1 || to > c.inFlight) {
          rec.problems.add("adaptive limit moved " + from + " -> " + to + " outside [1, "
              + c.inFlight + "]");
        }
      }

      @Override
      public void callStart(CallContext call) {
        int i = idx(call);
        if (i >= 0) {
          rec.trace(i, "cStart");
        }
        if (i >= 0 && rec.callStarts.incrementAndGet(i) > 1) {
          rec.problems.add("call " + i + " callStart twice");
        }
      }

      @Override
      public void callEnd(CallContext call, int status, Throwable error, Duration elapsed) {
        int i = idx(call);
        if (i < 0) {
          return;
        }
        rec.trace(i, "cEnd");
        if (rec.callEnds.incrementAndGet(i) > 1) {
          rec.problems.add("call " + i + " callEnd twice");
        }
        if (rec.openAttempts.get(i) != 0) {
          rec.problems.add("call " + i + " callEnd with " + rec.openAttempts.get(i)
              + " attempts open");
        }
      }

      @Override
      public void attemptStart(CallContext call) {
        int i = idx(call);
        if (i < 0) {
          return;
        }
        rec.attemptStarts.incrementAndGet(i);
        rec.trace(i, "aStart");
        attemptTimes.add(System.nanoTime());
        if (closeReturned.get()) {
          rec.problems.add("call " + i + " attempt " + call.attempt() + " started after close()");
        }
        int perHost = hostOpen.computeIfAbsent(call.host(), x -> new AtomicInteger()).incrementAndGet();
        if (perHost > c.inFlight) {
          rec.problems.add(perHost + " attempts in flight to " + call.host() + ", limit " + c.inFlight);
        }
        int now = openNow.incrementAndGet();
        openMax.accumulateAndGet(now, Math::max);
        if (rec.openAttempts.incrementAndGet(i) > 1) {
          rec.problems.add("call " + i + " two attempts open at once");
        }
      }

      @Override
      public void attemptEnd(CallContext call, int status, Throwable error, Duration elapsed) {
        int i = idx(call);
        if (i < 0) {
          return;
        }
        rec.attemptEnds.incrementAndGet(i);
        rec.trace(i, "aEnd(" + status + "," + (error == null ? "" : error.getClass().getSimpleName()) + ")");
        openNow.decrementAndGet();
        hostOpen.get(call.host()).decrementAndGet();
        if (call.requestWritten()) {
          rec.written.incrementAndGet(i);
        }
        if (rec.openAttempts.decrementAndGet(i) < 0) {
          rec.problems.add("call " + i + " attemptEnd without attemptStart");
        }
      }
    };

    Map<String, AtomicInteger> arrivals = new ConcurrentHashMap<>();
    Map<String, AtomicInteger> unkeyedPosts = new ConcurrentHashMap<>();
    try (ChaosServer server = new ChaosServer(req -> {
      String id = req.header("X-Call");
      int k = arrivals.computeIfAbsent(String.valueOf(id), x -> new AtomicInteger())
          .getAndIncrement();
      if (req.method().equals("POST") && req.header("Idempotency-Key") == null) {
        unkeyedPosts.computeIfAbsent(String.valueOf(id), x -> new AtomicInteger())
            .incrementAndGet();
      }
      return action(c, id, k);
    })) {
      ApiClient.Builder b = ApiClient.builder().baseUrl(server.url("/api"))
          .deadline(Duration.ofMillis(c.deadlineMs)).maxResponseBytes(c.maxBody)
          .addListener(listener);
      if (c.attemptTimeoutMs > 0) {
        b.attemptTimeout(Duration.ofMillis(c.attemptTimeoutMs));
      }
      if (c.retry) {
        Retry rt = Retry.exponential(Duration.ofMillis(c.initialMs), Duration.ofMillis(c.maxMs))
            .maxAttempts(c.maxAttempts).jitter(c.jitter).random(new java.util.Random(c.seed));
        b.retry(c.noBudget ? rt.noBudget() : rt);
      } else {
        b.retry(Retry.none());
      }
      if (c.breaker) {
        CircuitBreaker.Builder cb = CircuitBreaker.builder()
            .slidingWindowSize(c.window).minimumNumberOfCalls(c.minCalls)
            .failureRateThreshold(c.threshold).waitInOpenState(Duration.ofMillis(c.openMs))
            .permittedCallsInHalfOpen(c.halfOpen).maxBreakers(c.maxBreakers);
        if (c.timeWindow) {
          cb.slidingWindowType(CircuitBreaker.WindowType.TIME_BASED).slidingWindowSize(2);
        }
        b.circuitBreaker(cb.build());
      } else {
        b.circuitBreaker(CircuitBreaker.none());
      }
      if (c.rate) {
        RateLimit rl = RateLimit.perSecond(c.perSecond).burst(c.burst)
            .maxPause(Duration.ofSeconds(1)).maxKeys(c.maxKeys);
        b.rateLimit(c.adaptiveRate ? rl.adaptive() : rl);
      }
      if (c.adaptiveInFlight) {
        b.adaptiveConcurrency(AdaptiveLimit.vegas().min(1).max(c.inFlight).initial(c.inFlight));
      } else {
        b.maxInFlightPerHost(c.inFlight);
      }
      if (c.throttle) {
        b.clientThrottling(c.k);
      }
      ApiClient client = b.build();
      ConnectionPool pool = client.okHttpClient().connectionPool();
      InFlightLimiter limiter = inFlightLimiter(client);
      String host = server.hostKey();

      long[] startNs = new long[n];
      long[] endNs = new long[n];
      long[] budgetMs = new long[n];
      int[] attempts = new int[n];
      String[] outcome = new String[n];
      boolean[] isUnkeyedPost = new boolean[n];
      SplittableRandom r = new SplittableRandom(mix(c.seed, 7));
      long batchStart = System.nanoTime();
      FanOut.Builder<Object> fb = FanOut.builder();
      if (c.maxConcurrency > 0) {
        fb.maxConcurrency(c.maxConcurrency);
      }
      fb.failFast(c.failFast);
      if (c.batchDeadlineMs > 0) {
        fb.deadline(Duration.ofMillis(c.batchDeadlineMs));
      }
      FanOut<Object> fan = fb.build();
      AtomicInteger tasksNow = new AtomicInteger();
      AtomicInteger tasksMax = new AtomicInteger();
      List<String> interruptedAfter = new CopyOnWriteArrayList<>();
      Thread closer = null;
      AtomicLong clientClosedAt = new AtomicLong(Long.MAX_VALUE);
      if (c.mode == 2) {
        closer = Thread.ofVirtual().start(() -> {
          LockSupport.parkNanos(c.midwayMs * 1_000_000L);
          clientClosedAt.set(System.nanoTime());
          client.close();
          closeReturned.set(true);
        });
      }
      Thread owner = Thread.ofVirtual().start(() -> {
        try {
          for (int j = 0; j < n; j++) {
            final int i = j;
            double p = r.nextDouble();
            int method = p < c.pGet ? 0 : r.nextDouble() < c.pKeyed ? 1 : 2;
            long reqDeadline = r.nextDouble() < c.pReqDeadline ? logUniform(r, 20, 2000) : 0;
            isUnkeyedPost[i] = method == 2;
            int h = r.nextInt(c.hosts);
            String base = "http://127.0.0." + (1 + h) + ":" + server.port() + "/api";
            fan.submit(() -> {
              ApiRequest req;
              try {
                req = switch (method) {
                  case 0 -> client.get(base + "/items/{id}", i);
                  case 1 -> client.post(base + "/orders").json(Map.of("n", i)).idempotencyKey("k" + i);
                  default -> client.post(base + "/orders").json(Map.of("n", i));
                };
              } catch (IllegalStateException e) {
                outcome[i] = "closed-before";
                throw e;
              }
              req.header("X-Call", String.valueOf(i)).attribute("i", i);
              if (reqDeadline > 0) {
                req.deadline(Duration.ofMillis(reqDeadline));
              }
              long own = reqDeadline > 0 ? reqDeadline : c.deadlineMs;
              long s = System.nanoTime();
              if (c.batchDeadlineMs > 0) {
                long left = c.batchDeadlineMs - (s - batchStart) / 1_000_000;
                own = Math.min(own, Math.max(0, left));
              }
              budgetMs[i] = own;
              startNs[i] = s;
              int running = tasksNow.incrementAndGet();
              tasksMax.accumulateAndGet(running, Math::max);
              try {
                ApiResponse<String> resp = req.send(String.class);
                attempts[i] = resp.attempts();
                outcome[i] = "ok";
                return resp.body();
              } catch (ApiException e) {
                attempts[i] = e.attempts();
                outcome[i] = e.getClass().getSimpleName()
                    + (e instanceof dev.outrigger.TransportException te ? "/" + te.kind() : "");
                throw e;
              } catch (IllegalStateException e) {
                outcome[i] = "ISE:" + e.getMessage();
                throw e;
              } catch (RuntimeException | Error e) {
                outcome[i] = "UNEXPECTED " + e;
                throw e;
              } finally {
                endNs[i] = System.nanoTime();
                tasksNow.decrementAndGet();
                if (c.mode == 2 && !c.failFast && c.batchDeadlineMs == 0
                    && Thread.currentThread().isInterrupted()) {
                  interruptedAfter.add(i + " (" + outcome[i] + ")");
                }
              }
            });
          }
          if (c.mode == 1) {
            LockSupport.parkNanos(c.midwayMs * 1_000_000L);
            fan.close();
          }
          try {
            fan.join();
          } catch (RuntimeException e) {
            // fail-fast: the first failure
          }
        } catch (Throwable t) {
          outcome[0] = "OWNER " + t;
        } finally {
          fan.close();
        }
      });
      long roundLimitMs = Math.max(c.deadlineMs, 2000) + 20_000;
      owner.join(roundLimitMs);
      if (owner.isAlive()) {
        StringBuilder pending = new StringBuilder();
        for (int i = 0; i < n; i++) {
          if (startNs[i] != 0 && endNs[i] == 0) {
            pending.append(i).append(' ');
          }
        }
        throw new AssertionError("round did not end within " + roundLimitMs + " ms; calls pending: "
            + pending + "\n" + dumpThreads());
      }
      if (closer != null) {
        closer.join();
      }
      List<String> problems = new ArrayList<>(rec.problems);
      if (outcome[0] != null && outcome[0].startsWith("OWNER")) {
        problems.add(outcome[0]);
      }
      if (!interruptedAfter.isEmpty()) {
        problems.add("caller threads left interrupted after client.close(): " + interruptedAfter);
      }
      if (c.maxConcurrency > 0 && tasksMax.get() > c.maxConcurrency) {
        problems.add("FanOut ran " + tasksMax.get() + " tasks at once, bound "
            + c.maxConcurrency);
      }
      if (c.hosts == 1 && openMax.get() > c.inFlight) {
        problems.add(openMax.get() + " attempts in flight at once, limit " + c.inFlight);
      }
      // Off by default: attemptStart is after the in-flight wait, so permit holders queued for a
      // slot start bunched; this is not a bound on grants.
      if (c.rate && c.hosts == 1 && Boolean.getBoolean("chaos.rateCheck")) {
        Long[] ts = attemptTimes.toArray(new Long[0]);
        java.util.Arrays.sort(ts);
        outer:
        for (int a = 0; a < ts.length; a++) {
          for (int z = a; z < ts.length; z++) {
            double allowed = c.burst + c.perSecond * (ts[z] - ts[a]) / 1e9 + 2 * c.inFlight + 1;
            if (z - a + 1 > allowed) {
              problems.add((z - a + 1) + " attempts within " + (ts[z] - ts[a]) / 1000
                  + " us, rate allows " + allowed);
              break outer;
            }
          }
        }
      }
      long worst = Long.MIN_VALUE;
      for (int i = 0; i < n; i++) {
        if (startNs[i] != 0) {
          long over = (endNs[i] - startNs[i]) / 1_000_000 - budgetMs[i];
          worst = Math.max(worst, over);
          if (over > 50) {
            System.out.println("OVERRUN call " + i + " by " + over + " ms, budget " + budgetMs[i]
                + " started at " + (startNs[i] - rec.t0) / 1_000_000 + " ended " + (endNs[i] - rec.t0) / 1_000_000 + " trace" + rec.trace.get(i) + " ms: " + outcome[i]
                + " attempts " + attempts[i] + " " + c);
          }
        }
      }
      OVERRUN.accumulateAndGet(worst, Math::max);
      for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
        System.out.println("GC " + gc.getName() + " count " + gc.getCollectionCount() + " time "
            + gc.getCollectionTime() + " ms");
      }
      System.out.println("worst overrun " + worst + " ms (max so far " + OVERRUN.get() + ")");
      // Timeliness.
      for (int i = 0; i < n; i++) {
        if (startNs[i] == 0) {
          continue;
        }
        long took = (endNs[i] - startNs[i]) / 1_000_000;
        if (took > budgetMs[i] + SLACK_MS) {
          problems.add("call " + i + " took " + took + " ms for a " + budgetMs[i]
              + " ms budget: " + outcome[i]);
        }
        if (outcome[i] != null && outcome[i].startsWith("UNEXPECTED")) {
          problems.add("call " + i + " " + outcome[i]);
        }
      }
      // Let the server finish counting what was written.
      long settle = System.nanoTime() + 1_000_000_000L;
      long sumAttempts = 0;
      long sumStarts = 0;
      long sumWritten = 0;
      while (true) {
        sumAttempts = 0;
        sumStarts = 0;
        sumWritten = 0;
        for (int i = 0; i < n; i++) {
          sumAttempts += attempts[i];
          sumStarts += rec.attemptStarts.get(i);
          sumWritten += rec.written.get(i);
        }
        if (server.requests.get() >= sumWritten || System.nanoTime() > settle) {
          break;
        }
        LockSupport.parkNanos(20_000_000L);
      }
      long serverRequests = server.requests.get();
      for (int i = 0; i < n; i++) {
        int seen = arrivals.getOrDefault(String.valueOf(i), new AtomicInteger()).get();
        if (startNs[i] != 0) {
          if (rec.callStarts.get(i) != rec.callEnds.get(i)) {
            problems.add("call " + i + " callStart " + rec.callStarts.get(i) + " callEnd "
                + rec.callEnds.get(i) + " (" + outcome[i] + ")");
          }
          if (rec.attemptStarts.get(i) != rec.attemptEnds.get(i)) {
            problems.add("call " + i + " attemptStart " + rec.attemptStarts.get(i)
                + " attemptEnd " + rec.attemptEnds.get(i) + " (" + outcome[i] + ")");
          }
          if (attempts[i] != rec.attemptStarts.get(i) && outcome[i] != null
              && !outcome[i].startsWith("ISE") && !outcome[i].equals("closed-before")) {
            problems.add("call " + i + " attempts() " + attempts[i] + " but attemptStart "
                + rec.attemptStarts.get(i) + " (" + outcome[i] + ")");
          }
          if (seen > rec.written.get(i)) {
            problems.add("call " + i + " server saw " + seen + " but client wrote "
                + rec.written.get(i) + " (" + outcome[i] + ")");
          }
          if (seen != rec.written.get(i) && INFO.incrementAndGet() < 0) {
            System.out.println("INFO call " + i + " server saw " + seen + " written "
                + rec.written.get(i) + " sent " + rec.attemptStarts.get(i) + " (" + outcome[i]
                + ") arrivals' actions: " + actions(c, i, rec.attemptStarts.get(i)));
          }
          if (seen > rec.attemptStarts.get(i)) {
            problems.add("call " + i + " server saw " + seen + " requests, client sent "
                + rec.attemptStarts.get(i) + " attempts() " + attempts[i] + " (" + outcome[i]
                + ")");
          }
        } else if (seen > 0) {
          problems.add("call " + i + " never started but the server saw it " + seen + " times");
        }
        if (isUnkeyedPost[i]) {
          AtomicInteger u = unkeyedPosts.get(String.valueOf(i));
          if (u != null && u.get() > 1) {
            problems.add("unkeyed POST " + i + " received " + u.get() + " times (" + outcome[i]
                + ", attempts " + attempts[i] + ")");
          }
        }
      }
      if (serverRequests > sumWritten) {
        problems.add("server saw " + serverRequests + " requests; client wrote " + sumWritten
            + ", sent " + sumStarts + ", attempts() sum " + sumAttempts);
      }
      // In-flight state back to zero.
      long deadlineIdle = System.nanoTime() + 2_000_000_000L;
      while ((limiter.inFlight(host) != 0 || limiter.waiting(host) != 0)
          && System.nanoTime() < deadlineIdle) {
        LockSupport.parkNanos(10_000_000L);
      }
      for (int h = 0; h < c.hosts; h++) {
        String hk = "127.0.0." + (1 + h) + ":" + server.port();
        if (limiter.inFlight(hk) != 0 || limiter.waiting(hk) != 0) {
          problems.add("host " + hk + " in flight " + limiter.inFlight(hk) + " waiting "
              + limiter.waiting(hk) + " after every call ended");
        }
      }
      // Adaptive: 64 idle hosts at most. Static: a look for idle gates comes only once 64 new
      // hosts were first used since the last, so every host of a round may keep its gate.
      if (limiter.hostsTracked() > (c.adaptiveInFlight ? InFlightLimiter.IDLE_HOSTS_KEPT
          : Math.max(InFlightLimiter.IDLE_HOSTS_KEPT, c.hosts + 1))) {
        problems.add("in-flight limiter tracks " + limiter.hostsTracked() + " idle hosts");
      }
      if (limiter.inFlight(host) != 0 || limiter.waiting(host) != 0) {
        problems.add("in flight " + limiter.inFlight(host) + " waiting " + limiter.waiting(host)
            + " after every call ended");
      }
      if (c.mode != 2) {
        // Rate limit: the bucket refills to its burst within the longest wait it could owe.
        if (c.rate && !c.adaptiveRate && c.hosts == 1) {
          RateLimiter rl = client.rateLimiter().orElseThrow();
          long until = System.nanoTime() + (2000 + 1000 + 1000L * c.burst / (long) c.perSecond
              + 500) * 1_000_000L;
          while (rl.availablePermits(host) < c.burst && System.nanoTime() < until) {
            LockSupport.parkNanos(10_000_000L);
          }
          if (rl.availablePermits(host) < c.burst) {
            problems.add("rate limiter holds " + rl.availablePermits(host) + " of burst "
                + c.burst + " long after the round");
          }
        }
        // Health: once the server is healthy, calls succeed again (no stuck breaker, slot).
        if (!c.throttle) {
          server.script(req -> new ChaosServer.Reply(200, Map.of(), 2, 0, false));
          long until = System.nanoTime() + (c.openMs + 3000) * 1_000_000L;
          int ok = 0;
          String last = null;
          while (ok < 3 && System.nanoTime() < until) {
            try {
              client.get("/health").deadline(Duration.ofSeconds(1)).execute(String.class);
              ok++;
            } catch (ApiException e) {
              last = e.toString();
              ok = 0;
              LockSupport.parkNanos(20_000_000L);
            }
          }
          if (ok < 3) {
            problems.add("client never recovered against a healthy server: " + last
                + " breakers " + client.breakers() + " inflight " + limiter.inFlight(host)
                + "/" + limiter.limit(host));
          }
        }
      }
      client.close();
      long settleClose = System.nanoTime() + 3_000_000_000L;
      while ((pool.connectionCount() != 0 || !outriggerThreads().isEmpty())
          && System.nanoTime() < settleClose) {
        LockSupport.parkNanos(10_000_000L);
      }
      if (pool.connectionCount() != 0) {
        problems.add("pool holds " + pool.connectionCount() + " connections after close");
      }
      if (!outriggerThreads().isEmpty()) {
        problems.add("threads left: " + outriggerThreads());
      }
      if (limiter.inFlight(host) != 0) {
        problems.add("in flight " + limiter.inFlight(host) + " after close");
      }
      Map<String, Integer> summary = new java.util.TreeMap<>();
      for (int i = 0; i < n; i++) {
        summary.merge(String.valueOf(outcome[i]), 1, Integer::sum);
      }
      System.out.println("round seed " + c.seed + " server " + serverRequests + " written "
          + sumWritten + " sent " + sumStarts + " in "
          + (System.nanoTime() - batchStart) / 1_000_000 + " ms " + summary);
      if (!problems.isEmpty()) {
        throw new AssertionError(problems.size() + " problems: "
            + String.join("\n  ", problems.subList(0, Math.min(20, problems.size()))));
      }
    }
  }
}
