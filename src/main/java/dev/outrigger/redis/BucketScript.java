package dev.outrigger.redis;

import dev.outrigger.RateLimit;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The Lua script that is the shared bucket: one atomic step per call, on Redis's own clock.
 *
 * <h2>Algorithm</h2>
 *
 * <p>The same GCRA token bucket as the in-memory limiter: each bandwidth {@code i} keeps one
 * number, its theoretical arrival time {@code tat[i]} (when the bucket will be full again). With
 * {@code I} the interval between two permits and {@code tau = I * burst}, the bucket holds
 * {@code (tau - max(0, tat - now)) / I} permits. Taking {@code n} permits sets
 * {@code tat = max(tat, now) + n * I}; when not enough are stored, the caller reserves them in
 * line and waits {@code max(tat, now) + n * I - tau - now} (the slowest bandwidth decides), unless
 * that is longer than it accepts, in which case nothing changes. A missing key is a full bucket,
 * so keys expire when their bucket has refilled.
 *
 * <p>{@code now} is Redis's {@code TIME} (microseconds) read inside the script, so every JVM
 * shares one clock and no JVM's clock skew matters. {@code TIME} is the server's wall clock, so
 * the bucket keeps the {@code now} of its last call ({@code n}): when the clock has gone back
 * since (a step, a failover to a host whose clock is behind), the stored times move back by as
 * much, and the bucket carries on as it was instead of looking used up for the length of the
 * step. A step forward of {@code S} cannot be told from {@code S} of idle time and is not
 * corrected: each bandwidth's bucket gains up to {@code min(burst, S / I)} permits at once (never
 * past full), a pause ends up to {@code S} early, and Redis's own expiry, on the same clock, may
 * drop the key early, which reads as a full bucket and stays within the same bound. Times are
 * microseconds held in Lua doubles (exact to 2^53, centuries of epoch microseconds), with
 * fractions.
 *
 * <p>Pre-fetching: a caller may ask for up to {@code want >= n} permits when they are available
 * now; it gets {@code min(want, stored)} and keeps the extra ones locally. Waits are never
 * pre-fetched.
 *
 * <p>Pause ({@code op = 'p'}): the server asked to slow down until {@code until = now + pause}:
 * each {@code tat} moves to {@code max(tat, until + tau - I)}, so nothing is granted before
 * {@code until} and one permit is stored then (unless callers already in line are due after it).
 * Their bookings keep their times, unlike the in-memory limiter's, which pushes its waiters back
 * with the pause: a caller here cannot see its booking move, so one due before {@code until} is
 * held by the pause and books again after it ({@code op = 'h'}). Its first booking lapses inside
 * the pause; pushed back, it would stay in line ahead of the second, each held caller charged
 * twice. {@code taken} is how much the pause grew.
 *
 * <p>Give back ({@code op = 'g'}): a caller that booked {@code n} permits in line and will not
 * use them (its deadline no longer fits the wait once the answer reached it, or it was cut short)
 * hands back the times its booking wrote, which a waiting {@code r} returns as a fourth element
 * ({@code token}: each {@code tat}, then {@code p}, as stored, joined by commas). Only while the
 * key still holds exactly those (nothing booked, paused or expired since, by any client) does
 * each {@code tat} move back by {@code n * I}: where the booking found it or later (a bandwidth
 * that was not the slowest may keep part of the wait), so giving back never makes the bucket
 * looser than before the booking. {@code taken} is {@code n} when given back, else 0.
 *
 * <p>Held ({@code op = 'h'}), read only: whether the key's latest pause ends after a waiter's
 * permits came due ({@code late} ago), as a pause told while it waited does (see
 * {@link dev.outrigger.RateLimitStore#heldFor}); a missing key holds nothing. The key outlives
 * its latest time (a pause's end included) by a second, so a waiter that finds it gone after its
 * own booking wrote it woke over a second late, after any pause told since has ended and its
 * bucket has refilled: it goes, as a waiter late with no pause does. Its permits were granted at
 * their time, which is what the limit bounds; only its thread's lateness puts its call beside
 * the bucket's next burst, as for any waiter whose thread wakes late.
 *
 * <p>The script also registers the caller in a sorted set of clients seen in the last 10 s when
 * asked (at most once a second per client and key), and returns their number: the fallback's
 * share of the quota when Redis becomes unreachable.
 *
 * <p>Layout: {@code KEYS = [bucket, clients]}; {@code ARGV = [op, a, b, c, clientId, I1, burst1,
 * I2, burst2, ...]} with, for {@code r}: {@code a = n}, {@code b = want}, {@code c = max wait};
 * for {@code p}: {@code a = pause}; for {@code h}: {@code a = late}; for {@code g}:
 * {@code a = n}, {@code b = token}. Returns {@code [taken, wait, clients]} (an {@code r} that
 * books in line: {@code [taken, wait, clients, token]}): {@code taken = 0} means refused and
 * {@code wait} is then the wait that would have been needed; for a pause, {@code taken} is how
 * much it grew; for {@code h}, {@code taken} is 1 when held and {@code wait} how long the pause
 * still lasts. Times in whole microseconds, rounded up.
 */
final class BucketScript {
  static final String SOURCE = """
      if redis.replicate_commands then pcall(redis.replicate_commands) end
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
      local op = ARGV[1]
      local k = (#ARGV - 5) / 2
      local iv, tau, fields = {}, {}, {}
      for i = 1, k do
        iv[i] = tonumber(ARGV[4 + 2 * i])
        tau[i] = iv[i] * tonumber(ARGV[5 + 2 * i])
        fields[i] = tostring(i)
      end
      fields[k + 1] = 'p'
      fields[k + 2] = 'n'
      local stored = redis.call('HMGET', KEYS[1], unpack(fields))
      -- TIME is the server's wall clock: if it went back since the last call (a step, a
      -- failover to a host whose clock is behind), move the stored times back with it.
      local back = 0
      local last = tonumber(stored[k + 2])
      if last and last > now then back = last - now end
      local tat = {}
      for i = 1, k do
        local v = tonumber(stored[i])
        tat[i] = v and (v - back) or now
      end
      local p0 = tonumber(stored[k + 1])
      local paused = p0 and (p0 - back) or now
      if op == 'h' then
        if p0 and paused > now - tonumber(ARGV[2]) then
          return {1, math.ceil(math.max(0, paused - now)), -1}
        end
        return {0, 0, -1}
      end
      local clients = -1
      if ARGV[5] ~= '' then
        redis.call('ZADD', KEYS[2], now, ARGV[5])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 10000000)
        redis.call('PEXPIRE', KEYS[2], 20000)
        clients = redis.call('ZCARD', KEYS[2])
      end
      local result, wait
      if op == 'r' then
        local n = tonumber(ARGV[2])
        local want = tonumber(ARGV[3])
        local avail = math.huge
        for i = 1, k do
          local a = math.floor((tau[i] - math.max(0, tat[i] - now)) / iv[i])
          if a < avail then avail = a end
        end
        if avail >= n then
          result = math.min(want, avail)
          wait = 0
          for i = 1, k do tat[i] = math.max(tat[i], now) + result * iv[i] end
        else
          local wake = now
          for i = 1, k do
            local w = math.max(tat[i], now) + n * iv[i] - tau[i]
            if w > wake then wake = w end
          end
          wait = wake - now
          if wait > tonumber(ARGV[4]) then
            return {0, math.ceil(wait), clients}
          end
          result = n
          for i = 1, k do tat[i] = math.max(tat[i], wake) + n * iv[i] end
        end
      elseif op == 'g' then
        -- Only while the times and pause stored are the ones the booking wrote: nothing booked
        -- or paused after it.
        local i = 0
        for v in string.gmatch(ARGV[3], '[^,]+') do
          i = i + 1
          if i > k + 1 or stored[i] ~= v then return {0, 0, clients} end
        end
        if i ~= k + 1 then return {0, 0, clients} end
        local n = tonumber(ARGV[2])
        for j = 1, k do tat[j] = tat[j] - n * iv[j] end
        result = n
        wait = 0
      else
        local untilT = now + tonumber(ARGV[2])
        local ext = untilT - math.max(paused, now)
        if ext <= 0 then return {0, 0, clients} end
        for i = 1, k do
          tat[i] = math.max(tat[i], untilT + tau[i] - iv[i])
        end
        paused = untilT
        result = math.ceil(ext)
        wait = 0
      end
      local args, last, written = {}, paused, {}
      for i = 1, k do
        written[i] = string.format('%.17g', tat[i])
        args[#args + 1] = tostring(i)
        args[#args + 1] = written[i]
        if tat[i] > last then last = tat[i] end
      end
      written[k + 1] = string.format('%.17g', paused)
      args[#args + 1] = 'p'
      args[#args + 1] = written[k + 1]
      args[#args + 1] = 'n'
      args[#args + 1] = string.format('%.17g', now)
      redis.call('HSET', KEYS[1], unpack(args))
      redis.call('PEXPIRE', KEYS[1], math.ceil((last - now) / 1000) + 1000)
      if op == 'r' and wait > 0 then
        return {result, math.ceil(wait), clients, table.concat(written, ',')}
      end
      return {result, math.ceil(wait), clients}
      """;

  static final String SHA1 = sha1(SOURCE);

  private BucketScript() {}

  /** The bandwidth arguments: interval in microseconds and burst, per bandwidth. */
  static String[] bands(RateLimit limit) {
    List<RateLimit> bands = limit.bandwidths();
    String[] out = new String[bands.size() * 2];
    for (int i = 0; i < bands.size(); i++) {
      RateLimit b = bands.get(i);
      double intervalMicros = b.period().toNanos() / 1000.0 / b.permits();
      out[2 * i] = Double.toString(intervalMicros);
      out[2 * i + 1] = Integer.toString(b.burst());
    }
    return out;
  }

  private static String sha1(String s) {
    try {
      return HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-1").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is required of every JVM", e);
    }
  }
}
