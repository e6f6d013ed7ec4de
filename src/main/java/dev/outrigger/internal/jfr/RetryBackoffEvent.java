package dev.outrigger.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/** The retry policy is about to sleep {@code delay} before the next attempt. */
@Name("dev.outrigger.RetryBackoff")
@Label("Outrigger Retry Backoff")
@Category({"Outrigger", "Resilience"})
@Description("A retry was scheduled; the event is recorded when the backoff sleep begins")
@Enabled(true)
@StackTrace(false)
public final class RetryBackoffEvent extends Event {
  @Label("Host")
  String host;

  @Label("Method")
  String method;

  @Label("Failed Attempt")
  @Description("The attempt that failed and will be retried")
  int attempt;

  @Label("Delay")
  @Timespan(Timespan.NANOSECONDS)
  long delay;

  @Label("Reason")
  String reason;
}
