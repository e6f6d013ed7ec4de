/**
 * The optional Micrometer binding: {@link dev.outrigger.micrometer.OutriggerMetrics}, a
 * {@link dev.outrigger.CallListener} that publishes calls, attempts, retries, rate-limit waits and
 * breaker states to a Micrometer {@code MeterRegistry}. Micrometer is an optional dependency of
 * Outrigger: add {@code io.micrometer:micrometer-core} to use this package; clients that do not
 * use it need no Micrometer on the class path.
 */
package dev.outrigger.micrometer;
