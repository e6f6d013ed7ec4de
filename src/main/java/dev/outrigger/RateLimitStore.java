package dev.outrigger;

/**
 * Keeps a {@link RateLimit}'s token buckets outside this JVM, so that every client using the
 * same store shares each key's quota: ten replicas of a service then send one quota between them,
 * not ten. The rate-limit step of the chain asks the store instead of its in-memory buckets; the
 * semantics are the same (every bandwidth of the limit, continuous refill, waits in line, server
 * pauses).
 *
 * <p>Outrigger ships {@code dev.outrigger.redis.RedisRateLimitStore}. An implementation must be
 * thread-safe, must bound how long it blocks (it runs on the caller's thread, inside the call's
 * deadline), and decides itself what happens when its backing service is unreachable.
 *
 * <p>Times are {@code long} nanoseconds, as on the chain's hot path; a store never sleeps, it
 * tells the caller how long to wait.
 */
public interface RateLimitStore {

  /** {@link #reserve} result: more permits than the burst were asked, no wait can ever do. */
  long NEVER = Long.MIN_VALUE;

  /**
   * Takes {@code permits} from {@code key}'s bucket, following every bandwidth of
   * {@code limit}: now when they are available, otherwise in line, when the wait for them fits
   * in {@code maxWaitNanos}. A wait that does not fit takes nothing.
   *
   * @param key the bucket's key: the target {@code host:port}, or the limit's custom key
   * @param limit the rate and burst the bucket grants at
   * @param permits how many permits, at least 1
   * @param maxWaitNanos the longest wait the caller accepts (what is left of its deadline)
   * @return when the permits were taken: the nanoseconds to wait before using them, 0 when they
   *     can be used now; otherwise (nothing taken) minus the wait that would have been needed,
   *     or {@link #NEVER} when {@code permits} exceeds the limit's burst
   * @throws RateLimitedException when the store cannot answer and is configured to refuse
   *     rather than fall back, or cannot answer within {@code maxWaitNanos}
   * @throws InterruptedException if the calling thread is interrupted while the store answers
   */
  long reserve(String key, RateLimit limit, int permits, long maxWaitNanos)
      throws InterruptedException;

  /**
   * For a caller that {@link #reserve} told to wait, once it has waited: whether a server pause
   * of {@code key} told meanwhile ({@link #pause}, by this client or another sharing the store)
   * holds its permits still. They are held when the key's latest pause ends after they came due:
   * the caller waits until it ends, then books again, in line, with {@link #reserve} (so that it
   * neither goes inside the pause nor at once with the permit the pause leaves ready), as a
   * waiter of an in-memory bucket caught by a pause does. A pause that ended before they came
   * due holds nothing. The chain's rate-limit step asks this only after a wait, never on the
   * fast path.
   *
   * <p>By default nothing is held, for stores that cannot tell: the caller uses its permits when
   * its wait ends, even inside a pause told while it waited.
   *
   * @param key the bucket's key, as given to {@link #reserve}
   * @param limit the limit, as given to {@link #reserve}
   * @param lateNanos how long ago the permits came due (the caller's wait ended that long before
   *     it asks; 0 when it asks on time)
   * @param maxWaitNanos the longest the caller accepts to wait for the store's answer (what is
   *     left of its deadline)
   * @return the nanoseconds until the pause holding the permits ends (0 when it has just ended),
   *     after which the caller books again; negative when no pause holds them (use them now),
   *     also when the store cannot tell in time
   * @throws InterruptedException if the calling thread is interrupted while the store answers
   */
  default long heldFor(String key, RateLimit limit, long lateNanos, long maxWaitNanos)
      throws InterruptedException {
    return -1;
  }

  /**
   * For a caller that {@link #reserve} told to wait {@code waitNanos} and that will not use its
   * permits (the wait no longer fits what the store's answer left of its deadline, or was cut
   * short by an interrupt): gives them back when nothing was reserved after them, as an
   * in-memory bucket gives back such a reservation; best effort. The chain's rate-limit step
   * calls this on the thread that reserved, before it reserves again, and does not wait for it:
   * a store must not block here.
   *
   * <p>By default nothing is given back: the permits stay booked, unused, which makes the limit
   * stricter, never looser.
   *
   * @param key the bucket's key, as given to {@link #reserve}
   * @param limit the limit, as given to {@link #reserve}
   * @param permits how many permits were reserved
   * @param waitNanos the wait {@link #reserve} answered
   */
  default void giveBack(String key, RateLimit limit, int permits, long waitNanos) {}

  /**
   * The server asked {@code key} to slow down ({@code Retry-After}, a quota reset): grant
   * nothing for {@code pauseNanos} (already cut to {@link RateLimit#maxPause()}), then start
   * again with one permit. Overlapping pauses do not add up; only a later end moves anything.
   * A store that answers {@link #heldFor} leaves the permits already reserved at their times:
   * a caller they were due to before the pause ends is held and books again after it, so
   * moving its first booking back as well would charge it twice.
   *
   * @return how much the pause grew, in nanoseconds (0 when an earlier pause already covered it)
   */
  long pause(String key, RateLimit limit, long pauseNanos);

  /**
   * {@link #pause(String, RateLimit, long)} for a call with {@code maxWaitNanos} left of its
   * deadline: a store that asks a backing service must not hold the call longer than that. The
   * chain's rate-limit step calls this one. By default it ignores {@code maxWaitNanos} and calls
   * {@link #pause(String, RateLimit, long)}, for stores that never block.
   *
   * @param maxWaitNanos the longest the caller accepts to wait for the store (what is left of
   *     its deadline)
   * @return how much the pause grew, in nanoseconds (0 when an earlier pause already covered it,
   *     or when that is not known in time)
   */
  default long pause(String key, RateLimit limit, long pauseNanos, long maxWaitNanos) {
    return pause(key, limit, pauseNanos);
  }
}
