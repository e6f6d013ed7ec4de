package dev.outrigger.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/** A call waited for an in-flight slot to its host (recorded when the wait ended). */
@Name("dev.outrigger.InFlightWait")
@Label("Outrigger In-Flight Wait")
@Category({"Outrigger", "Resilience"})
@Description("A wait for an in-flight slot to the host")
@Enabled(true)
@StackTrace(false)
public final class InFlightWaitEvent extends Event {
  @Label("Host")
  String host;

  @Label("Wait")
  @Timespan(Timespan.NANOSECONDS)
  long wait;
}
