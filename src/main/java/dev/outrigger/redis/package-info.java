/**
 * The optional Redis-backed rate-limit store: {@link dev.outrigger.redis.RedisRateLimitStore}, a
 * {@link dev.outrigger.RateLimitStore} that keeps a {@link dev.outrigger.RateLimit}'s token
 * buckets in Redis, so that every client using the same Redis shares each key's quota, across
 * threads, clients and JVMs. Lettuce is an optional dependency of Outrigger: add
 * {@code io.lettuce:lettuce-core} to use this package.
 */
package dev.outrigger.redis;
