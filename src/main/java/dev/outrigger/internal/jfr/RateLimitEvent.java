package dev.outrigger.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * A call waited for a rate-limit permit (recorded when the wait ended), or was refused because
 * the wait could not fit. The limit's key is not recorded: it may be a credential.
 */
@Name("dev.outrigger.RateLimit")
@Label("Outrigger Rate Limit Wait")
@Category({"Outrigger", "Resilience"})
@Description("A wait for a rate-limit permit, or a refusal")
@Enabled(true)
@StackTrace(false)
public final class RateLimitEvent extends Event {
  @Label("Host")
  String host;

  @Label("Method")
  String method;

  @Label("Wait")
  @Description("How long the call waited, or would have waited when rejected; N/A for a"
      + " rejection with no known wait (the client-side throttle's, more permits than the"
      + " burst)")
  @Timespan(Timespan.NANOSECONDS)
  long wait;

  @Label("Rejected")
  boolean rejected;
}
